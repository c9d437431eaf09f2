import PolicyModel

/// Short-circuit code for a condition over 64-bit arguments, on both 32-bit halves.
struct ConditionEmitter {
    typealias Label = BackwardEmitter.Label
    let emitter: BackwardEmitter
    /// false on 32-bit ABIs: only the low half is compared.
    let wide: Bool

    func emit(_ expr: BoolExpr, ifTrue t: Label, ifFalse f: Label) -> Label {
        switch expr {
        case .and(let parts):
            var next = t
            for part in parts.reversed() { next = emit(part, ifTrue: next, ifFalse: f) }
            return next
        case .or(let parts):
            var next = f
            for part in parts.reversed() { next = emit(part, ifTrue: t, ifFalse: next) }
            return next
        case .not(let inner):
            return emit(inner, ifTrue: f, ifFalse: t)
        case .cmp(let cmp):
            return emitComparison(cmp, ifTrue: t, ifFalse: f)
        }
    }

    private func emitComparison(_ c: ArgCmp, ifTrue t: Label, ifFalse f: Label) -> Label {
        switch c.op {
        case .lt: return emitComparison(ArgCmp(arg: c.arg, mask: c.mask, op: .ge, value: c.value), ifTrue: f, ifFalse: t)
        case .le: return emitComparison(ArgCmp(arg: c.arg, mask: c.mask, op: .gt, value: c.value), ifTrue: f, ifFalse: t)
        case .ne: return emitComparison(ArgCmp(arg: c.arg, mask: c.mask, op: .eq, value: c.value), ifTrue: f, ifFalse: t)
        case .eq, .gt, .ge: break
        }
        let mask = c.mask ?? .max
        let maskHigh = UInt32(truncatingIfNeeded: mask >> 32)
        let valueHigh = UInt32(truncatingIfNeeded: c.value >> 32)
        // A masked high half of 0 compared with a non-zero value is decided now: 0 is smaller.
        if wide, maskHigh == 0, valueHigh != 0 { return f }
        let low = half(c, low: true, mask: UInt32(truncatingIfNeeded: mask), value: UInt32(truncatingIfNeeded: c.value), t, f)
        guard wide, maskHigh != 0 else { return low }
        if c.op == .eq {
            return load(c.arg, high: true, mask: maskHigh, then: emitter.jump(BPFInstruction.Op.jeqK, valueHigh, ifTrue: low, ifFalse: f))
        }
        // High half greater decides true, equal defers to the low half, less decides false.
        let equal = emitter.jump(BPFInstruction.Op.jeqK, valueHigh, ifTrue: low, ifFalse: f)
        let greater = emitter.jump(BPFInstruction.Op.jgtK, valueHigh, ifTrue: t, ifFalse: equal)
        return load(c.arg, high: true, mask: maskHigh, then: greater)
    }

    private func half(_ c: ArgCmp, low: Bool, mask: UInt32, value: UInt32, _ t: Label, _ f: Label) -> Label {
        let code: UInt16
        switch c.op {
        case .gt: code = BPFInstruction.Op.jgtK
        case .ge: code = BPFInstruction.Op.jgeK
        default: code = BPFInstruction.Op.jeqK
        }
        return load(c.arg, high: !low, mask: mask, then: emitter.jump(code, value, ifTrue: t, ifFalse: f))
    }

    /// `ld argN half; [and mask]` in front of `then`.
    private func load(_ arg: Int, high: Bool, mask: UInt32, then _: Label) -> Label {
        if mask != .max { _ = emitter.and(mask) }
        return emitter.load(high ? SeccompData.argHigh(arg) : SeccompData.argLow(arg))
    }
}
