import PolicyCore
import SystemLayer

/// What the host offers; injected so the launch order can be tested without root.
public struct HostFacts: Sendable {
    public var landlockABI: Int
    public var enabledLSMs: Set<LSM>
    public var rootless: Bool
    public var uid: UInt32
    public var gid: UInt32
    /// Host paths: kind of each, for the host rootfs view and masked paths.
    public var isDirectory: @Sendable (String) -> Bool
    public var symlinkTarget: @Sendable (String) -> String?
    public var exists: @Sendable (String) -> Bool
    public var isExecutable: @Sendable (String) -> Bool

    public init(landlockABI: Int, enabledLSMs: Set<LSM>, rootless: Bool, uid: UInt32, gid: UInt32,
                isDirectory: @escaping @Sendable (String) -> Bool, symlinkTarget: @escaping @Sendable (String) -> String?,
                exists: @escaping @Sendable (String) -> Bool, isExecutable: @escaping @Sendable (String) -> Bool) {
        self.landlockABI = landlockABI
        self.enabledLSMs = enabledLSMs
        self.rootless = rootless
        self.uid = uid
        self.gid = gid
        self.isDirectory = isDirectory
        self.symlinkTarget = symlinkTarget
        self.exists = exists
        self.isExecutable = isExecutable
    }

    public static func current() -> HostFacts {
        HostFacts(landlockABI: ProcessControl.landlockABI(), enabledLSMs: Set(LSM.allCases.filter(\.isEnabled)),
                  rootless: ProcessControl.currentUID() != 0, uid: ProcessControl.currentUID(), gid: ProcessControl.currentGID(),
                  isDirectory: { System.isDirectory($0) }, symlinkTarget: { System.symlinkTarget($0) },
                  exists: { System.exists($0) }, isExecutable: { System.isExecutable($0) })
    }
}

public struct RunOptions: Sendable {
    public var rootfs: String?
    public var command: [String]
    public var lsmOptional: Bool
    /// Run a minimal init as pid 1 that reaps zombies and forwards signals.
    public var initProcess: Bool
    /// The terminal to give the container (`--tty`), set by the runner.
    public var terminalFD: Int32?
    /// The container's own cgroup, set by the runner: on v2 made before the clone (which
    /// puts the child in it), on v1 while the child mounts.
    public var cgroup: ContainerCgroup?
    /// `--audit`: the filter (an audit program) reports to a listener policyc takes.
    public var audit = false
    /// `--preserve-fds N`: descriptors 3 to 3+N-1 cross the execve, as with runc.
    public var preserveDescriptors: Int32 = 0
    /// The sealed init binary (`--init`), set by the runner.
    public var initBinaryFD: Int32?
    /// `--name`: the container's name (its cgroup is policyc-NAME).
    public var name: String?

    public init(rootfs: String? = nil, command: [String], lsmOptional: Bool = false, initProcess: Bool = false) {
        self.rootfs = rootfs
        self.command = command
        self.lsmOptional = lsmOptional
        self.initProcess = initProcess
    }
}

public struct PlanError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The container's launch sequence as data: mounts, pivot_root, hostname, rlimits, capability
/// bounding set, groups and ids, final capabilities, no_new_privs, Landlock, LSM label,
/// seccomp, execve — in that order.
public struct LaunchPlanner {
    public let profile: RunProfile
    public let options: RunOptions
    public let host: HostFacts

    public init(profile: RunProfile, options: RunOptions, host: HostFacts) {
        self.profile = profile
        self.options = options
        self.host = host
    }

    var container: ContainerSpec { profile.container }
    var namespaces: [String] { profile.namespaces }
    public var usesUserNamespace: Bool { host.rootless || namespaces.contains("user") }
    /// "host": a read-only view of the host's system directories.
    public var rootfs: String { options.rootfs ?? container.rootfs ?? "host" }
    var newRoot: String { rootfs == "host" ? "/tmp" : rootfs }

    // Linux flags (linux/mount.h, linux/sched.h).
    static let MS_RDONLY: UInt = 1, MS_NOSUID: UInt = 2, MS_NODEV: UInt = 4, MS_NOEXEC: UInt = 8
    static let MS_REMOUNT: UInt = 32, MS_BIND: UInt = 4096, MS_REC: UInt = 16384, MS_PRIVATE: UInt = 1 << 18
    static let MS_STRICTATIME: UInt = 1 << 24
    static let CLONE_NEWCGROUP: Int32 = 0x0200_0000
    static let cloneFlags: [String: UInt64] = [
        "mount": 0x0002_0000, "uts": 0x0400_0000, "ipc": 0x0800_0000, "user": 0x1000_0000,
        "pid": 0x2000_0000, "net": 0x4000_0000, "time": 0x80,
    ]

