/// The seccomp meaning of a policy, per architecture, after names, groups, constants and
/// includes/excludes are resolved: what the code generator compiles and what the tests check the
/// generated BPF against.
public struct IRRule: Hashable, Sendable {
    /// nil: the rule holds for every argument vector.
    public var condition: BoolExpr?
    public var action: Action
    public var origin: SourceLocation

    public init(condition: BoolExpr?, action: Action, origin: SourceLocation) {
        self.condition = condition
        self.action = action
        self.origin = origin
    }
}

public struct ArchIR: Sendable {
    public var arch: Arch
    /// Syscalls some rule names, with their rules in first-match order; an unconditional rule ends a list.
    public var rules: [UInt32: [IRRule]]
    /// Known syscalls no rule names that `baseline` marks as too new.
    public var tooNew: Set<UInt32>

    public var table: SyscallTable { SyscallTable.forArch(arch) }
}

public enum Verdict: Hashable, Sendable {
    case rule(IRRule)
    case defaultAction
    case newSyscall
    case badArch
}

public struct FilterIR: Sendable {
    public var name: String
    public var arches: [ArchIR]
    public var defaultAction: Action
    public var badArchAction: Action
    public var newSyscallAction: Action
    public var baseline: KernelVersion?
    public var flags: [String]
    public var tablesKernel: KernelVersion { SyscallTable.tablesKernel }

    public func archIR(_ arch: Arch) -> ArchIR? { arches.first { $0.arch == arch } }

    public var allActions: Set<Action> {
        var actions: Set<Action> = [defaultAction, badArchAction, newSyscallAction]
        for abi in arches { for rules in abi.rules.values { actions.formUnion(rules.map(\.action)) } }
        return actions
    }

    public func usesErrno(atLeast limit: UInt16) -> Bool {
        allActions.contains { if case .errno(let e) = $0 { return e >= limit }; return false }
    }

    /// The same filter with every action passed through `transform`.
    public func mapActions(_ transform: (Action) -> Action) -> FilterIR {
        var copy = self
        copy.defaultAction = transform(defaultAction)
        copy.badArchAction = transform(badArchAction)
        copy.newSyscallAction = transform(newSyscallAction)
        copy.arches = arches.map { abi in
            var a = abi
            a.rules = abi.rules.mapValues { $0.map { var r = $0; r.action = transform(r.action); return r } }
            return a
        }
        return copy
    }

    /// The architecture a (`seccomp_data.arch`, nr) pair belongs to, or nil when no enabled one.
    public func abi(auditArch: UInt32, nr: UInt32) -> ArchIR? {
        let isX32 = nr & Arch.x32SyscallBit != 0
        return arches.first { a in
            guard a.arch.auditArch == auditArch else { return false }
            switch a.arch {
            case .x86_64: return !isX32
            case .x32: return isX32
            default: return true
            }
        }
    }

    /// The reference semantics (spec 2.3) the BPF must agree with.
    public func verdict(auditArch: UInt32, nr: UInt32, args: [UInt64]) -> (Action, Verdict) {
        guard let abi = abi(auditArch: auditArch, nr: nr) else { return (badArchAction, .badArch) }
        guard abi.table.entry(number: nr) != nil else { return (newSyscallAction, .newSyscall) }
        if let rules = abi.rules[nr] {
            let narrow = abi.arch.hasWideArguments ? args : args.map { $0 & 0xFFFF_FFFF }
            if let rule = rules.first(where: { $0.condition?.holds(narrow) ?? true }) {
                return (rule.action, .rule(rule))
            }
            return (defaultAction, .defaultAction)
        }
        if abi.tooNew.contains(nr) { return (newSyscallAction, .newSyscall) }
        return (defaultAction, .defaultAction)
    }
}
