import CShim
import Glibc

/// One setup step of a container, executed by the child with raw syscalls (see CLaunch.h).
public enum LaunchStep: Equatable, Sendable {
    /// What a mount makes of a missing target.
    public enum Create: Equatable, Sendable { case nothing, directory, file }

    case mount(source: String?, target: String, fstype: String?, flags: UInt, data: String?, optional: Bool, create: Create = .nothing)
    case mkdir(String, mode: UInt32)
    case symlink(target: String, at: String)
    case pivotRoot(String)
    case chdir(String)
    case sethostname(String)
    case setrlimit(resource: Int32, soft: UInt64, hard: UInt64)
    case dropBoundingCapabilities(keep: UInt64)
    case setgroupsEmpty
    case setgid(UInt32)
    case keepCapabilities
    case setuid(UInt32)
    case capset(effective: UInt64, permitted: UInt64, inheritable: UInt64)
    case raiseAmbient(UInt64)
    case noNewPrivileges
    case landlockCreate(handledFS: UInt64, handledNet: UInt64, scoped: UInt64, attrSize: UInt32)
    case landlockPath(String, access: UInt64, optional: Bool = false)
    case landlockPort(UInt16, access: UInt64)
    case landlockRestrict
    case writeFile(String, value: String)
    case seccomp(filter: [UInt8], flags: UInt32)
    case exec(path: String, argv: [String], env: [String])
    case touch(String)
    /// A minimal init becomes pid 1 and reaps; the command runs as its child. The init execs
    /// the sealed binary at `binaryFD` under its own `filter`.
    case initProcess(binaryFD: Int32, filter: [UInt8])
    /// The terminal `fd` becomes the controlling terminal and standard streams.
    case terminal(fd: Int32)
    /// The child moves itself into a cgroup through this file (`tasks` on v1, `cgroup.procs`
    /// on v2); skipped when clone3 placed it there already.
    case joinCgroup(String)
    /// unshare(2) with these CLONE_NEW* flags.
    case unshare(flags: Int32)
    /// Waits for the parent: the id maps are written, the cgroup is made.
    case awaitParent
    /// Hides `path` (optional: absent paths are skipped): an empty read-only tmpfs over a
    /// directory, `nullDevice` bound over anything else.
    case mask(String, nullDevice: String)
    /// A device node: `mode` holds its type (S_IFCHR, S_IFBLK) and exact permissions;
    /// `owner` is "uid:gid" or nil for root. `bindOntoItself`: then a mount of its own, which
    /// keeps allowing the device when its directory's mount is made nodev.
    case mknod(String, major: UInt32, minor: UInt32, mode: UInt32, owner: String? = nil, bindOntoItself: Bool = false)
    /// The container's root: every later path beneath it is resolved there (openat2
    /// RESOLVE_IN_ROOT), so the image's symlinks and ".." never lead out of it.
    case openRoot(String)
    /// mount_setattr(AT_RECURSIVE): `set` and `clear` MOUNT_ATTR_* bits on a whole mount tree.
    case setAttributes(String, set: UInt64, clear: UInt64, optional: Bool = false)
    /// Descriptors from `from` up are closed at the execve (CLOSE_RANGE_CLOEXEC).
    case closeInheritedDescriptors(from: Int32)
    /// setsid: no controlling terminal, a session of the container's own.
    case newSession
    /// lo up in a new network namespace.
    case loopbackUp
    /// prctl(PR_SET_DUMPABLE): off for the setup (policyc's memory is not for the container);
    /// on while the id maps are written, which need the child's /proc files to be its user's.
    case dumpable(Bool)