    /// The namespaces the clone creates; the cgroup namespace comes later, by unshare, once the
    /// child is in its cgroup, so that the container sees that cgroup as its root.
    public func cloneFlags() -> UInt64 {
        var flags = Self.cloneFlags["mount"]!
        for ns in namespaces { flags |= Self.cloneFlags[ns] ?? 0 }
        if usesUserNamespace { flags |= Self.cloneFlags["user"]! }
        return flags
    }

    public func plan() throws(PlanError) -> [LaunchStep] {
        if usesUserNamespace && !namespaces.contains("pid") {
            throw PlanError(message: "a user namespace\(host.rootless ? " (rootless)" : "") needs a pid namespace too: only the owner of the pid namespace may mount /proc (add pid to container.namespaces)")
        }
        if let verdict = profile.execveDenial {
            throw PlanError(message: "the policy's seccomp filter answers execve with \(verdict): the command could not start (allow execve, or extend a policy that does: extends: [default])")
        }
        // Nothing policyc holds (its memory, descriptors the caller left open, its terminal)
        // is for the container: not dumpable during setup, descriptors past the kept ones
        // closed at exec, and a session of its own.
        // With a user namespace nothing may happen before the id maps are written; the child
        // is dumpable until then (rootless, its /proc files must stay the caller's to write).
        // A rootless audit takes the listener with pidfd_getfd, which a non-dumpable child
        // refuses to its unprivileged user: that child stays dumpable (to its own user only)
        // until its exec.
        var steps: [LaunchStep] = usesUserNamespace ? [.awaitParent] : []
        // Run by root, the child's own ids (the host's 0) are outside the container's map:
        // it takes the namespace's root (the mapped range's first id) before it makes a file.
        if usesUserNamespace && !host.rootless { steps += [.setgid(0), .setuid(0)] }
        if !(host.rootless && options.audit) { steps.append(.dumpable(false)) }
        steps += [.closeInheritedDescriptors(from: 3 + options.preserveDescriptors)]
        if namespaces.contains("net") { steps.append(.loopbackUp) }
        steps += try mountSteps()
        // The child joins its cgroup while the host's cgroup tree is still in reach, takes a
        // cgroup namespace rooted there, and sees that cgroup at /sys/fs/cgroup. In a user
        // namespace policyc joins it from outside (the host's cgroup files are not the
        // container root's to write).
        if let cgroup = options.cgroup, !usesUserNamespace {
            if cgroup.layout == .v1 { steps.append(.awaitParent) }
            steps += cgroup.joinFiles.map { LaunchStep.joinCgroup($0) }
        }
        if namespaces.contains("cgroup") {
            steps.append(.unshare(flags: Self.CLONE_NEWCGROUP))
            steps += options.cgroup.map(cgroupViewSteps) ?? []
        }
        steps.append(.pivotRoot(newRoot))
        steps.append(.chdir(container.cwd ?? "/"))
        if namespaces.contains("uts") { steps.append(.sethostname(container.hostname ?? profile.name)) }
        steps += rlimitSteps()
        // A session of its own (and the terminal, with --tty) once the mounts are done: setsid
        // starts a new scheduling autogroup, after which the child waits for a CPU behind
        // policyc's own setup (0.35 ms measured); it precedes a filter that could deny it.
        steps.append(options.terminalFD.map { .terminal(fd: $0) } ?? .newSession)
        let seccomp = LaunchStep.seccomp(filter: profile.seccompFilter, flags: profile.seccompFlags | (options.audit ? LaunchStep.newListenerFlag : 0))
        // Without no_new_privs the filter needs CAP_SYS_ADMIN to load: as runc does, it goes in
        // before the capabilities are dropped, unless the container keeps CAP_SYS_ADMIN.
        let filterFirst = !profile.noNewPrivileges && profile.capabilities.effective & (1 << 21) == 0
        // The init execs its sealed binary under a filter of its own. Audited, it forks before
        // the audit filter, whatever the order: only the command carries it, so nothing the
        // init does is reported as the workload's.
        let initStep = options.initBinaryFD.map { LaunchStep.initProcess(binaryFD: $0, filter: profile.initFilter) }
        if filterFirst, options.audit, let initStep { steps.append(initStep) }
        if filterFirst { steps.append(seccomp) }
        steps += credentialSteps()
        if profile.noNewPrivileges { steps.append(.noNewPrivileges) }
        steps += try landlockSteps()
        steps += try lsmSteps()
        if let initStep, !(filterFirst && options.audit) { steps.append(initStep) }
        if !filterFirst { steps.append(seccomp) }
        steps.append(try execStep())
        return steps
    }

