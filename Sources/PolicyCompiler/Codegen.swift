import PolicyModel

public enum CodegenError: Error, CustomStringConvertible, Equatable {
    case tooLong(instructions: Int)

    public var description: String {
        switch self {
        case .tooLong(let n):
            return "the filter needs \(n) BPF instructions; the kernel accepts at most \(maxInstructions) (BPF_MAXINSNS). Use fewer argument conditions or architectures."
        }
    }
}

/// Compiles `FilterIR` to seccomp BPF: architecture dispatch, then per architecture a decision
/// tree over syscall-number ranges, weighted so common ABIs take the shortest paths; argument
/// checks only on the paths of syscalls whose verdict depends on them.
public struct SeccompCodegen {
    public let ir: FilterIR

    public init(_ ir: FilterIR) { self.ir = ir }

    /// How much a syscall weighs when shaping the tree: x32 is rarely used.
    static func weight(_ arch: Arch) -> Int { arch == .x32 ? 2 : 16 }

    /// Tree depth allowed for a syscall's range: with 3 instructions before the tree and a
    /// `ret` after it, a plain syscall takes at most 13. Argument checks take their cost out
    /// of the budget; x32 and unknown numbers get looser limits.
    static let treeDepthBudget = 9

    static func depthLimit(_ arch: Arch?, _ leaf: Leaf) -> Int {
        guard let arch else { return treeDepthBudget + 8 }
        let base = arch == .x32 ? treeDepthBudget + 3 : treeDepthBudget
        guard case .chain(let chain) = leaf, let first = chain.steps.first else { return base }
        return base - chain.firstComparisonCost(first.condition)
    }

    public func generate() throws(CodegenError) -> BPFProgram {
        let emitter = BackwardEmitter()
        var blocks: [(UInt32, [ArchIR])] = []
        for abi in ir.arches {
            if let i = blocks.firstIndex(where: { $0.0 == abi.arch.auditArch }) { blocks[i].1.append(abi) }
            else { blocks.append((abi.arch.auditArch, [abi])) }
        }
        var entries: [(UInt32, BackwardEmitter.Label)] = []
        for (audit, abis) in blocks.reversed() {
            let block = ArchBlock(ir: ir, auditArch: audit, abis: abis, emitter: emitter)
            entries.insert((audit, block.emit()), at: 0)
        }
        var next = emitter.ret(ir.badArchAction.seccompRet)
        for (audit, label) in entries.reversed() {
            next = emitter.jump(BPFInstruction.Op.jeqK, audit, ifTrue: label, ifFalse: next)
        }
        _ = emitter.load(SeccompData.arch)
        guard emitter.count <= maxInstructions else { throw .tooLong(instructions: emitter.count) }
        return BPFProgram(emitter.program)
    }
}

/// What a range of syscall numbers leads to.
enum Leaf: Hashable {
    case action(Action)
    case chain(Chain)
}

/// Argument checks in first-match order, then a fallback.
struct Chain: Hashable {
    struct Step: Hashable {
        var condition: BoolExpr
        var action: Action
    }
    var steps: [Step]
    var fallback: Action
    /// false on 32-bit ABIs, which compare only low halves.
    var wide: Bool

    /// The argument every comparison of the chain reads, when all are unmasked and compare with
    /// values below 2^32: its high half is then tested once, up front.
    var hoistableArgument: Int? {
        var arg: Int?
        var ok = wide
        func visit(_ e: BoolExpr) {
            switch e {
            case .cmp(let c):
                if c.mask != nil || c.value >> 32 != 0 || (arg.map { $0 != c.arg } ?? false) { ok = false }
                arg = c.arg
            case .and(let xs), .or(let xs): xs.forEach(visit)
            case .not(let x): visit(x)
            }
        }
        steps.forEach { visit($0.condition) }
        return ok ? arg : nil
    }

