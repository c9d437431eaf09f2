import PolicyModel

/// A complete OCI runtime config (`config.json`) that runc runs as is: the policy's fragment
/// over Docker's usual mounts and environment.
public struct BundleConfig {
    public let filter: CompiledFilter
    public let rootfs: String
    public let args: [String]
    /// LSM labels to leave out: runc refuses a label for an LSM the kernel has not enabled.
    public let withoutLabels: Set<String>

    public init(_ filter: CompiledFilter, rootfs: String, args: [String], withoutLabels: Set<String> = []) {
        self.filter = filter
        self.rootfs = rootfs
        self.args = args
        self.withoutLabels = withoutLabels
    }

    static func mount(_ destination: String, _ type: String, _ source: String, _ options: [String]) -> JSONValue {
        .object([("destination", .string(destination)), ("type", .string(type)), ("source", .string(source)),
                 ("options", .array(options.map { .string($0) }))])
    }

    /// runc's defaults (`runc spec`), /dev/shm and /dev/mqueue as Docker adds them, then the
    /// policy's own mounts.
    var mounts: [JSONValue] {
        var list = [
            Self.mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
            Self.mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Self.mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
            Self.mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            Self.mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
            Self.mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
        ]
        for m in filter.policy.container.mounts ?? [] {
            let options = m.type == "bind" && !m.options.contains("bind") && !m.options.contains("rbind") ? ["rbind"] + m.options : m.options
            list.append(Self.mount(m.destination, m.type, m.source ?? m.type, options))
        }
        return list
    }

    public func object() throws(SeccompJSONEmitter.EmitError) -> JSONValue {
        let policy = filter.policy
        let fragment = OCIFragmentEmitter(filter)
        let env = policy.container.env ?? [("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")]
        var process: [(String, JSONValue)] = [
            ("terminal", .bool(false)),
            ("user", .object([("uid", .number(UInt64(policy.container.uid ?? 0))), ("gid", .number(UInt64(policy.container.gid ?? 0)))])),
            ("args", .array((args.isEmpty ? ["/bin/sh"] : args).map { .string($0) })),
            ("env", .array(env.map { .string("\($0.0)=\($0.1)") })),
            ("cwd", .string(policy.container.cwd ?? "/")),
        ]
        process += fragment.processFields().filter { !withoutLabels.contains($0.0) }
        var linux = try fragment.linuxFields()
        if OCIFragmentEmitter.defaultNamespaces(policy).contains("user") {
            let identity = JSONValue.array([.object([("containerID", .number(0)), ("hostID", .number(0)), ("size", .number(65536))])])
            linux += [("uidMappings", identity), ("gidMappings", identity)]
        }
        return .object([
            ("ociVersion", .string("1.0.2")),
            ("process", .object(process)),
            ("root", .object([("path", .string(rootfs)), ("readonly", .bool(policy.filesystem != nil))])),
            ("hostname", .string(policy.container.hostname ?? policy.name)),
            ("mounts", .array(mounts)),
            ("linux", .object(linux)),
        ])
    }
}