    /// A short name for messages: "pivot_root", "seccomp", ...
    public var name: String {
        switch self {
        case .mount(_, let target, let fstype, _, _, _, _): return "mount \(fstype ?? "bind") on \(target)"
        case .mkdir(let path, _): return "mkdir \(path)"
        case .symlink(_, let at): return "symlink \(at)"
        case .pivotRoot: return "pivot_root"
        case .chdir(let path): return "chdir \(path)"
        case .sethostname: return "sethostname"
        case .setrlimit(let resource, _, _): return "setrlimit(\(resource))"
        case .dropBoundingCapabilities: return "capability bounding set"
        case .setgroupsEmpty: return "setgroups"
        case .setgid: return "setgid"
        case .keepCapabilities: return "PR_SET_KEEPCAPS"
        case .setuid: return "setuid"
        case .capset: return "capset"
        case .raiseAmbient: return "ambient capabilities"
        case .noNewPrivileges: return "no_new_privs"
        case .landlockCreate: return "landlock_create_ruleset"
        case .landlockPath(let path, _, _): return "landlock rule for \(path)"
        case .landlockPort(let port, _): return "landlock rule for port \(port)"
        case .landlockRestrict: return "landlock_restrict_self"
        case .writeFile(let path, _): return "write \(path)"
        case .seccomp: return "seccomp"
        case .exec(let path, _, _): return "execve \(path)"
        case .touch(let path): return "create \(path)"
        case .initProcess: return "the init process"
        case .terminal: return "controlling terminal"
        case .joinCgroup(let path): return "join cgroup \(path)"
        case .unshare: return "unshare"
        case .awaitParent: return "wait for policyc"
        case .mask(let path, _): return "mask \(path)"
        case .mknod(let path, _, _, _, _, _): return "mknod \(path)"
        case .openRoot(let path): return "open root \(path)"
        case .setAttributes(let path, _, _, _): return "mount_setattr \(path)"
        case .closeInheritedDescriptors: return "close inherited descriptors"
        case .newSession: return "setsid"
        case .loopbackUp: return "loopback up"
        case .dumpable: return "PR_SET_DUMPABLE"
        }
    }
}

extension LaunchStep {
    /// What a failure of this step with `errno` most likely means, where errno alone misleads.
    func hint(errno: Int32) -> String? {
        switch (self, errno) {
        case (.landlockPath, ELOOP):
            return "the path is a symbolic link in the container; a Landlock rule grants exactly the path the policy names, so name the directory it leads to"
        case (.mount, ELOOP), (.mount, EXDEV), (.mount, ENOTDIR):
            return "the target is resolved inside the rootfs and may not be a symbolic link leading elsewhere, a magic link or a special file"
        case (.setgid, EINVAL), (.setuid, EINVAL):
            return "the id is not mapped in the container's user namespace: rootless, only root (the caller's own id outside) is, so container.user cannot be another id"
        case (.mount, EACCES):
            return "the container's root, in a user namespace an unprivileged id of the host, cannot search a directory on the way or make the mount point: make the directories above the rootfs searchable (chmod o+x) and chown the rootfs to the mapped range, or rootless to yourself (Docs/run.md, User namespaces)"
        case (.mount, ENXIO), (.mount, EOPNOTSUPP):
            return "the target is neither a directory nor a regular file"
        default:
            return nil
        }
    }
}

/// Paths beneath the container's root (from `.openRoot` to `.pivotRoot`) go to the child
/// relative to it, flagged PC_IN_ROOT, and are resolved there.
struct RootPaths {
    var root: String?

    func relative(_ path: String?) -> (String?, Bool) {
        guard let root, let path else { return (path, false) }
        if path == root { return ("/", true) }
        guard path.hasPrefix(root + "/") else { return (path, false) }
        return (String(path.dropFirst(root.count)), true)
    }

    /// The C string of `path` as the child takes it, flagging `step` when it is in the root.
    func cString(_ path: String, _ step: inout pc_step, _ str: (String?) -> UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
        let (p, inRoot) = relative(path)
        if inRoot { step.flags |= PC_IN_ROOT }
        return str(p)
    }
}

/// A syscall the container made that its policy denies, seen by `run --audit`.
public struct SeccompNotification: Hashable, Sendable {
    public var pid: UInt32
    public var auditArch: UInt32
    public var nr: Int32
    public var args: [UInt64]

