import PolicyModel

/// Where two filters answer differently: exact, region by region (a change only one argument
/// value reveals is found), grouped by syscall, ABI and the two verdicts.
public struct SeccompDifference: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The new filter allows (or logs) what the old one denied.
        case looser
        /// The new filter denies what the old one allowed.
        case stricter
        /// Both deny (or both allow) but differently: another errno, kill instead of trap, log.
        case changed
    }

    public var kind: Kind
    public var arch: Arch
    public var syscall: String
    /// The argument regions, as a policy would write them ("every call" when all differ).
    public var regions: [String]
    public var old: Action, oldRule: String
    public var new: Action, newRule: String
}

public enum SeccompDiff {
    static func allows(_ a: Action) -> Bool { a == .allow || a == .log }

    static func kind(_ old: Action, _ new: Action) -> SeccompDifference.Kind {
        if !allows(old) && allows(new) { return .looser }
        if allows(old) && !allows(new) { return .stricter }
        return .changed
    }

    /// What decides a verdict, as a reviewer finds it in the file.
    public static func describe(_ verdict: Verdict) -> String {
        switch verdict {
        case .rule(let r): return "rule at \(r.origin.fileAndLine)"
        case .defaultAction: return "defaultAction"
        case .newSyscall: return "newSyscallAction"
        case .badArch: return "badArchAction (architecture not in the filter)"
        }
    }

    /// Every difference between `old` and `new`, on every ABI either covers.
    public static func compare(old: FilterIR, new: FilterIR) -> [SeccompDifference] {
        var out: [SeccompDifference] = []
        let arches = Set(old.arches.map(\.arch) + new.arches.map(\.arch)).sorted()
        for arch in arches {
            if old.archIR(arch) == nil || new.archIR(arch) == nil {
                out += wholeArch(arch, old: old, new: new)
                continue
            }
            for entry in SyscallTable.forArch(arch).entries {
                out += compare(Semantics.partition([old, new], arch: arch, nr: entry.number))
            }
        }
        return out
    }

    static func compare(_ p: SyscallPartition) -> [SeccompDifference] {
        var groups: [SeccompDifference] = []
        var index: [[String]: Int] = [:]
        var differing = 0
        for region in p.regions {
            let (o, n) = (region.outcomes[0], region.outcomes[1])
            guard o.action != n.action else { continue }
            differing += 1
            let key = [o.action.description, describe(o.verdict), n.action.description, describe(n.verdict)]
            if let i = index[key] { groups[i].regions.append(p.describe(region)); continue }
            index[key] = groups.count
            groups.append(SeccompDifference(kind: kind(o.action, n.action), arch: p.arch, syscall: p.name, regions: [p.describe(region)],
                                            old: o.action, oldRule: key[1], new: n.action, newRule: key[3]))
        }
        if differing == p.regions.count, groups.count == 1 { groups[0].regions = ["every call"] }
        return groups
    }

    /// An ABI only one filter covers: the other answers it with its bad-architecture action.
    static func wholeArch(_ arch: Arch, old: FilterIR, new: FilterIR) -> [SeccompDifference] {
        let covered = old.archIR(arch) == nil ? new : old
        var byAction: [Action: Int] = [:]
        for entry in SyscallTable.forArch(arch).entries {
            let number = arch == .x32 ? entry.number | Arch.x32SyscallBit : entry.number
            byAction[covered.verdict(auditArch: arch.auditArch, nr: number, args: [0, 0, 0, 0, 0, 0]).0, default: 0] += 1
        }
        let other = old.archIR(arch) == nil ? old.badArchAction : new.badArchAction
        return byAction.keys.sorted { $0.description < $1.description }.compactMap { action in
            guard action != other else { return nil }
            let (o, n) = old.archIR(arch) == nil ? (other, action) : (action, other)
            return SeccompDifference(kind: kind(o, n), arch: arch, syscall: "\(byAction[action]!) syscalls", regions: ["every call (the architecture is in one filter only)"],
                                     old: o, oldRule: old.archIR(arch) == nil ? "badArchAction" : "the filter's rules", new: n,
                                     newRule: new.archIR(arch) == nil ? "badArchAction" : "the filter's rules")
        }
    }
}
