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
            return emitRuns(parts, targets: { _, next in (next, f) }, final: t)
        case .or(let parts):
            return emitRuns(parts, targets: { _, next in (t, next) }, final: f)
        case .not(let inner):
            return emit(inner, ifTrue: f, ifFalse: t)
        case .cmp(let cmp):
            return emitComparison(cmp, ifTrue: t, ifFalse: f)
        }
    }

    /// A comparison of a 32-bit ABI that needs only a jump once its argument is in A.
    func plain(_ e: BoolExpr) -> ArgCmp? {
        guard !wide, case .cmp(let c) = e, c.mask == nil || c.mask == 0xFFFF_FFFF else { return nil }
        return c
    }

    /// Emits parts back to front; `targets` gives a part's (true, false) targets from the code
    /// that follows it. Neighbouring plain comparisons of one argument share a single load:
    /// jumps leave A unchanged, and only the first of them is entered from elsewhere.
    func emitRuns(_ parts: [BoolExpr], targets: (BoolExpr, Label) -> (Label, Label), final: Label) -> Label {
        var next = final
        var i = parts.count - 1
        while i >= 0 {
            var j = i
            if let c = plain(parts[i]) {
                while j > 0, let previous = plain(parts[j - 1]), previous.arg == c.arg { j -= 1 }
            }
            if j < i {
                for k in stride(from: i, through: j, by: -1) {
                    let (t, f) = targets(parts[k], next)
                    next = jumpOnly(plain(parts[k])!, ifTrue: t, ifFalse: f)
                }
                next = emitter.load(SeccompData.argLow(plain(parts[i])!.arg))
            } else {
                let (t, f) = targets(parts[i], next)
                next = emit(parts[i], ifTrue: t, ifFalse: f)
            }
            i = j - 1
        }
        return next
    }

    /// The jump of a 32-bit comparison whose argument is already loaded.
    func jumpOnly(_ c: ArgCmp, ifTrue t: Label, ifFalse f: Label) -> Label {
        let v = UInt32(truncatingIfNeeded: c.value)
        switch c.op {
        case .eq: return emitter.jump(BPFInstruction.Op.jeqK, v, ifTrue: t, ifFalse: f)
        case .ne: return emitter.jump(BPFInstruction.Op.jeqK, v, ifTrue: f, ifFalse: t)
        case .gt: return emitter.jump(BPFInstruction.Op.jgtK, v, ifTrue: t, ifFalse: f)
        case .ge: return emitter.jump(BPFInstruction.Op.jgeK, v, ifTrue: t, ifFalse: f)
        case .lt: return emitter.jump(BPFInstruction.Op.jgeK, v, ifTrue: f, ifFalse: t)
        case .le: return emitter.jump(BPFInstruction.Op.jgtK, v, ifTrue: f, ifFalse: t)
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
