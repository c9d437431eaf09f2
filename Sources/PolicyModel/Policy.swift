/// A value with the place it was written.
public struct Located<T: Sendable>: Sendable {
    public var value: T
    public var location: SourceLocation

    public init(_ value: T, _ location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// Docker's `includes`/`excludes` on a rule.
public struct RuleFilter: Sendable {
    public var caps: [Located<String>] = []
    public var arches: [Located<String>] = []
    public var minKernel: Located<KernelVersion>?

    public var isEmpty: Bool { caps.isEmpty && arches.isEmpty && minKernel == nil }
}

/// OCI `args[]`: `index`, `value`, `valueTwo`, `op`.
public struct OCIArg: Sendable {
    public var index: Int
    public var value: UInt64
    public var valueTwo: UInt64
    public var op: String
    public var location: SourceLocation

    /// The comparison it stands for; SCMP_CMP_MASKED_EQ takes the mask from `value`.
    public var comparison: ArgCmp {
        switch op {
        case "SCMP_CMP_NE": return ArgCmp(arg: index, mask: nil, op: .ne, value: value)
        case "SCMP_CMP_LT": return ArgCmp(arg: index, mask: nil, op: .lt, value: value)
        case "SCMP_CMP_LE": return ArgCmp(arg: index, mask: nil, op: .le, value: value)
        case "SCMP_CMP_GT": return ArgCmp(arg: index, mask: nil, op: .gt, value: value)
        case "SCMP_CMP_GE": return ArgCmp(arg: index, mask: nil, op: .ge, value: value)
        case "SCMP_CMP_MASKED_EQ": return ArgCmp(arg: index, mask: value, op: .eq, value: valueTwo)
        default: return ArgCmp(arg: index, mask: nil, op: .eq, value: value)
        }
    }

    public static let operators = [
        "SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ",
    ]
}

public struct SeccompRule: Sendable {
    public var location: SourceLocation
    public var names: [Located<String>]
    public var action: Located<Action>
    public var when: Located<CondExpr>?
    public var args: [OCIArg] = []
    public var includes = RuleFilter()
    public var excludes = RuleFilter()
    public var comment: String?
    /// Rules of an imported Docker/OCI profile tolerate syscall names of other architectures.
    public var lenientNames = false
    /// Added by policyc from the access intent, not written by the user.
    public var derivedFrom: String?

    public init(location: SourceLocation, names: [Located<String>], action: Located<Action>) {
        self.location = location
        self.names = names
        self.action = action
    }
}

public struct SeccompSpec: Sendable {
    public var defaultAction: Located<Action>?
    public var architectures: Located<[Arch]>?
    public var badArchAction: Located<Action>?
    public var baseline: Located<KernelVersion>?
    public var newSyscallAction: Located<Action>?
    public var flags: [Located<String>] = []
    public var listenerPath: String?
    public var listenerMetadata: String?
    public var rules: [SeccompRule] = []

    public init() {}

    /// `other` over `self`: fields `other` sets win; its rules come first.
    public func overlaid(by other: SeccompSpec) -> SeccompSpec {
        var merged = self
        merged.defaultAction = other.defaultAction ?? defaultAction
        merged.architectures = other.architectures ?? architectures
        merged.badArchAction = other.badArchAction ?? badArchAction
        merged.baseline = other.baseline ?? baseline
        merged.newSyscallAction = other.newSyscallAction ?? newSyscallAction
        merged.flags = other.flags.isEmpty ? flags : other.flags
        merged.listenerPath = other.listenerPath ?? listenerPath
        merged.listenerMetadata = other.listenerMetadata ?? listenerMetadata
        merged.rules = other.rules + rules
        return merged
    }
}

public struct CapabilitySpec: Sendable {
    public var drop: [Located<String>]?
    public var add: [Located<String>]?
    public var bounding: [Located<String>]?
    public var effective: [Located<String>]?
    public var permitted: [Located<String>]?
    public var inheritable: [Located<String>]?
    public var ambient: [Located<String>]?
    public var location: SourceLocation?

    public init() {}

    /// The child's `drop` and `add` apply after the parent's, so a child's `drop: [ALL]`
    /// leaves only what the child itself adds: (base − pd ∪ pa) − cd ∪ ca, written as one
    /// drop (pd ∪ cd) and one add ((pa − cd) ∪ ca).
    public func overlaid(by other: CapabilitySpec) -> CapabilitySpec {
        var merged = self
        if other.drop != nil || other.add != nil {
            let childDrops = other.drop ?? []
            let dropsAll = childDrops.contains { $0.value.uppercased() == "ALL" }
            let dropped = Set(childDrops.compactMap { Capabilities.canonical($0.value) })
            let keptAdds = dropsAll ? [] : (add ?? []).filter { Capabilities.canonical($0.value).map { !dropped.contains($0) } ?? true }
            merged.drop = (drop ?? []) + childDrops
            merged.add = keptAdds + (other.add ?? [])
        }
        merged.bounding = other.bounding ?? bounding
        merged.effective = other.effective ?? effective
        merged.permitted = other.permitted ?? permitted
        merged.inheritable = other.inheritable ?? inheritable
        merged.ambient = other.ambient ?? ambient
        merged.location = other.location ?? location
        return merged
    }
}

public struct FilesystemSpec: Sendable {
    public var read: [Located<String>] = []
    public var write: [Located<String>] = []
    public var exec: [Located<String>] = []
    public var deny: [Located<String>] = []
}

public struct NetworkSpec: Sendable {
    /// `network.families` names and the address family each stands for.
    public static var familyConstants: [String: String] { PolicyParser.families }

    public var families: [Located<String>]?
    public var tcpBind: [Located<UInt16>] = []
    public var tcpConnect: [Located<UInt16>] = []
    public var location: SourceLocation
}

public struct LandlockSpec: Sendable {
    public var minimumAbi: Int?
    public var required: Bool?
}

public struct AppArmorSpec: Sendable {
    public var profile: String?
    public var mode: String?
    public var rules: [String] = []
}

public struct SELinuxSpec: Sendable {
    /// What the module is built on: container-selinux (udica's templates, the types container
    /// runtimes may transition into) or the reference policy alone (a plain domain of its own).
    public enum Base: String, Sendable, CaseIterable { case container, refpolicy }

    public var type: String?
    public var level: String?
    public var base: Base = .container

    /// Types the platform already has: referenced, never declared or given rules.
    public static let platformTypes: Set<String> = [
        "container_t", "spc_t", "container_init_t", "svirt_lxc_net_t", "svirt_sandbox_file_t", "unconfined_t",
    ]

    public init(type: String? = nil, level: String? = nil, base: Base = .container) {
        self.type = type
        self.level = level
        self.base = base
    }
}

public struct PolicyTest: Sendable {
    public var location: SourceLocation
    public var call: Located<String>
    public var arch: Arch?
    public var expect: Located<Action>
}

public struct Policy: Sendable {
    public var file: String
    public var name: String
    public var description: String?
    public var seccomp = SeccompSpec()
    public var capabilities: CapabilitySpec?
    public var noNewPrivileges: Bool?
    public var filesystem: FilesystemSpec?
    public var network: NetworkSpec?
    public var landlock: LandlockSpec?
    public var apparmor: AppArmorSpec?
    public var selinux: SELinuxSpec?
    public var container = ContainerSpec()
    public var tests: [PolicyTest] = []
    /// A bare Docker/OCI seccomp profile given as the input file.
    public var isBareProfile = false

    public init(file: String, name: String) {
        self.file = file
        self.name = name
    }

    /// `child` over `self` (a parent), by section, as `extends` merges.
    public func overlaid(by child: Policy) -> Policy {
        var m = child
        m.seccomp = seccomp.overlaid(by: child.seccomp)
        m.capabilities = child.capabilities.map { c in capabilities.map { $0.overlaid(by: c) } ?? c } ?? capabilities
        m.noNewPrivileges = child.noNewPrivileges ?? noNewPrivileges
        m.filesystem = child.filesystem ?? filesystem
        m.network = child.network ?? network
        m.landlock = child.landlock ?? landlock
        m.apparmor = child.apparmor ?? apparmor
        m.selinux = child.selinux ?? selinux
        m.container = container.overlaid(by: child.container)
        return m
    }
}