    public init(pid: UInt32, auditArch: UInt32, nr: Int32, args: [UInt64]) {
        self.pid = pid
        self.auditArch = auditArch
        self.nr = nr
        self.args = args
    }
}

extension LaunchStep {
    /// seccomp's SECCOMP_FILTER_FLAG_NEW_LISTENER.
    public static let newListenerFlag: UInt32 = 8

    /// A seccomp step whose filter reports to a listener.
    public var hasListener: Bool {
        if case .seccomp(_, let flags) = self { return flags & Self.newListenerFlag != 0 }
        return false
    }

    var isInit: Bool {
        if case .initProcess = self { return true }
        return false
    }
}

/// A cloned child walking its steps; owns the C copies of every string until released.
public final class LaunchedChild {
    public let pid: Int32
    private let errorFD: Int32
    private var syncFD: Int32
    private var storage: [UnsafeMutableRawPointer] = []

    public struct StepFailure: Error, CustomStringConvertible {
        public let step: String
        public let errno: Int32
        public var hint: String? = nil
        public var description: String {
            "\(step) failed: \(String(cString: strerror(errno))) (errno \(errno))" + (hint.map { "; " + $0 } ?? "")
        }
    }

    /// Prepares every byte, then clones: into the cgroup directory `cgroupFD` (v2) when given.
    /// The child runs its steps at once, up to an `.awaitParent`, which `release()` passes.
    public init(cloneFlags: UInt64, cgroupFD: Int32? = nil, steps: [LaunchStep]) throws(SystemError) {
        var cSteps: [pc_step] = []
        var arena: [UnsafeMutableRawPointer] = []
        func str(_ s: String?) -> UnsafePointer<CChar>? {
            guard let s else { return nil }
            let p = strdup(s)!
            arena.append(UnsafeMutableRawPointer(p))
            return UnsafePointer(p)
        }
        func copy(_ filter: [UInt8]) -> UnsafeRawPointer {
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: max(filter.count, 1), alignment: 8)
            filter.withUnsafeBytes { bytes.copyMemory(from: $0.baseAddress!, byteCount: filter.count) }
            arena.append(bytes)
            return UnsafeRawPointer(bytes)
        }
        func vector(_ items: [String]) -> UnsafePointer<UnsafeMutablePointer<CChar>?> {
            let v = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: items.count + 1)
            for (i, item) in items.enumerated() { v[i] = strdup(item); arena.append(UnsafeMutableRawPointer(v[i]!)) }
            v[items.count] = nil
            arena.append(UnsafeMutableRawPointer(v))
            return UnsafePointer(v)
        }
        var root = RootPaths()
        for step in steps {
            var s = pc_step()
            switch step {
            case .mount(let source, let target, let fstype, let flags, let data, let optional, let create):
                let (src, srcInRoot) = root.relative(source), (dst, dstInRoot) = root.relative(target)
                s.op = Int32(PC_MOUNT.rawValue); s.a = str(src); s.b = str(dst); s.c = str(fstype); s.d = str(data)
                s.x = UInt64(flags)
                s.flags = (optional ? PC_STEP_OPTIONAL : 0) | (srcInRoot ? PC_SOURCE_IN_ROOT : 0) | (dstInRoot ? PC_IN_ROOT : 0)
                    | (create == .directory ? PC_CREATE_DIR : 0) | (create == .file ? PC_CREATE_FILE : 0)
            case .mkdir(let path, let mode): s.op = Int32(PC_MKDIR.rawValue); s.a = root.cString(path, &s, str); s.x = UInt64(mode)
            case .symlink(let target, let at):
                s.op = Int32(PC_SYMLINK.rawValue); s.a = str(target)
                let (dst, inRoot) = root.relative(at)
                s.b = str(dst); s.flags = inRoot ? PC_IN_ROOT : 0
            case .openRoot(let path): s.op = Int32(PC_OPEN_ROOT.rawValue); s.a = str(path); root.root = path
            case .setAttributes(let path, let set, let clear, let optional):
                s.op = Int32(PC_SETATTR.rawValue); s.a = root.cString(path, &s, str); s.x = set; s.y = clear
                if optional { s.flags |= PC_STEP_OPTIONAL }
            case .closeInheritedDescriptors(let from): s.op = Int32(PC_CLOSE_FDS.rawValue); s.x = UInt64(from)
            case .newSession: s.op = Int32(PC_SETSID.rawValue)
            case .loopbackUp: s.op = Int32(PC_LOOPBACK_UP.rawValue)
            case .dumpable(let on): s.op = Int32(PC_DUMPABLE.rawValue); s.x = on ? 1 : 0
            case .pivotRoot(let path): s.op = Int32(PC_PIVOT_ROOT.rawValue); s.a = str(path); root.root = nil
            case .chdir(let path): s.op = Int32(PC_CHDIR.rawValue); s.a = str(path)
            case .sethostname(let name): s.op = Int32(PC_SETHOSTNAME.rawValue); s.a = str(name)
            case .setrlimit(let r, let soft, let hard): s.op = Int32(PC_SETRLIMIT.rawValue); s.x = UInt64(r); s.y = soft; s.z = hard
            case .dropBoundingCapabilities(let keep): s.op = Int32(PC_CAPBSET_DROP.rawValue); s.x = keep
            case .setgroupsEmpty: s.op = Int32(PC_SETGROUPS.rawValue)
            case .setgid(let gid): s.op = Int32(PC_SETGID.rawValue); s.x = UInt64(gid)
            case .keepCapabilities: s.op = Int32(PC_KEEPCAPS.rawValue)
            case .setuid(let uid): s.op = Int32(PC_SETUID.rawValue); s.x = UInt64(uid)
            case .capset(let e, let p, let i): s.op = Int32(PC_CAPSET.rawValue); s.x = e; s.y = p; s.z = i
            case .raiseAmbient(let mask): s.op = Int32(PC_AMBIENT.rawValue); s.x = mask
            case .noNewPrivileges: s.op = Int32(PC_NO_NEW_PRIVS.rawValue)
            case .landlockCreate(let fs, let net, let scoped, let size):
                s.op = Int32(PC_LANDLOCK_CREATE.rawValue); s.x = fs; s.y = net; s.z = scoped; s.len = size
            case .landlockPath(let path, let access, let optional):
                s.op = Int32(PC_LANDLOCK_PATH.rawValue); s.a = str(path); s.x = access; s.flags = optional ? PC_STEP_OPTIONAL : 0
            case .landlockPort(let port, let access): s.op = Int32(PC_LANDLOCK_PORT.rawValue); s.x = UInt64(port); s.y = access
            case .landlockRestrict: s.op = Int32(PC_LANDLOCK_RESTRICT.rawValue)
            case .writeFile(let path, let value): s.op = Int32(PC_WRITE_FILE.rawValue); s.a = str(value); s.b = str(path)
            case .seccomp(let filter, let flags):
                s.op = Int32(PC_SECCOMP.rawValue); s.data = copy(filter); s.len = UInt32(filter.count / 8); s.x = UInt64(flags)
            case .touch(let path): s.op = Int32(PC_TOUCH.rawValue); s.a = root.cString(path, &s, str)
            case .initProcess(let fd, let filter):
                s.op = Int32(PC_INIT.rawValue); s.x = UInt64(fd); s.data = copy(filter); s.len = UInt32(filter.count / 8)
            case .terminal(let fd): s.op = Int32(PC_TTY.rawValue); s.x = UInt64(fd)
            case .joinCgroup(let path): s.op = Int32(PC_JOIN_CGROUP.rawValue); s.a = str(path)
            case .unshare(let flags): s.op = Int32(PC_UNSHARE.rawValue); s.x = UInt64(UInt32(bitPattern: flags))
            case .awaitParent: s.op = Int32(PC_WAIT.rawValue)
            case .mask(let path, let null):
                s.op = Int32(PC_MASK.rawValue); s.a = root.cString(path, &s, str); s.b = str(root.relative(null).0); s.flags |= PC_STEP_OPTIONAL
            case .mknod(let path, let major, let minor, let mode, let owner, let bindOntoItself):
                s.op = Int32(PC_MKNOD.rawValue); s.a = root.cString(path, &s, str); s.x = UInt64(major); s.z = UInt64(minor); s.y = UInt64(mode)
                s.d = str(owner)
                if bindOntoItself { s.flags |= PC_BIND_SELF }
            case .exec(let path, let argv, let env):
                s.op = Int32(PC_EXEC.rawValue); s.a = str(path); s.argv = vector(argv); s.envp = vector(env)
            }
            cSteps.append(s)
        }
        var errorFD: Int32 = -1, syncFD: Int32 = -1
        let waits = steps.contains(.awaitParent) || steps.contains(where: \.hasListener)
        var spec = pc_clone_spec(flags: cloneFlags, cgroup_fd: cgroupFD ?? -1, wait: waits ? 1 : 0)
        let pid = cSteps.withUnsafeBufferPointer { pc_launch(&spec, $0.baseAddress, Int32($0.count), &errorFD, &syncFD) }
        guard pid > 0 else {
            arena.forEach { free($0) }
            throw SystemError("clone", -pid)
        }
        self.pid = pid
        self.errorFD = errorFD
        self.syncFD = syncFD
        self.storage = arena
        self.steps = steps
    }

    private let steps: [LaunchStep]

    /// Lets a waiting child run its steps; returns the failure it reports, or nil once it has
    /// exec'd.
    public func release() -> StepFailure? {
        if syncFD >= 0 {
            letGo()
            close(syncFD)
            syncFD = -1
        }
        defer { freeStorage() }
        return readFailure()
    }

    /// `release()` for a child whose filter sends what it denies to a listener: takes a copy of
    /// the listener (from the command, the init's child, under `--init`), then hands every
    /// notification to `onCall` and lets the syscall run, until every process that carries the
    /// filter is gone (the first process's exit ends nothing: its children are audited on).
    /// Returns a setup failure, if any.
    /// `onCall` runs while the caller waits (to read its strings) and returns what to do once
    /// the call is let go, so that the caller waits no longer than it must.
    public func releaseAudited(onCall: (SeccompNotification) -> () -> Void) -> StepFailure? {
        defer { freeStorage() }
        if steps.contains(.awaitParent) { letGo() }
        var record = pc_launch_error()
        guard pc_read_launch_error(errorFD, &record, Self.setupTimeoutMilliseconds) == 1 else {
            Glibc.kill(pid, SIGKILL)
            return StepFailure(step: "seccomp listener", errno: EPIPE)
        }
        guard record.step == PC_LISTENER_AT else { return failure(record) }
        let pidfd = pc_pidfd_open(pid)
        guard pidfd >= 0 else { return StepFailure(step: "pidfd_open", errno: -pidfd) }
        defer { Glibc.close(pidfd) }
        let holder = steps.contains(where: \.isInit) ? Self.onlyChild(of: pid).map(pc_pidfd_open) ?? -ESRCH : pidfd
        guard holder >= 0 else { return StepFailure(step: "seccomp listener", errno: -holder) }
        defer { if holder != pidfd { Glibc.close(holder) } }
        let listener = pc_take_listener(holder, record.err, 5000)
        guard listener >= 0 else { return StepFailure(step: "seccomp listener", errno: -listener) }
        defer { Glibc.close(listener) }
        pc_audit_go()
        close(syncFD)
        syncFD = -1
        var setupFailure: StepFailure?
        AuditListener.serve(listener, errorFD: errorFD, firstProcess: pidfd, onCall: onCall) { setupFailure = readFailure() }
        return setupFailure
    }

    /// The one child of `pid` (the command an init forked), from /proc/PID/task/PID/children,
    /// as this process's pid namespace numbers it; waits up to a second for the fork.
    static func onlyChild(of pid: Int32) -> Int32? {
        for _ in 0..<1000 {
            if let bytes = System.readFile("/proc/\(pid)/task/\(pid)/children", limit: 64),
               let child = Int32(String(decoding: bytes, as: UTF8.self).split(separator: " ").first ?? "") {
                return child
            }
            usleep(1000)
        }
        return nil
    }

    private func letGo() {
        var go: UInt8 = 1
        // EPIPE: the child failed a step before waiting; its report is in the error pipe.
        _ = pc_write_no_sigpipe(syncFD, &go, 1)
    }

    /// How long the setup may take before the child is killed: every step is a few syscalls,
    /// so only a hung one (a mount that waits on a dead server, say) comes near it.
    public static let setupTimeoutMilliseconds: Int32 = 30_000

    /// The failure the child reports, or nil at EOF (it exec'd); a setup that does not end in
    /// time is killed and reported.
    private func readFailure() -> StepFailure? {
        var record = pc_launch_error()
        let got = pc_read_launch_error(errorFD, &record, Self.setupTimeoutMilliseconds)
        if got == 1 { return failure(record) }
        if got == -ETIMEDOUT {
            Glibc.kill(pid, SIGKILL)
            return StepFailure(step: "setup (not finished within \(Self.setupTimeoutMilliseconds / 1000) s)", errno: ETIMEDOUT)
        }
        if got == -EINTR {
            Glibc.kill(pid, SIGKILL)
            return StepFailure(step: "setup (interrupted by a signal)", errno: EINTR)
        }
        // Only EOF means the child exec'd: an unreadable report is a failed setup, not a pass.
        if got < 0 {
            Glibc.kill(pid, SIGKILL)
            return StepFailure(step: "setup (its report could not be read)", errno: -got)
        }
        pc_setup_finished()
        return nil
    }

    private func failure(_ record: pc_launch_error) -> StepFailure {
        let name = Int(record.step) >= 0 && Int(record.step) < steps.count ? steps[Int(record.step)].name : "exec"
        let step = Int(record.step) >= 0 && Int(record.step) < steps.count ? steps[Int(record.step)] : nil
        return StepFailure(step: name, errno: record.err, hint: step?.hint(errno: record.err))
    }

    private func freeStorage() {
        storage.forEach { free($0) }
        storage = []
    }

    deinit {
        if syncFD >= 0 { close(syncFD) }
        close(errorFD)
        storage.forEach { free($0) }
    }
}

