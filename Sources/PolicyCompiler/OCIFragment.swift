import PolicyModel

/// `NAME.oci.json`: the process and linux parts of an OCI runtime config that a policy
/// decides, to merge into a bundle's config.json (or `policyc bundle` writes a whole one).
public struct OCIFragmentEmitter {
    public let filter: CompiledFilter
    public var capabilities: CapabilitySets { filter.capabilities }

    public init(_ filter: CompiledFilter) { self.filter = filter }

    static let namespaceTypes: [String: String] = [
        "user": "user", "pid": "pid", "mount": "mount", "uts": "uts", "ipc": "ipc", "net": "network",
        "cgroup": "cgroup", "time": "time",
    ]

    public static func defaultNamespaces(_ policy: Policy) -> [String] {
        policy.container.namespaces ?? ["pid", "mount", "uts", "ipc", "net", "cgroup"]
    }

    public var apparmorProfile: String { filter.policy.apparmor?.profile ?? "policyc-\(filter.policy.name)" }

    public func processFields() -> [(String, JSONValue)] {
        let policy = filter.policy
        func list(_ mask: UInt64) -> JSONValue { .array(CapabilitySets.names(mask).map { .string($0) }) }
        var fields: [(String, JSONValue)] = [
            ("capabilities", .object([
                ("bounding", list(capabilities.bounding)), ("effective", list(capabilities.effective)),
                ("permitted", list(capabilities.permitted)), ("inheritable", list(capabilities.inheritable)),
                ("ambient", list(capabilities.ambient)),
            ])),
            ("noNewPrivileges", .bool(policy.noNewPrivileges ?? true)),
            ("apparmorProfile", .string(apparmorProfile)),
            ("selinuxLabel", .string(SELinuxLabel(policy: policy).context)),
        ]
        let rlimits = (policy.container.rlimits ?? [:]).sorted { $0.key < $1.key }.map { name, value -> JSONValue in
            .object([("type", .string("RLIMIT_" + name.uppercased())), ("hard", .number(value)), ("soft", .number(value))])
        }
        if !rlimits.isEmpty { fields.append(("rlimits", .array(rlimits))) }
        return fields
    }

    public func linuxFields() throws(SeccompJSONEmitter.EmitError) -> [(String, JSONValue)] {
        let container = filter.policy.container
        var fields: [(String, JSONValue)] = [("seccomp", try SeccompJSONEmitter(filter).object())]
        fields.append(("maskedPaths", .array(ContainerDefaults.maskedPaths.map { .string($0) })))
        fields.append(("readonlyPaths", .array(ContainerDefaults.readonlyPaths.map { .string($0) })))
        var resources: [(String, JSONValue)] = []
        if let memory = container.memory { resources.append(("memory", .object([("limit", .number(memory))]))) }
        if let pids = container.pids { resources.append(("pids", .object([("limit", .number(UInt64(pids)))]))) }
        if let cpus = container.cpus {
            resources.append(("cpu", .object([("quota", .number(UInt64((cpus * 100_000).rounded()))), ("period", .number(100_000))])))
        }
        resources.append(("devices", .array(Self.deviceCgroupRules(container))))
        fields.append(("resources", .object(resources)))
        if let devices = container.devices, !devices.isEmpty { fields.append(("devices", .array(devices.map(Self.deviceNode)))) }
        fields.append(("namespaces", .array(Self.defaultNamespaces(filter.policy).compactMap { name in
            Self.namespaceTypes[name].map { JSONValue.object([("type", .string($0))]) }
        })))
        return fields
    }

    /// runc's own rules spelt out (deny all, then the usual nodes and the policy's), so that
    /// any runtime reading the fragment enforces what `policyc run` does.
    static func deviceCgroupRules(_ container: ContainerSpec) -> [JSONValue] {
        [.object([("allow", .bool(false)), ("access", .string("rwm"))])] + DeviceRules.allowed(container).map { rule in
            var fields: [(String, JSONValue)] = [("allow", .bool(true)), ("type", .string(rule.type))]
            if let major = rule.major { fields.append(("major", .number(UInt64(major)))) }
            if let minor = rule.minor { fields.append(("minor", .number(UInt64(minor)))) }
            fields.append(("access", .string(rule.access)))
            return .object(fields)
        }
    }