    /// The chain's verdict for an argument of 2^32 or more, when `hoistableArgument` is set:
    /// it exceeds every value compared with.
    var actionForLargeArgument: Action {
        func holds(_ e: BoolExpr) -> Bool {
            switch e {
            case .cmp(let c): return [.ne, .gt, .ge].contains(c.op)
            case .and(let xs): return xs.allSatisfy(holds)
            case .or(let xs): return xs.contains(where: holds)
            case .not(let x): return !holds(x)
            }
        }
        return steps.first { holds($0.condition) }?.action ?? fallback
    }

    /// Instructions the first comparison of a condition takes before it can decide.
    func firstComparisonCost(_ condition: BoolExpr) -> Int {
        if hoistableArgument != nil { return 3 + comparisons(condition) }
        switch condition {
        case .cmp(let c):
            let masked = c.mask != nil && c.mask != .max
            if !wide || (c.mask.map { $0 >> 32 == 0 } ?? false) { return masked ? 3 : 2 }
            return (masked ? 6 : 4) + ([.eq, .ne].contains(c.op) ? 0 : 1)
        case .and(let xs), .or(let xs): return xs.first.map(firstComparisonCost) ?? 0
        case .not(let x): return firstComparisonCost(x)
        }
    }

    private func comparisons(_ e: BoolExpr) -> Int {
        switch e {
        case .cmp: return 1
        case .and(let xs), .or(let xs): return xs.map(comparisons).reduce(0, +)
        case .not(let x): return comparisons(x)
        }
    }
}

struct Segment {
    var low: UInt32
    var high: UInt32
    var leaf: Leaf
    var weight: Int
    /// How deep in the tree this range may sit (see `SeccompCodegen.depthLimit`).
    var depthLimit: Int
}

/// The code for the ABIs that share one `AUDIT_ARCH_*` value.
struct ArchBlock {
    let ir: FilterIR
    let auditArch: UInt32
    let abis: [ArchIR]
    let emitter: BackwardEmitter

    func emit() -> BackwardEmitter.Label {
        let segments = Self.merge(numberSlots().flatMap(segments(in:)))
        let tree = DecisionTree(weights: segments.map(\.weight), depthLimits: segments.map(\.depthLimit))

        var chains: [Chain: BackwardEmitter.Label] = [:]
        let root = emitTree(tree.root, segments: segments, chains: &chains)
        // The load falls through to the root: a shared `ret` elsewhere needs a copy here.
        if root != emitter.count - 1 { _ = emitter.reach(root) }
        return emitter.load(SeccompData.nr)
    }

    /// x86_64 and x32 share an audit arch and split the number space at bit 30.
    private func numberSlots() -> [(ClosedRange<UInt32>, ArchIR?)] {
        if auditArch == Arch.x86_64.auditArch {
            return [(0...(Arch.x32SyscallBit - 1), abis.first { $0.arch == .x86_64 }),
                    (Arch.x32SyscallBit...UInt32.max, abis.first { $0.arch == .x32 })]
        }
        return [(0...UInt32.max, abis.first)]
    }

    private func segments(in slot: (ClosedRange<UInt32>, ArchIR?)) -> [Segment] {
        let (range, abi) = slot
        guard let abi else {
            let leaf = Leaf.action(ir.badArchAction)
            return [Segment(low: range.lowerBound, high: range.upperBound, leaf: leaf, weight: 1, depthLimit: SeccompCodegen.depthLimit(nil, leaf))]
        }
        var result: [Segment] = []
        var cursor = range.lowerBound
        let unknown = Leaf.action(ir.newSyscallAction)
        let unknownLimit = SeccompCodegen.depthLimit(nil, unknown)
        for entry in abi.table.entries.sorted(by: { $0.number < $1.number }) where range.contains(entry.number) {
            if entry.number > cursor {
                result.append(Segment(low: cursor, high: entry.number - 1, leaf: unknown, weight: 1, depthLimit: unknownLimit))
            }
            let leaf = leaf(for: entry.number, in: abi)
            result.append(Segment(low: entry.number, high: entry.number, leaf: leaf, weight: SeccompCodegen.weight(abi.arch),
                                  depthLimit: SeccompCodegen.depthLimit(abi.arch, leaf)))
            cursor = entry.number &+ 1
            if entry.number == range.upperBound { return result }
        }
        result.append(Segment(low: cursor, high: range.upperBound, leaf: unknown, weight: 1, depthLimit: unknownLimit))
        return result
    }