    // MARK: mounts

    static let hostDirectories = ["usr", "etc", "bin", "sbin", "lib", "lib64", "lib32", "libx32"]
    /// The device nodes every container gets (runc's defaults), as (name, major, minor).
    static let devices: [(String, UInt32, UInt32)] = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
    // MOUNT_ATTR_* (linux/mount.h): the same bits as MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC.
    static let readOnlyAttributes: UInt64 = 0x1 | 0x2 | 0x4
    static let nodevAttribute: UInt64 = 0x4

    func mountSteps() throws(PlanError) -> [LaunchStep] {
        let r = newRoot
        var steps: [LaunchStep] = [.mount(source: nil, target: "/", fstype: nil, flags: Self.MS_REC | Self.MS_PRIVATE, data: nil, optional: false)]
        if rootfs == "host" {
            steps.append(.mount(source: "tmpfs", target: r, fstype: "tmpfs", flags: Self.MS_NOSUID | Self.MS_NODEV, data: "mode=755,size=16m", optional: false))
            steps.append(.openRoot(r))
            for dir in Self.hostDirectories where host.exists("/" + dir) {
                if let target = host.symlinkTarget("/" + dir) {
                    steps.append(.symlink(target: target, at: "\(r)/\(dir)"))
                } else {
                    steps += readOnlyBind("/" + dir, "\(r)/\(dir)", create: .directory)
                }
            }
        } else {
            guard host.isDirectory(r) else { throw PlanError(message: "rootfs \(r) is not a directory") }
            steps.append(.mount(source: r, target: r, fstype: nil, flags: Self.MS_BIND | Self.MS_REC, data: nil, optional: false))
            steps.append(.openRoot(r))
            // A device node shipped in the image opens nothing: the image's mounts are nodev.
            steps.append(.setAttributes(r, set: Self.nodevAttribute, clear: 0))
        }
        steps.append(.mount(source: "proc", target: "\(r)/proc", fstype: "proc", flags: Self.MS_NOSUID | Self.MS_NODEV | Self.MS_NOEXEC, data: nil, optional: false, create: .directory))
        steps += try devSteps(r)
        if namespaces.contains("net") {
            steps.append(.mount(source: "sysfs", target: "\(r)/sys", fstype: "sysfs", flags: Self.MS_RDONLY | Self.MS_NOSUID | Self.MS_NODEV | Self.MS_NOEXEC, data: nil, optional: false, create: .directory))
        } else {
            // The host's /sys with every submount (the cgroup tree among them) read-only.
            steps += readOnlyBind("/sys", "\(r)/sys", create: .directory, extra: 0x8)
        }
        // The host view gets a fresh /tmp; a rootfs of its own keeps its /tmp, as with runc.
        if rootfs == "host" {
            steps.append(.mount(source: "tmpfs", target: "\(r)/tmp", fstype: "tmpfs", flags: Self.MS_NOSUID | Self.MS_NODEV, data: "mode=1777", optional: false, create: .directory))
        }
        steps += try policyMounts(r)
        steps += maskSteps(r)
        return steps
    }

    /// A recursive bind made read-only, nosuid and nodev at every depth (mount_setattr with
    /// AT_RECURSIVE: a plain remount would leave the submounts writable).
    func readOnlyBind(_ source: String, _ target: String, optional: Bool = false, create: LaunchStep.Create = .nothing, extra: UInt64 = 0) -> [LaunchStep] {
        [.mount(source: source, target: target, fstype: nil, flags: Self.MS_BIND | Self.MS_REC, data: nil, optional: optional, create: create),
         .setAttributes(target, set: Self.readOnlyAttributes | extra, clear: 0, optional: optional)]
    }