    static func deviceNode(_ device: DeviceSpec) -> JSONValue {
        var fields: [(String, JSONValue)] = [("path", .string(device.path)), ("type", .string(device.type)),
                                             ("major", .number(UInt64(device.major))), ("minor", .number(UInt64(device.minor))),
                                             ("fileMode", .number(UInt64(device.fileMode)))]
        if let uid = device.uid { fields.append(("uid", .number(UInt64(uid)))) }
        if let gid = device.gid { fields.append(("gid", .number(UInt64(gid)))) }
        return .object(fields)
    }

    public func object() throws(SeccompJSONEmitter.EmitError) -> JSONValue {
        var root: [(String, JSONValue)] = [("process", .object(processFields()))]
        if let hostname = filter.policy.container.hostname { root.append(("hostname", .string(hostname))) }
        root.append(("linux", .object(try linuxFields())))
        return .object(root)
    }
}

/// The SELinux process context of a policy: `system_u:system_r:TYPE:LEVEL`.
public struct SELinuxLabel {
    public let policy: Policy

    public init(policy: Policy) { self.policy = policy }

    var base: SELinuxSpec.Base { policy.selinux?.base ?? .container }

    /// The process type: a platform type as named; on container-selinux `BLOCK.process`, as
    /// udica and SPO name it; on the reference policy `<name>_t`, or `policyc_<name>_t` where that
    /// is a type the reference policy already has (a policy named `default` would claim `default_t`).
    public var type: String {
        if let type = policy.selinux?.type { return type }
        if base == .container { return block + ".process" }
        let derived = Self.identifier(policy.name) + "_t"
        return Self.referencePolicyTypes.contains(derived) ? "policyc_" + derived : derived
    }

    /// The CIL block of a container-selinux module: the policy's name, or `policyc_<name>` where
    /// that is a block udica's templates already declare.
    public var block: String {
        if let type = policy.selinux?.type, type.hasSuffix(".process") { return String(type.dropLast(".process".count)) }
        let name = Self.identifier(policy.name)
        return Self.templateBlocks.contains(name) ? "policyc_" + name : name
    }

    /// Whether the module declares the type (a platform type is only referenced).
    public var isDeclared: Bool { !SELinuxSpec.platformTypes.contains(type) }

    static func identifier(_ name: String) -> String {
        name.replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: ".", with: "_")
    }

    static let referencePolicyTypes: Set<String> = [
        "default_t", "root_t", "usr_t", "bin_t", "lib_t", "etc_t", "tmp_t", "var_t", "proc_t", "device_t", "kernel_t",
        "init_t", "unconfined_t", "container_t", "spc_t", "httpd_t", "nginx_t", "user_t", "staff_t", "sysadm_t", "system_t",
    ]

    static let templateBlocks: Set<String> = [
        "container", "net_container", "restricted_net_container", "tty_container", "virt_container", "x_container",
        "config_container", "config_rw_container", "config_manage_container", "log_container", "log_rw_container",
        "log_manage_container", "home_container", "home_rw_container", "home_manage_container", "tmp_container",
        "tmp_rw_container",
    ]

    /// `auto`: two categories from the name, stable across runs and machines (FNV-1a).
    public var level: String {
        guard let level = policy.selinux?.level, level != "auto" else {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in policy.name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            let a = Int(hash % 1024), b = Int((hash >> 32) % 1023)
            let second = b >= a ? b + 1 : b
            return "s0:c\(min(a, second)),c\(max(a, second))"
        }
        return level
    }

    public var context: String { "system_u:system_r:\(type):\(level)" }
}
