import PolicyModel

/// A finding of `policyc lint`: an id, a severity, where in the policy, and why it matters.
public struct Finding: Sendable, Hashable {
    public enum Severity: String, Sendable, CaseIterable, Comparable {
        case note, warning, error
        public static func < (a: Severity, b: Severity) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }

    public var id: String
    public var severity: Severity
    public var location: SourceLocation
    public var message: String
}

/// What each finding id means, with a reference: Docs/lint.md is written from the same table.
public struct LintRule: Sendable {
    public let id: String
    public let name: String
    public let severity: Finding.Severity
    public let help: String
    public let reference: String
}

/// `policyc lint`: risky allowances, dead rules and contradictions between layers, read from
/// the semantic engine (an allowance is a region whose verdict allows).
public struct Linter {
    public let policy: Policy
    public let ir: FilterIR
    public let bounding: UInt64

    /// Partitions already computed: the checks read the same syscalls many times.
    private let partitions = PartitionCache()
    /// The policy file's lines, read once, for `keyLocation`.
    private let sourceLines: [Substring]

    public init(policy: Policy, ir: FilterIR, bounding: UInt64) {
        (self.policy, self.ir, self.bounding) = (policy, ir, bounding)
        let text = (try? String(contentsOfFile: policy.file, encoding: .utf8)) ?? ""
        sourceLines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    final class PartitionCache: @unchecked Sendable {
        var byKey: [String: SyscallPartition] = [:]
    }

    /// The filter's partition of `nr` on `arch`, computed once when nothing extra is asked.
    func partition(_ arch: Arch, _ nr: UInt32, asking: [ArgCmp] = []) -> SyscallPartition {
        guard asking.isEmpty else { return Semantics.partition([ir], arch: arch, nr: nr, asking: asking) }
        let key = "\(arch.rawValue)/\(nr)"
        if let p = partitions.byKey[key] { return p }
        let p = Semantics.partition([ir], arch: arch, nr: nr)
        partitions.byKey[key] = p
        return p
    }

    public static let rules: [LintRule] = [
        LintRule(id: "PC001", name: "dead-rule", severity: .warning, help: "The rule decides no call on any ABI: earlier rules decide every call it would match, or its condition never holds. Remove it or move it up.", reference: "Docs/language.md#rules (first match wins)"),
        LintRule(id: "PC002", name: "shadowed-rule", severity: .note, help: "The rule decides no call of some of its syscalls: earlier rules decide them all.", reference: "Docs/language.md#rules"),
        LintRule(id: "PC003", name: "cannot-start", severity: .error, help: "The filter denies execve or exit_group whatever the arguments: no process can start or end cleanly under it.", reference: "Docs/run.md"),
        LintRule(id: "PC004", name: "compat-twin", severity: .warning, help: "The syscall is allowed for some arguments on one ABI and for none on another that has it: a 64-bit constant narrowed to another condition on the 32-bit ABI, or a compat ABI forgotten (a second way in).", reference: "https://lwn.net/Articles/738694/"),
        LintRule(id: "PC005", name: "new-privileges", severity: .warning, help: "noNewPrivileges: false lets setuid binaries and file capabilities raise privileges inside the container.", reference: "https://docs.kernel.org/userspace-api/no_new_privs.html"),
        LintRule(id: "PC101", name: "ptrace", severity: .warning, help: "ptrace reads and writes other processes' memory and registers (CVE-2019-5736 used /proc/PID/exe; ptrace is the same class).", reference: "https://man7.org/linux/man-pages/man2/ptrace.2.html"),
        LintRule(id: "PC102", name: "process-vm", severity: .warning, help: "process_vm_readv/writev copy another process's memory.", reference: "https://man7.org/linux/man-pages/man2/process_vm_readv.2.html"),
        LintRule(id: "PC103", name: "bpf", severity: .warning, help: "bpf loads programs into the kernel, a frequent privilege-escalation path (CVE-2021-3490, CVE-2022-23222).", reference: "https://docs.kernel.org/bpf/"),
        LintRule(id: "PC104", name: "perf-event", severity: .warning, help: "perf_event_open exposes kernel state and has had escalations (CVE-2023-2235).", reference: "https://man7.org/linux/man-pages/man2/perf_event_open.2.html"),
        LintRule(id: "PC105", name: "userfaultfd", severity: .warning, help: "userfaultfd lets a process stall the kernel on a page fault, widening race windows in exploits.", reference: "https://docs.kernel.org/admin-guide/mm/userfaultfd.html"),
        LintRule(id: "PC106", name: "keyring", severity: .warning, help: "keyctl/add_key/request_key reach the kernel keyring, which is not namespaced (CVE-2016-0728).", reference: "https://man7.org/linux/man-pages/man2/keyctl.2.html"),
        LintRule(id: "PC107", name: "namespaces", severity: .warning, help: "Creating namespaces (unshare, clone with CLONE_NEW*, setns, clone3) opens the user-namespace attack surface (CVE-2022-0185).", reference: "https://man7.org/linux/man-pages/man7/user_namespaces.7.html"),
        LintRule(id: "PC108", name: "mount", severity: .warning, help: "The mount family changes what the container sees and can undo read-only and masked paths.", reference: "https://man7.org/linux/man-pages/man2/mount.2.html"),
        LintRule(id: "PC109", name: "open-by-handle", severity: .error, help: "open_by_handle_at opens files by handle, escaping the mount namespace (the 'shocker' escape).", reference: "https://man7.org/linux/man-pages/man2/open_by_handle_at.2.html"),
        LintRule(id: "PC110", name: "personality", severity: .warning, help: "personality without an argument condition can turn on READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE; Docker allows only a few values.", reference: "https://man7.org/linux/man-pages/man2/personality.2.html"),
        LintRule(id: "PC111", name: "io-uring", severity: .warning, help: "io_uring performs syscalls' work outside the seccomp filter's sight and has had many escalations.", reference: "https://security.googleblog.com/2023/06/learnings-from-kctf-vrps-42-linux.html"),
        LintRule(id: "PC112", name: "kexec", severity: .error, help: "kexec_load/kexec_file_load replace the running kernel.", reference: "https://man7.org/linux/man-pages/man2/kexec_load.2.html"),
        LintRule(id: "PC113", name: "kernel-modules", severity: .error, help: "init_module/finit_module/delete_module load and remove kernel code.", reference: "https://man7.org/linux/man-pages/man2/init_module.2.html"),
        LintRule(id: "PC114", name: "tiocsti", severity: .warning, help: "ioctl(TIOCSTI) pushes input into a terminal: a command typed into the caller's shell (CVE-2016-9016 class).", reference: "https://man7.org/linux/man-pages/man2/TIOCSTI.2const.html"),
        LintRule(id: "PC201", name: "capability", severity: .warning, help: "The capability is broad: CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN and CAP_BPF each undo much of the isolation.", reference: "https://man7.org/linux/man-pages/man7/capabilities.7.html"),
        LintRule(id: "PC301", name: "run-namespaces", severity: .warning, help: "policyc run without a pid or mount namespace shares the host's processes or mounts with the container.", reference: "Docs/run.md"),
        LintRule(id: "PC302", name: "run-limits", severity: .note, help: "No memory or pids limit: the container can exhaust the host (fork bombs).", reference: "Docs/run.md"),
        LintRule(id: "PC401", name: "dead-allowance", severity: .note, help: "The syscall is allowed but needs a capability the policy drops: the allowance does nothing.", reference: "https://man7.org/linux/man-pages/man7/capabilities.7.html"),
        LintRule(id: "PC403", name: "network-intent-undone", severity: .warning, help: "network.families lists a family that the seccomp rules refuse for socket anyway: the intent says one thing, the filter another.", reference: "Docs/language.md#intent-filesystem-network-landlock-apparmor-selinux"),
        LintRule(id: "PC404", name: "deny-inside-grant", severity: .note, help: "A filesystem.deny path lies inside a path the policy grants. policyc run masks it (Landlock cannot take part of a granted tree back), but an OCI runtime given NAME.oci.json enforces it only through the AppArmor profile: without AppArmor there the path stays reachable.", reference: "https://docs.kernel.org/userspace-api/landlock.html"),
        LintRule(id: "PC405", name: "mount-against-intent", severity: .warning, help: "A container mount contradicts the filesystem intent: a writable mount where the intent only reads or denies, or a mount over a denied path.", reference: "Docs/run.md"),
        LintRule(id: "PC406", name: "apparmor-against-intent", severity: .warning, help: "A raw apparmor.rules line grants writing (w, a, l) or executing (x) where the filesystem intent does not: the profile says more than the intent.", reference: "Docs/outputs.md#apparmor"),
        LintRule(id: "PC402", name: "useless-capability", severity: .note, help: "The capability is kept but every syscall it serves is denied: drop it.", reference: "https://man7.org/linux/man-pages/man7/capabilities.7.html"),
    ]

    static func rule(_ id: String) -> LintRule { rules.first { $0.id == id }! }

    /// Risky syscalls: allowed in any region is a finding (with the comparison, in that region).
    static let risky: [(id: String, syscalls: [String], asking: ArgCmp?)] = [
        ("PC101", ["ptrace"], nil), ("PC102", ["process_vm_readv", "process_vm_writev"], nil), ("PC103", ["bpf"], nil),
        ("PC104", ["perf_event_open"], nil), ("PC105", ["userfaultfd"], nil), ("PC106", ["keyctl", "add_key", "request_key"], nil),
        ("PC107", ["unshare", "setns", "clone3"], nil),
        ("PC107", ["clone"], ArgCmp(arg: 0, mask: 0x7E02_0000, op: .ne, value: 0)),
        ("PC108", ["mount", "umount2", "fsopen", "fsmount", "move_mount", "open_tree", "fsconfig", "pivot_root", "mount_setattr"], nil),
        ("PC109", ["open_by_handle_at"], nil), ("PC111", ["io_uring_setup", "io_uring_enter", "io_uring_register"], nil),
        ("PC112", ["kexec_load", "kexec_file_load"], nil), ("PC113", ["init_module", "finit_module", "delete_module"], nil),
        ("PC114", ["ioctl"], ArgCmp(arg: 1, mask: nil, op: .eq, value: 0x5412)),
    ]

    /// Capabilities and the syscalls that need them, for the cross-layer checks.
    static let capabilitySyscalls: [(String, [String])] = [
        ("CAP_SYS_TIME", ["settimeofday", "clock_settime", "stime"]), ("CAP_SYS_MODULE", ["init_module", "finit_module", "delete_module"]),
        ("CAP_SYS_BOOT", ["reboot", "kexec_load", "kexec_file_load"]), ("CAP_SYS_CHROOT", ["chroot"]), ("CAP_SYS_PTRACE", ["ptrace", "process_vm_readv", "process_vm_writev"]),
        ("CAP_MKNOD", ["mknod", "mknodat"]), ("CAP_SYS_RAWIO", ["iopl", "ioperm"]), ("CAP_SYS_PACCT", ["acct"]), ("CAP_SYSLOG", ["syslog"]),
        ("CAP_BPF", ["bpf"]), ("CAP_PERFMON", ["perf_event_open"]), ("CAP_SYS_ADMIN", ["mount", "umount2", "pivot_root", "swapon", "swapoff", "sethostname", "setdomainname"]),
    ]

    static let riskyCapabilities = ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN", "CAP_BPF"]

    static func allows(_ a: Action) -> Bool { a == .allow || a == .log }

    public func findings() -> [Finding] {
        var out = deadRules() + cannotStart() + compatTwins() + riskyAllowances() + capabilities() + crossLayer() + runSettings() + intent()
        if policy.noNewPrivileges == false { out.append(finding("PC005", at: keyLocation("noNewPrivileges"), "noNewPrivileges is false")) }
        return Self.mergingArches(out).sorted { ($0.location.file, $0.location.line, $0.location.column, $0.id) < ($1.location.file, $1.location.line, $1.location.column, $1.id) }
    }

    /// One finding per id, place and message, the ABIs it holds on listed together.
    static func mergingArches(_ findings: [Finding]) -> [Finding] {
        var order: [String] = [], arches: [String: [String]] = [:], first: [String: Finding] = [:]
        for f in findings {
            var message = f.message, arch: String?
            if message.hasSuffix(")"), let open = message.lastIndex(of: "("), Arch(rawValue: String(message[message.index(after: open)..<message.index(before: message.endIndex)])) != nil {
                arch = String(message[message.index(after: open)..<message.index(before: message.endIndex)])
                message = String(message[..<open]).trimmingCharacters(in: .whitespaces)
            }
            let key = "\(f.id)|\(f.location)|\(message)"
            if first[key] == nil { order.append(key); var g = f; g.message = message; first[key] = g }
            if let arch, !(arches[key] ?? []).contains(arch) { arches[key, default: []].append(arch) }
        }
        return order.map { key in
            var f = first[key]!
            if let list = arches[key] { f.message += " (\(list.joined(separator: ", ")))" }
            return f
        }
    }

    func finding(_ id: String, at location: SourceLocation, _ message: String) -> Finding {
        Finding(id: id, severity: Self.rule(id).severity, location: location, message: message)
    }

    var start: SourceLocation { SourceLocation(file: policy.file, line: 1, column: 1) }

    /// Where `key:` is written at the top of the policy file (the parser keeps no location for
    /// plain scalars), else the file's start.
    func keyLocation(_ key: String) -> SourceLocation {
        for (i, line) in sourceLines.enumerated() where line.hasPrefix(key + ":") {
            return SourceLocation(file: policy.file, line: i + 1, column: 1)
        }
        return start
    }

    /// Rules the policy's file writes that decide no region: dead on every syscall they name
    /// (or not even in the IR, after an unconditional rule), or shadowed on some.
    func deadRules() -> [Finding] {
        var decided: [SourceLocation: Set<String>] = [:]
        for abi in ir.arches {
            for nr in abi.rules.keys {
                let p = partition(abi.arch, nr)
                guard p.exact else { return [] }
                for region in p.regions { if case .rule(let r) = region.outcomes[0].verdict { decided[r.origin, default: []].insert(p.name) } }
            }
        }
        var out: [Finding] = []
        for rule in policy.seccomp.rules where rule.location.file == policy.file && rule.derivedFrom == nil && rule.includes.isEmpty && rule.excludes.isEmpty {
            let names = Set(rule.names.flatMap { SyscallGroups.expand($0.value) ?? [$0.value] }).filter { n in ir.arches.contains { $0.table.number(of: n) != nil } }
            let dead = names.subtracting(decided[rule.location] ?? [])
            guard !dead.isEmpty else { continue }
            if dead == names { out.append(finding("PC001", at: rule.location, "this rule decides no call: earlier rules decide all of \(dead.sorted().joined(separator: ", "))")) }
            else { out.append(finding("PC002", at: rule.location, "this rule decides no call of \(dead.sorted().joined(separator: ", ")): earlier rules decide them")) }
        }
        return out
    }

    func cannotStart() -> [Finding] {
        guard let abi = ir.archIR(.native) ?? ir.arches.first else { return [] }
        return ["execve", "exit_group"].compactMap { name in
            guard let nr = abi.table.number(of: name) else { return nil }
            let p = partition(abi.arch, nr)
            guard !p.regions.contains(where: { Self.allows($0.outcomes[0].action) }) else { return nil }
            return finding("PC003", at: origin(of: p.regions.first?.outcomes[0].verdict) ?? start, "\(name) is denied whatever its arguments on \(abi.arch.rawValue)")
        }
    }

    func origin(of verdict: Verdict?) -> SourceLocation? {
        switch verdict {
        case .rule(let r)?: return r.origin
        case .defaultAction?: return policy.seccomp.defaultAction?.location
        default: return nil
        }
    }

    /// Allowed for some arguments on one ABI, for none on its twin (a 64-bit constant that
    /// narrows to another condition on the 32-bit ABI does that).
    func compatTwins() -> [Finding] {
        guard let wide = ir.archIR(.x86_64), let compat = ir.archIR(.x86) else { return [] }
        var out: [Finding] = []
        for entry in wide.table.entries {
            guard let twin = compat.table.number(of: entry.name) else { continue }
            let a = partition(.x86_64, entry.number), b = partition(.x86, twin)
            let aSome = a.regions.first { Self.allows($0.outcomes[0].action) }, bSome = b.regions.first { Self.allows($0.outcomes[0].action) }
            guard (aSome == nil) != (bSome == nil), let some = aSome ?? bSome else { continue }
            let (yes, no) = aSome != nil ? ("x86_64", "x86") : ("x86", "x86_64")
            out.append(finding("PC004", at: origin(of: some.outcomes[0].verdict) ?? start, "\(entry.name) is allowed for some arguments on \(yes) and for none on \(no)"))
        }
        return out
    }

    func riskyAllowances() -> [Finding] {
        var out: [Finding] = []
        for abi in ir.arches {
            for (id, names, asking) in Self.risky {
                for name in names {
                    guard let nr = abi.table.number(of: name) else { continue }
                    let p = partition(abi.arch, nr, asking: asking.map { [$0] } ?? [])
                    guard let region = p.regions.first(where: { r in Self.allows(r.outcomes[0].action) && (asking.map { c in p.holds(c, in: r) } ?? true) }) else { continue }
                    let what = asking == nil ? "\(name) is allowed" : "\(name) is allowed with \(p.describe(region))"
                    out.append(finding(id, at: origin(of: region.outcomes[0].verdict) ?? start, what + " (\(abi.arch.rawValue))"))
                }
            }
            if let nr = abi.table.number(of: "personality") {
                let p = partition(abi.arch, nr)
                if p.arguments.isEmpty, let region = p.regions.first, Self.allows(region.outcomes[0].action) {
                    out.append(finding("PC110", at: origin(of: region.outcomes[0].verdict) ?? start, "personality is allowed without an argument condition (\(abi.arch.rawValue))"))
                }
            }
        }
        return out
    }

    func capabilityLocation(_ name: String) -> SourceLocation {
        let spec = policy.capabilities
        let lists = [spec?.add, spec?.bounding, spec?.effective, spec?.permitted].compactMap { $0 }.flatMap { $0 }
        return lists.first { Capabilities.canonical($0.value) == name }?.location ?? spec?.location ?? start
    }

    func capabilities() -> [Finding] {
        Self.riskyCapabilities.compactMap { name in
            guard let n = Capabilities.number(name), bounding & (1 << UInt64(n)) != 0 else { return nil }
            return finding("PC201", at: capabilityLocation(name), "\(name) is in the bounding set")
        }
    }

    func crossLayer() -> [Finding] {
        guard let abi = ir.archIR(.native) ?? ir.arches.first else { return [] }
        var out: [Finding] = []
        for (cap, names) in Self.capabilitySyscalls {
            guard let n = Capabilities.number(cap) else { continue }
            let kept = bounding & (1 << UInt64(n)) != 0
            var allowed: [(String, SourceLocation?)] = []
            for name in names {
                guard let nr = abi.table.number(of: name) else { continue }
                let p = partition(abi.arch, nr)
                if let r = p.regions.first(where: { Self.allows($0.outcomes[0].action) }) { allowed.append((name, origin(of: r.outcomes[0].verdict))) }
            }
            if kept && allowed.isEmpty { out.append(finding("PC402", at: capabilityLocation(cap), "\(cap) is kept but \(names.joined(separator: ", ")) are all denied")) }
            // Only an allowance the policy wrote itself is worth a word: the defaults are Docker's.
            for (name, at) in allowed where !kept {
                if let at, at.file == policy.file { out.append(finding("PC401", at: at, "\(name) is allowed but \(cap) is not in the bounding set")) }
            }
        }
        return out
    }

    /// The intent sections against the filter and against Landlock.
    func intent() -> [Finding] {
        var out: [Finding] = []
        if let network = policy.network, let families = network.families, let abi = ir.archIR(.native) ?? ir.arches.first,
           let nr = abi.table.number(of: "socket") {
            for family in families {
                guard let constant = NetworkSpec.familyConstants[family.value], let value = Constants.value(of: constant, on: abi.arch) else { continue }
                let asking = ArgCmp(arg: 0, mask: nil, op: .eq, value: value)
                let p = partition(abi.arch, nr, asking: [asking])
                if !p.regions.contains(where: { Self.allows($0.outcomes[0].action) && p.holds(asking, in: $0) }) {
                    out.append(finding("PC403", at: family.location, "network.families lists \(family.value), but socket(\(constant), …) is denied by the seccomp rules"))
                }
            }
        }
        out += mountsAndAppArmorAgainstIntent()
        if let fs = policy.filesystem {
            let granted = fs.read + fs.write + fs.exec
            for deny in fs.deny {
                if let grant = granted.first(where: { g in g.value == "/" || deny.value == g.value || deny.value.hasPrefix(g.value.hasSuffix("/") ? g.value : g.value + "/") }) {
                    out.append(finding("PC404", at: deny.location, "\(deny.value) is denied inside \(grant.value), which is granted: policyc run masks it; other runtimes need AppArmor for it"))
                }
            }
        }
        return out
    }

    static func under(_ path: String, _ root: String) -> Bool {
        root == "/" || path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    /// Mounts and raw AppArmor rules that say more than the filesystem intent.
    func mountsAndAppArmorAgainstIntent() -> [Finding] {
        guard let fs = policy.filesystem else { return [] }
        var out: [Finding] = []
        let writable = fs.write.map(\.value), denied = fs.deny.map(\.value), executable = fs.exec.map(\.value)
        for m in policy.container.mounts ?? [] {
            let readOnly = m.options.contains("ro")
            if denied.contains(where: { Self.under(m.destination, $0) || Self.under($0, m.destination) }) {
                out.append(finding("PC405", at: keyLocation("container"), "the \(m.type) mount at \(m.destination) covers a denied path"))
            } else if !readOnly, !writable.contains(where: { Self.under(m.destination, $0) }) {
                out.append(finding("PC405", at: keyLocation("container"), "the \(m.type) mount at \(m.destination) is writable, but filesystem.write does not list it"))
            }
        }
        for rule in policy.apparmor?.rules ?? [] {
            let words = rule.trimmingCharacters(in: .whitespaces).split(separator: " ")
            guard words.count == 2, words[0].hasPrefix("/"), words[1].hasSuffix(",") else { continue }
            let path = String(words[0]).replacingOccurrences(of: "{,/**}", with: "").replacingOccurrences(of: "/**", with: "")
            let perms = words[1].dropLast()
            if perms.contains(where: { "wal".contains($0) }), !writable.contains(where: { Self.under(path, $0) }) {
                out.append(finding("PC406", at: keyLocation("apparmor"), "apparmor rule '\(rule)' writes where filesystem.write does not"))
            }
            if perms.contains("x"), !executable.contains(where: { Self.under(path, $0) }) {
                out.append(finding("PC406", at: keyLocation("apparmor"), "apparmor rule '\(rule)' executes where filesystem.exec does not"))
            }
        }
        return out
    }

    func runSettings() -> [Finding] {
        var out: [Finding] = []
        if let namespaces = policy.container.namespaces {
            let missing = ["pid", "mount"].filter { !namespaces.contains($0) }
            if !missing.isEmpty { out.append(finding("PC301", at: keyLocation("container"), "container.namespaces lacks \(missing.joined(separator: " and "))")) }
        }
        if policy.container.memory == nil || policy.container.pids == nil, policy.file.hasSuffix(".yaml") || policy.file.hasSuffix(".yml") {
            let missing = [policy.container.memory == nil ? "memory" : nil, policy.container.pids == nil ? "pids" : nil].compactMap { $0 }
            out.append(finding("PC302", at: keyLocation("container"), "no \(missing.joined(separator: " or ")) limit for policyc run"))
        }
        return out
    }
}

extension Finding {
    /// `# policyc: allow ID reason` on the finding's line or the one above silences it.
    public func isSilenced(in lines: [Substring]) -> Bool {
        for n in [location.line - 1, location.line - 2] where n >= 0 && n < lines.count {
            if let range = lines[n].range(of: "# policyc: allow ") {
                let rest = lines[n][range.upperBound...].split(separator: " ")
                if rest.first.map(String.init) == id, rest.count >= 2 { return true }
            }
        }
        return false
    }
}
