/// Builds a BPF program from its end backwards, so every jump target already exists and its
/// distance is known; targets beyond an 8-bit conditional offset get a trampoline.
final class BackwardEmitter {
    /// Index into `reversed`; stable while emitting.
    typealias Label = Int

    private(set) var reversed: [BPFInstruction] = []
    private var latestReturn: [UInt32: Label] = [:]

    var count: Int { reversed.count }

    var program: [BPFInstruction] { reversed.reversed() }

    /// Distance from an instruction about to be emitted to `label`.
    private func offset(to label: Label) -> Int { count - label - 1 }

    @discardableResult
    private func append(_ insn: BPFInstruction) -> Label {
        reversed.append(insn)
        return count - 1
    }

    /// A `ret` of `value`, shared with an earlier one when that one is near enough.
    func ret(_ value: UInt32) -> Label {
        if let label = latestReturn[value], offset(to: label) <= 200 { return label }
        let label = append(BPFInstruction(code: BPFInstruction.Op.retK, k: value))
        latestReturn[value] = label
        return label
    }

    func load(_ offset: UInt32) -> Label {
        append(BPFInstruction(code: BPFInstruction.Op.ldAbsW, k: offset))
    }

    func and(_ mask: UInt32) -> Label {
        append(BPFInstruction(code: BPFInstruction.Op.andK, k: mask))
    }

    func jump(_ code: UInt16, _ k: UInt32, ifTrue: Label, ifFalse: Label) -> Label {
        var t = ifTrue, f = ifFalse
        // A trampoline for one target moves the other one further: until both are in reach.
        while offset(to: t) > 255 || offset(to: f) > 255 {
            if offset(to: t) > 255 { t = reach(t) } else { f = reach(f) }
        }
        return append(BPFInstruction(code: code, jt: UInt8(offset(to: t)), jf: UInt8(offset(to: f)), k: k))
    }

    /// A near stand-in for a far target: a copy of a `ret`, else an unconditional jump.
    func reach(_ target: Label) -> Label {
        let insn = reversed[target]
        if insn.code == BPFInstruction.Op.retK {
            let label = append(insn)
            latestReturn[insn.k] = label
            return label
        }
        return append(BPFInstruction(code: BPFInstruction.Op.ja, k: UInt32(offset(to: target))))
    }
}