    /// /dev: a nodev tmpfs in which only the nodes policyc makes work. Outside a user namespace
    /// they are made (mknod) in it while it still allows devices, each bound onto itself (a
    /// mount of its own, which keeps allowing them), and then /dev alone is remounted nodev: a
    /// node made there later opens nothing. In a user namespace, which may not make nodes, the
    /// host's are bound.
    func devSteps(_ r: String) throws(PlanError) -> [LaunchStep] {
        let dev = "\(r)/dev"
        let devFlags = Self.MS_NOSUID | Self.MS_STRICTATIME
        var steps: [LaunchStep] = [
            .mount(source: "tmpfs", target: dev, fstype: "tmpfs", flags: devFlags | (usesUserNamespace ? Self.MS_NODEV : 0), data: "mode=755,size=65536k", optional: false, create: .directory),
        ]
        for node in try deviceNodes() {
            let target = r + node.path
            if usesUserNamespace {
                guard host.exists(node.path) else { throw PlanError(message: "device \(node.path): a user namespace cannot make device nodes and the host has none at \(node.path) to bind") }
                steps.append(.mount(source: node.path, target: target, fstype: nil, flags: Self.MS_BIND, data: nil, optional: false, create: .file))
            } else {
                steps.append(.mknod(target, major: node.major, minor: node.minor, mode: node.typeBits | node.mode, owner: node.owner, bindOntoItself: true))
            }
        }
        if !usesUserNamespace {
            steps.append(.mount(source: nil, target: dev, fstype: nil, flags: Self.MS_REMOUNT | Self.MS_BIND | devFlags | Self.MS_NODEV, data: nil, optional: false))
        }
        steps += [
            .mount(source: "devpts", target: "\(r)/dev/pts", fstype: "devpts", flags: Self.MS_NOSUID | Self.MS_NOEXEC, data: "newinstance,ptmxmode=0666,mode=0620", optional: false, create: .directory),
            .symlink(target: "pts/ptmx", at: "\(r)/dev/ptmx"),
            .mount(source: "shm", target: "\(r)/dev/shm", fstype: "tmpfs", flags: Self.MS_NOSUID | Self.MS_NODEV | Self.MS_NOEXEC, data: "mode=1777,size=65536k", optional: false, create: .directory),
            .symlink(target: "/proc/self/fd", at: "\(r)/dev/fd"),
            .symlink(target: "/proc/self/fd/0", at: "\(r)/dev/stdin"),
            .symlink(target: "/proc/self/fd/1", at: "\(r)/dev/stdout"),
            .symlink(target: "/proc/self/fd/2", at: "\(r)/dev/stderr"),
        ]
        if namespaces.contains("ipc") {
            steps.append(.mount(source: "mqueue", target: "\(r)/dev/mqueue", fstype: "mqueue", flags: Self.MS_NOSUID | Self.MS_NODEV | Self.MS_NOEXEC, data: nil, optional: false, create: .directory))
        }
        return steps
    }

    /// runc's default nodes, then the policy's `container.devices`.
    func deviceNodes() throws(PlanError) -> [DeviceNode] {
        var nodes = Self.devices.map { DeviceNode(path: "/dev/" + $0.0, type: "c", major: $0.1, minor: $0.2, mode: 0o666, uid: nil, gid: nil) }
        for device in container.devices ?? [] {
            guard let node = DeviceNode(device) else { continue }
            nodes.removeAll { $0.path == node.path }
            nodes.append(node)
        }
        return nodes
    }

    /// /sys/fs/cgroup inside: the container's own cgroup directories, read-only (a tmpfs holds
    /// one per v1 controller), as runtimes such as the JVM's read their limits there.
    func cgroupViewSteps(_ cgroup: ContainerCgroup) -> [LaunchStep] {
        let view = newRoot + "/sys/fs/cgroup"
        guard cgroup.layout == .v1 else { return cgroup.directories.flatMap { readOnlyBind($0, view) } }
        var steps: [LaunchStep] = [.mount(source: "tmpfs", target: view, fstype: "tmpfs", flags: Self.MS_NOSUID | Self.MS_NODEV | Self.MS_NOEXEC, data: "mode=755", optional: false)]
        for (controller, dir) in zip(cgroup.controllers, cgroup.directories) {
            steps.append(.mount(source: dir, target: "\(view)/\(controller)", fstype: nil, flags: Self.MS_BIND | Self.MS_REC, data: nil, optional: false, create: .directory))
        }
        steps.append(.setAttributes(view, set: Self.readOnlyAttributes | 0x8, clear: 0))
        return steps
    }

