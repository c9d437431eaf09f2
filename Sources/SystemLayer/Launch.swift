import CShim
import Glibc

/// One setup step of a container, executed by the child with raw syscalls (see CLaunch.h).
public enum LaunchStep: Equatable, Sendable {
    case mount(source: String?, target: String, fstype: String?, flags: UInt, data: String?, optional: Bool)
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
    /// A minimal init becomes pid 1 and reaps; the command runs as its child.
    case initProcess
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
    /// A character device node with exactly this mode.
    case mknod(String, major: UInt32, minor: UInt32, mode: UInt32)

    /// A short name for messages: "pivot_root", "seccomp", ...
    public var name: String {
        switch self {
        case .mount(_, let target, let fstype, _, _, _): return "mount \(fstype ?? "bind") on \(target)"
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
        case .initProcess: return "fork of the init process"
        case .terminal: return "controlling terminal"
        case .joinCgroup(let path): return "join cgroup \(path)"
        case .unshare: return "unshare"
        case .awaitParent: return "wait for policyc"
        case .mask(let path, _): return "mask \(path)"
        case .mknod(let path, _, _, _): return "mknod \(path)"
        }
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
        public var description: String { "\(step) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
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
        func vector(_ items: [String]) -> UnsafePointer<UnsafeMutablePointer<CChar>?> {
            let v = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: items.count + 1)
            for (i, item) in items.enumerated() { v[i] = strdup(item); arena.append(UnsafeMutableRawPointer(v[i]!)) }
            v[items.count] = nil
            arena.append(UnsafeMutableRawPointer(v))
            return UnsafePointer(v)
        }
        for step in steps {
            var s = pc_step()
            switch step {
            case .mount(let source, let target, let fstype, let flags, let data, let optional):
                s.op = Int32(PC_MOUNT.rawValue); s.a = str(source); s.b = str(target); s.c = str(fstype); s.d = str(data)
                s.x = UInt64(flags); s.flags = optional ? PC_STEP_OPTIONAL : 0
            case .mkdir(let path, let mode): s.op = Int32(PC_MKDIR.rawValue); s.a = str(path); s.x = UInt64(mode)
            case .symlink(let target, let at): s.op = Int32(PC_SYMLINK.rawValue); s.a = str(target); s.b = str(at)
            case .pivotRoot(let path): s.op = Int32(PC_PIVOT_ROOT.rawValue); s.a = str(path)
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
                let bytes = UnsafeMutableRawPointer.allocate(byteCount: max(filter.count, 1), alignment: 8)
                filter.withUnsafeBytes { bytes.copyMemory(from: $0.baseAddress!, byteCount: filter.count) }
                arena.append(bytes)
                s.op = Int32(PC_SECCOMP.rawValue); s.data = UnsafeRawPointer(bytes); s.len = UInt32(filter.count / 8); s.x = UInt64(flags)
            case .touch(let path): s.op = Int32(PC_TOUCH.rawValue); s.a = str(path)
            case .initProcess: s.op = Int32(PC_INIT.rawValue)
            case .terminal(let fd): s.op = Int32(PC_TTY.rawValue); s.x = UInt64(fd)
            case .joinCgroup(let path): s.op = Int32(PC_JOIN_CGROUP.rawValue); s.a = str(path)
            case .unshare(let flags): s.op = Int32(PC_UNSHARE.rawValue); s.x = UInt64(UInt32(bitPattern: flags))
            case .awaitParent: s.op = Int32(PC_WAIT.rawValue)
            case .mask(let path, let null):
                s.op = Int32(PC_MASK.rawValue); s.a = str(path); s.b = str(null); s.flags = PC_STEP_OPTIONAL
            case .mknod(let path, let major, let minor, let mode):
                s.op = Int32(PC_MKNOD.rawValue); s.a = str(path); s.x = UInt64(major); s.z = UInt64(minor); s.y = UInt64(mode)
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
    /// the listener, then hands every notification to `onCall` and lets the syscall run, until
    /// the child (the container's first process) has exited. Returns a setup failure, if any.
    public func releaseAudited(onCall: (SeccompNotification) -> Void) -> StepFailure? {
        defer { freeStorage() }
        if steps.contains(.awaitParent) { letGo() }
        var record = pc_launch_error()
        guard readRecord(&record) else { return StepFailure(step: "seccomp listener", errno: EPIPE) }
        guard record.step == PC_LISTENER_AT else { return failure(record) }
        let pidfd = pc_pidfd_open(pid)
        guard pidfd >= 0 else { return StepFailure(step: "pidfd_open", errno: -pidfd) }
        defer { Glibc.close(pidfd) }
        let listener = pc_take_listener(pidfd, record.err, 5000)
        guard listener >= 0 else { return StepFailure(step: "seccomp listener", errno: -listener) }
        defer { Glibc.close(listener) }
        letGo()
        close(syncFD)
        syncFD = -1
        var watched = errorFD, setupFailure: StepFailure?
        var n = pc_notification()
        while true {
            let event = pc_audit_next(listener, watched, pidfd, &n)
            if event == 1 {
                onCall(SeccompNotification(pid: n.pid, auditArch: n.arch, nr: n.nr, args: withUnsafeBytes(of: n.args) { Array($0.bindMemory(to: UInt64.self)) }))
                _ = pc_notify_continue(listener, n.id)
            } else if event == 2 {
                setupFailure = readFailure()
                watched = -1
            } else {
                return setupFailure
            }
        }
    }

    private func letGo() {
        var go: UInt8 = 1
        _ = write(syncFD, &go, 1)
    }

    private func readRecord(_ record: inout pc_launch_error) -> Bool {
        var n: Int
        repeat { n = read(errorFD, &record, MemoryLayout<pc_launch_error>.size) } while n < 0 && errno == EINTR
        return n == MemoryLayout<pc_launch_error>.size
    }

    /// The failure the child reports, or nil at EOF (it exec'd).
    private func readFailure() -> StepFailure? {
        var record = pc_launch_error()
        return readRecord(&record) ? failure(record) : nil
    }

    private func failure(_ record: pc_launch_error) -> StepFailure {
        let name = Int(record.step) >= 0 && Int(record.step) < steps.count ? steps[Int(record.step)].name : "exec"
        return StepFailure(step: name, errno: record.err)
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