/// The loop that answers a seccomp listener's notifications for an audit: `policyc run
/// --audit` and `policyc agent`.
enum AuditListener {
    /// Hands each notification to `onCall` while the caller waits, answers CONTINUE, and runs
    /// what `onCall` returned once no other call is ready (a call not yet taken is one a signal
    /// can still interrupt), until every process that carries the filter is gone. `errorFD`
    /// readable (a setup failure) calls `onSetupError` once; `firstProcess` exiting ends
    /// nothing (its children are audited on). -1 watches neither.
    static func serve(_ listener: Int32, errorFD: Int32 = -1, firstProcess: Int32 = -1,
                      onCall: (SeccompNotification) -> () -> Void, onSetupError: () -> Void = {}) {
        var watched = errorFD, first = firstProcess
        var n = pc_notification()
        var pending: [() -> Void] = []
        func runPending() {
            pending.forEach { $0() }
            pending.removeAll(keepingCapacity: true)
        }
        while true {
            switch pc_audit_next(listener, watched, first, &n, pending.isEmpty ? 1 : 0) {
            case 1:
                pending.append(onCall(SeccompNotification(pid: n.pid, auditArch: n.arch, nr: n.nr, args: withUnsafeBytes(of: n.args) { Array($0.bindMemory(to: UInt64.self)) })))
                _ = pc_notify_continue(listener, n.id)
                if pending.count >= 256 { runPending() }
            case 4:
                runPending()
            case 2:
                onSetupError()
                watched = -1
            case 3:
                first = -1
            default:
                runPending()
                return
            }
        }
    }
}