    static let optionFlags: [String: UInt] = ["ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC]

    /// The policy's mounts, each resolved inside the rootfs and nodev (devices come only
    /// through `container.devices`); a bind's flags hold at every depth.
    func policyMounts(_ r: String) throws(PlanError) -> [LaunchStep] {
        var steps: [LaunchStep] = []
        for m in container.mounts ?? [] {
            let target = r + m.destination
            let flags = m.options.reduce(Self.MS_NODEV) { $0 | (Self.optionFlags[$1] ?? 0) }
            let data = m.options.filter { Self.optionFlags[$0] == nil && $0 != "rbind" && $0 != "bind" && $0 != "rw" }.joined(separator: ",")
            switch m.type {
            case "bind":
                guard let source = m.source else { throw PlanError(message: "bind mount on \(m.destination) needs a source") }
                steps.append(.mount(source: source, target: target, fstype: nil, flags: Self.MS_BIND | Self.MS_REC, data: nil, optional: false,
                                    create: host.isDirectory(source) ? .directory : .file))
                steps.append(.setAttributes(target, set: UInt64(flags), clear: 0))
            default:
                steps.append(.mount(source: m.source ?? m.type, target: target, fstype: m.type, flags: flags, data: data.isEmpty ? nil : data, optional: false, create: .directory))
            }
        }
        return steps
    }

    /// Docker's masked paths (a directory gets an empty read-only tmpfs, anything else
    /// /dev/null, decided in the container's own /proc and /sys) and read-only paths, for the
    /// host view its secrets (shadow files, host keys), and the policy's `filesystem.deny`
    /// (Landlock only grants, so a denied path inside a granted one is masked); absent ones are
    /// skipped.
    func maskSteps(_ r: String) -> [LaunchStep] {
        let secrets = rootfs == "host" ? Self.hostSecrets.filter(host.exists) : []
        let denied = (profile.filesystem?.deny ?? []).filter { !ContainerDefaults.maskedPaths.contains($0) && !secrets.contains($0) }
        var steps = (ContainerDefaults.maskedPaths + secrets + denied).map { LaunchStep.mask(r + $0, nullDevice: "\(r)/dev/null") }
        for path in ContainerDefaults.readonlyPaths { steps += readOnlyBind(r + path, r + path, optional: true) }
        return steps
    }

    /// What the host view never shows: password hashes and the host's private keys.
    static let hostSecrets = ["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/ssh/ssh_host_rsa_key",
                              "/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_dsa_key", "/etc/ssl/private"]

    // MARK: process attributes

    static let rlimitNumbers: [String: Int32] = [
        "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7, "memlock": 8,
        "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15,
    ]

    func rlimitSteps() -> [LaunchStep] {
        (container.rlimits ?? [:]).sorted { $0.key < $1.key }.compactMap { name, value in
            Self.rlimitNumbers[name].map { LaunchStep.setrlimit(resource: $0, soft: value, hard: value) }
        }
    }

    func credentialSteps() -> [LaunchStep] {
        let caps = profile.capabilities
        let uid = container.uid ?? 0, gid = container.gid ?? 0
        var steps: [LaunchStep] = [.dropBoundingCapabilities(keep: caps.bounding)]
        if !host.rootless { steps.append(.setgroupsEmpty) }
        steps += [.setgid(gid), .keepCapabilities, .setuid(uid),
                  .capset(effective: caps.effective, permitted: caps.permitted, inheritable: caps.inheritable)]
        if caps.ambient != 0 { steps.append(.raiseAmbient(caps.ambient)) }
        return steps
    }

    // MARK: Landlock

    static func fsRights(abi: Int) -> UInt64 {
        var rights: UInt64 = (1 << 13) - 1
        if abi >= 2 { rights |= 1 << 13 }  // REFER
        if abi >= 3 { rights |= 1 << 14 }  // TRUNCATE
        if abi >= 5 { rights |= 1 << 15 }  // IOCTL_DEV
        return rights
    }

    static let readRights: UInt64 = 1 << 2 | 1 << 3                // READ_FILE, READ_DIR
    static let loaderDirectories = ["/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32"]
    static let execRights: UInt64 = 1 << 0 | readRights            // EXECUTE

    func landlockSteps() throws(PlanError) -> [LaunchStep] {
        let fs = profile.filesystem
        let tcp = !profile.tcpBind.isEmpty || !profile.tcpConnect.isEmpty
        guard fs != nil || tcp else { return [] }
        let minimum = profile.landlockMinimumAbi ?? (tcp ? 4 : 1)
        let required = profile.landlockRequired ?? true
        let abi = host.landlockABI
        if abi < minimum {
            if required {
                throw PlanError(message: "the policy needs Landlock ABI \(minimum) and this kernel offers \(abi == 0 ? "no Landlock" : "ABI \(abi)"); set landlock.required: false to run without it")
            }
            if abi == 0 { return [] }
        }
        let all = Self.fsRights(abi: abi)
        let handledNet: UInt64 = tcp && abi >= 4 ? 3 : 0
        var steps: [LaunchStep] = [.landlockCreate(handledFS: fs != nil ? all : 0, handledNet: handledNet, scoped: 0,
                                                   attrSize: abi >= 6 ? 24 : (abi >= 4 ? 16 : 8))]
        if let fs {
            let write = all & ~(1 << 0)
            for path in fs.read { steps.append(.landlockPath(path, access: Self.readRights)) }
            for path in fs.write { steps.append(.landlockPath(path, access: write)) }
            for path in fs.exec { steps.append(.landlockPath(path, access: Self.execRights)) }
            // Every process needs its terminal, /dev/null and its own /proc; exec needs the
            // dynamic loader, which the kernel opens for execution.
            steps.append(.landlockPath("/dev", access: Self.readRights | 1 << 1 | (abi >= 3 ? 1 << 14 : 0) | (abi >= 5 ? 1 << 15 : 0)))
            steps.append(.landlockPath("/proc", access: Self.readRights))
            // Optional, and skipped where a symlink (merged /usr: /lib -> usr/lib, covered there).
            for dir in Self.loaderDirectories { steps.append(.landlockPath(dir, access: Self.execRights, optional: true)) }
            // The init's sealed memfd needs no rule: Landlock leaves files of internal
            // filesystems alone (and refuses a rule on one, EBADFD).
        }
        if handledNet != 0 {
            for port in profile.tcpBind { steps.append(.landlockPort(port, access: 1)) }
            for port in profile.tcpConnect { steps.append(.landlockPort(port, access: 2)) }
        }
        steps.append(.landlockRestrict)
        return steps
    }

    // MARK: LSM labels

    func lsmSteps() throws(PlanError) -> [LaunchStep] {
        var steps: [LaunchStep] = []
        let wanted: [(LSM, Bool, String, String)] = [
            (.apparmor, profile.apparmorRequested, "/proc/self/attr/apparmor/exec", "exec " + profile.apparmorProfile),
            (.selinux, profile.selinuxRequested, "/proc/self/attr/exec", profile.selinuxContext),
        ]
        for (lsm, requested, path, value) in wanted {
            if host.enabledLSMs.contains(lsm) {
                steps.append(.writeFile(path, value: value))
            } else if requested && !options.lsmOptional {
                throw PlanError(message: "the policy asks for \(lsm.rawValue) but this kernel has not enabled it; use --lsm-optional to run without it")
            }
        }
        return steps
    }

    // MARK: exec

    var environment: [String] {
        let env = container.env ?? [("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")]
        var list = env.map { "\($0.0)=\($0.1)" }
        if !env.contains(where: { $0.0 == "HOME" }) { list.append("HOME=/") }
        if !env.contains(where: { $0.0 == "TERM" }) { list.append("TERM=xterm") }
        return list
    }

    /// The command's path inside the container, found on the container's PATH.
    func execStep() throws(PlanError) -> LaunchStep {
        guard let command = options.command.first else { throw PlanError(message: "no command to run") }
        let prefix = rootfs == "host" ? "" : rootfs
        var path = command
        if !command.contains("/") {
            let search = environment.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/bin:/bin"
            guard let dir = search.split(separator: ":").first(where: { host.isExecutable(prefix + $0 + "/" + command) }) else {
                throw PlanError(message: "\(command): command not found in the container's PATH (\(search))")
            }
            path = "\(dir)/\(command)"
        }
        return .exec(path: path, argv: options.command, env: environment)
    }
}