    private func leaf(for number: UInt32, in abi: ArchIR) -> Leaf {
        guard let rules = abi.rules[number] else {
            return .action(abi.tooNew.contains(number) ? ir.newSyscallAction : ir.defaultAction)
        }
        var steps: [Chain.Step] = []
        var fallback = ir.defaultAction
        for rule in rules {
            guard let condition = rule.condition else { fallback = rule.action; break }
            steps.append(Chain.Step(condition: condition, action: rule.action))
        }
        // Trailing checks that lead where the fallback does decide nothing.
        while let last = steps.last, last.action == fallback { steps.removeLast() }
        return steps.isEmpty ? .action(fallback) : .chain(Chain(steps: steps, fallback: fallback, wide: abi.arch.hasWideArguments))
    }

    static func merge(_ segments: [Segment]) -> [Segment] {
        var merged: [Segment] = []
        for segment in segments {
            if var last = merged.last, last.leaf == segment.leaf, last.high &+ 1 == segment.low {
                last.high = segment.high
                last.weight += segment.weight
                last.depthLimit = min(last.depthLimit, segment.depthLimit)
                merged[merged.count - 1] = last
            } else {
                merged.append(segment)
            }
        }
        return merged
    }

    private func emitTree(_ node: DecisionTree.Node, segments: [Segment], chains: inout [Chain: BackwardEmitter.Label]) -> BackwardEmitter.Label {
        switch node {
        case .leaf(let i):
            switch segments[i].leaf {
            case .action(let action): return emitter.ret(action.seccompRet)
            case .chain(let chain):
                if let label = chains[chain] { return label }
                let label = emitChain(chain)
                chains[chain] = label
                return label
            }
        case .split(let at, let left, let right, let leftSize, let rightSize):
            // The subtree emitted last lands right after the jump; make that the smaller one so
            // the other stays within an 8-bit offset as often as possible.
            let l: BackwardEmitter.Label, r: BackwardEmitter.Label
            if leftSize <= rightSize {
                r = emitTree(right, segments: segments, chains: &chains)
                l = emitTree(left, segments: segments, chains: &chains)
            } else {
                l = emitTree(left, segments: segments, chains: &chains)
                r = emitTree(right, segments: segments, chains: &chains)
            }
            return emitter.jump(BPFInstruction.Op.jgeK, segments[at].low, ifTrue: r, ifFalse: l)
        }
    }

    private func emitChain(_ chain: Chain) -> BackwardEmitter.Label {
        if let arg = chain.hoistableArgument {
            // High half zero: the low halves decide exactly. Otherwise the argument exceeds
            // every value and the verdict is known now.
            let low = emitChain(Chain(steps: chain.steps, fallback: chain.fallback, wide: false))
            let large = emitter.ret(chain.actionForLargeArgument.seccompRet)
            _ = emitter.jump(BPFInstruction.Op.jeqK, 0, ifTrue: low, ifFalse: large)
            return emitter.load(SeccompData.argHigh(arg))
        }
        // Each rule is an or-part whose true target is its own ret.
        let conditions = ConditionEmitter(emitter: emitter, wide: chain.wide)
        var actions: [BoolExpr: Action] = [:]
        for step in chain.steps where actions[step.condition] == nil { actions[step.condition] = step.action }
        return conditions.emitRuns(chain.steps.map(\.condition), targets: { part, next in
            (self.emitter.ret(actions[part]!.seccompRet), next)
        }, final: emitter.ret(chain.fallback.seccompRet))
    }
}
