import PolicyModel

/// A complete OCI runtime config (`config.json`) that runc runs as is: the policy's fragment
/// over Docker's usual mounts and environment.
public struct BundleConfig {
    public let filter: CompiledFilter
    /// The filter the bundle carries: the policy's, allowing what runc itself calls after
    /// loading it (see `startableByRunc`).
    /// The filter runc gets: the policy's, with runc's own calls allowed (`startableByRunc`).
    public var seccompFilter: CompiledFilter
    public let rootfs: String
    public let args: [String]
    /// LSM labels to leave out: runc refuses a label for an LSM the kernel has not enabled.
    public let withoutLabels: Set<String>

    public init(_ filter: CompiledFilter, rootfs: String, args: [String], withoutLabels: Set<String> = []) {
        self.filter = filter
        self.seccompFilter = Self.startableByRunc(filter)
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

    /// What runc 1.1 does after it has loaded the filter and before its execve (traced from
    /// Debian's runc 1.1.5): open its exec fifo for writing (`/proc/self/fd/N`, `O_WRONLY |
    /// O_CLOEXEC`), then open and list /proc/self/fd (`O_RDONLY | O_CLOEXEC`; fstatfs to check
    /// it is procfs, getdents64) to close what should not cross. A policy that denies one of
    /// them would never start under runc; the bundle's filter allows exactly these argument
    /// shapes, ahead of the policy's rules, and nothing else changes. That is a loosening where
    /// the policy denies such opens: reading any file opened with exactly those flags, and
    /// writing, without creating or truncating, an existing file on a writable mount (with a
    /// filesystem section the root is read-only). `policyc bundle` warns where it applies.
    public static let runcAfterFilter: [(name: String, args: [UInt64], compared: [Int])] = [
        ("openat", [0xFFFF_FFFF_FFFF_FF9C, 0, 0x80001, 0, 0, 0], [0, 2]),   // AT_FDCWD, O_WRONLY|O_CLOEXEC
        ("openat", [0xFFFF_FFFF_FFFF_FF9C, 0, 0x80000, 0, 0, 0], [0, 2]),   // AT_FDCWD, O_RDONLY|O_CLOEXEC
        ("fstatfs", [4, 0, 0, 0, 0, 0], []),
        ("getdents64", [4, 0, 8192, 0, 0, 0], []),
    ]

    /// The syscalls of `runcAfterFilter` the policy's filter denies on the native architecture.
    public static func deniedRuncCalls(_ filter: CompiledFilter) -> [String] {
        var names: [String] = []
        for call in deniedCalls(filter) where !names.contains(call.name) { names.append(call.name) }
        return names
    }

    private static func deniedCalls(_ filter: CompiledFilter) -> [(name: String, args: [UInt64], compared: [Int])] {
        runcAfterFilter.filter { call in
            guard let nr = SyscallTable.forArch(.native).number(of: call.name),
                  let outcome = try? BPFInterpreter(filter.program).run(auditArch: Arch.native.auditArch, nr: nr, args: call.args) else { return false }
            return outcome.action != .allow && outcome.action != .log
        }
    }

    /// Where the policy decides the first of `names` on the native architecture.
    public static func firstRule(of names: [String], in filter: CompiledFilter) -> SourceLocation? {
        guard let abi = filter.ir.archIR(.native) else { return nil }
        return names.lazy.compactMap { abi.table.number(of: $0).flatMap { abi.rules[$0]?.first?.origin } }.first
    }

    static func startableByRunc(_ filter: CompiledFilter) -> CompiledFilter {
        let denied = deniedCalls(filter)
        guard !denied.isEmpty else { return filter }
        var ir = filter.ir
        for call in denied {
            let condition: BoolExpr? = call.compared.isEmpty ? nil
                : .and(call.compared.map { .cmp(ArgCmp(arg: $0, mask: nil, op: .eq, value: call.args[$0])) })
            for i in ir.arches.indices {
                guard let nr = ir.arches[i].table.number(of: call.name) else { continue }
                // 32-bit ABIs compare low halves, as the policy's own conditions there.
                let condition = ir.arches[i].arch.hasWideArguments ? condition : condition.map { $0.map(\.narrowed) }
                let origin = ir.arches[i].rules[nr]?.first?.origin ?? SourceLocation(file: filter.policy.file, line: 1, column: 1)
                ir.arches[i].rules[nr, default: []].insert(IRRule(condition: condition, action: .allow, origin: origin), at: 0)
            }
        }
        let program = (try? SeccompCodegen(ir).generate()) ?? filter.program
        return CompiledFilter(policy: filter.policy, ir: ir, program: program, capabilities: filter.capabilities)
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
        var linux = try OCIFragmentEmitter(seccompFilter).linuxFields()
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
