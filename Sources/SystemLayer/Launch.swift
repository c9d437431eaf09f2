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
    /// A seccomp step whose filter reports to a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER).
    public var hasListener: Bool {
        if case .seccomp(_, let flags) = self { return flags & 8 != 0 }
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
        let listener = pc_take_listener(pid, record.err, 5000)
        guard listener >= 0 else { return StepFailure(step: "seccomp listener", errno: -listener) }
        defer { Glibc.close(listener) }
        letGo()
        close(syncFD)
        syncFD = -1
        var watched = errorFD, setupFailure: StepFailure?
        var n = pc_notification()
        while true {
            let event = pc_audit_next(listener, watched, pid, &n)
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

public enum ExitStatus: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    /// The shell's convention: the status, or 128 + the signal.
    public var code: Int32 {
        switch self {
        case .exited(let c): return c
        case .signaled(let s): return 128 + s
        }
    }
}

public enum ProcessControl {
    public static func forwardSignals(to pid: Int32) { pc_forward_signals(pid) }

    public static func wait(_ pid: Int32) -> ExitStatus {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
    }

    public static func kill(_ pid: Int32, _ signal: Int32) { _ = Glibc.kill(pid, signal) }

    /// Starts the process that removes `cgroupDirs` once policyc is gone, however it ends, and
    /// then the cgroups of earlier runs left under `staleBases`.
    public static func spawnCleaner(cgroupDirs: [String], staleBases: [String]) throws(SystemError) -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pc_pipe_cloexec(&fds) == 0 else { throw SystemError("pipe2", errno) }
        let dirs = cgroupDirs.map { strdup($0) }, bases = staleBases.map { strdup($0) }
        defer { (dirs + bases).forEach { free($0) } }
        var dirPointers = dirs.map { UnsafePointer<CChar>($0) }, basePointers = bases.map { UnsafePointer<CChar>($0) }
        let pid = dirPointers.withUnsafeMutableBufferPointer { d in
            basePointers.withUnsafeMutableBufferPointer { b in
                pc_spawn_cleaner(fds[0], fds[1], d.baseAddress, Int32(d.count), b.baseAddress, Int32(b.count))
            }
        }
        close(fds[0])
        guard pid > 0 else { close(fds[1]); throw SystemError("fork", -pid) }
        // The write end stays open, unused, for as long as policyc lives.
        return fds[1]
    }

    public static func landlockABI() -> Int { Int(pc_landlock_abi()) }

    public static func currentUID() -> UInt32 { getuid() }
    public static func currentGID() -> UInt32 { getgid() }
    public static func pid() -> Int32 { getpid() }
}

extension System {
    public static func writeFile(_ path: String, _ text: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC)
        guard fd >= 0 else { throw SystemError("open \(path)", errno) }
        defer { close(fd) }
        let n = text.withCString { write(fd, $0, strlen($0)) }
        guard n >= 0 else { throw SystemError("write \(path)", errno) }
    }

    public static func openDirectory(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path)", errno) }
        return fd
    }

    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    public static func makeDirectory(_ path: String) throws(SystemError) {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw SystemError("mkdir \(path)", errno) }
    }

    public static func removeDirectory(_ path: String) -> Bool { rmdir(path) == 0 || errno == ENOENT }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    /// The target of a symbolic link, or nil when `path` is not one.
    public static func symlinkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension System {
    public static func sleep(milliseconds: Int) {
        var t = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        nanosleep(&t, nil)
    }

    /// Names in a directory, without . and ..; empty when it cannot be read.
    public static func directoryEntries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public static func writeStderr(_ text: String) {
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}

extension ProcessControl {
    /// posix_spawn + waitpid, output to /dev/null, `files` opened read-only at the given
    /// descriptors: a process launch with nothing of Foundation's own in between, for timing
    /// other programs.
    public static func spawnAndWait(_ argv: [String], files: [Int32: String] = [:]) -> ExitStatus {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        for (fd, path) in files { posix_spawn_file_actions_addopen(&actions, fd, path, O_RDONLY, 0) }
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        guard rc == 0 else { return .exited(127) }
        return wait(pid)
    }
}

/// A pseudo-terminal for the container, relayed to policyc's own standard streams.
public final class PseudoTerminal {
    public let master: Int32
    public private(set) var slave: Int32

    public init() throws(SystemError) {
        var m: Int32 = -1, s: Int32 = -1
        let rc = pc_open_pty(0, &m, &s)
        guard rc == 0 else { throw SystemError("posix_openpt", -rc) }
        master = m
        slave = s
    }

    /// After the clone: only the container may hold the terminal's side.
    public func closeSlave() {
        if slave >= 0 { close(slave); slave = -1 }
    }

    /// Blocks until the container's side of the terminal is closed.
    public func relay() { pc_relay_pty(master) }

    private var background: OpaquePointer?

    /// `relay()` on another thread, so this one can serve an audit; `finishRelay()` waits.
    public func startRelay() throws(SystemError) {
        guard let relay = pc_relay_pty_start(master) else { throw SystemError("pthread_create", EAGAIN) }
        background = relay
    }

    public func finishRelay() {
        if let background { pc_relay_pty_join(background) }
        background = nil
    }

    deinit {
        closeSlave()
        close(master)
    }
}

/// What identifies a file's version cheaply: a rebuilt binary gets another one.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64, inode: UInt64, size: Int64, modifiedSeconds: Int, modifiedNanoseconds: Int
}

extension System {
    public static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    public static func currentDirectory() -> String? {
        guard let p = getcwd(nil, 0) else { return nil }
        defer { Glibc.free(p) }
        return String(cString: p)
    }

    public static func effectiveUID() -> UInt32 { geteuid() }

    public static func identity(of path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                            modifiedSeconds: st.st_mtim.tv_sec, modifiedNanoseconds: st.st_mtim.tv_nsec)
    }

    /// A whole file of at most `limit` bytes; nil when it is absent, larger or unreadable.
    public static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        return readAll(fd, limit: limit)
    }

    /// Like `readFile`, but only a regular file (not a symlink) that the effective user owns
    /// and nobody else may write: a cache must not take bytes another user could have planted.
    public static func readPrivateFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, isPrivate(st) else { return nil }
        return readAll(fd, limit: limit)
    }

    private static func isPrivate(_ st: stat) -> Bool { st.st_uid == geteuid() && st.st_mode & 0o022 == 0 }

    /// Reads to the end into a buffer sized from fstat (procfs files say 0: a page), without
    /// zeroing it first: page faults are a good part of a launch's cost.
    private static func readAll(_ fd: Int32, limit: Int) -> [UInt8]? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        var capacity = min(max(Int(st.st_size), 4095), limit) + 1
        var bytes: [UInt8] = []
        while true {
            let room = capacity - bytes.count
            var failed = false
            let chunk = [UInt8](unsafeUninitializedCapacity: room) { buffer, count in
                var n: Int
                repeat { n = read(fd, buffer.baseAddress, room) } while n < 0 && errno == EINTR
                failed = n < 0
                count = max(n, 0)
            }
            if failed { return nil }
            if chunk.isEmpty { return bytes }
            if bytes.isEmpty { bytes = chunk } else { bytes += chunk }
            if bytes.count > limit { return nil }
            if bytes.count == capacity { capacity = min(capacity * 2, limit + 1) }
        }
    }

    /// A directory only the effective user can write, made (with its parents) when missing;
    /// false when it exists with looser ownership or permissions, or cannot be made.
    public static func makePrivateDirectory(_ path: String) -> Bool {
        var st = stat()
        if lstat(path, &st) == 0 { return (st.st_mode & S_IFMT) == S_IFDIR && isPrivate(st) }
        makeParents(of: path)
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { return false }
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR && isPrivate(st)
    }

    /// `mkdir -p` of the directories above `path` (0755, as ~/.cache would be); a failure
    /// shows in the mkdir of `path` itself.
    private static func makeParents(of path: String) {
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        guard !parent.isEmpty, access(parent, F_OK) != 0 else { return }
        makeParents(of: parent)
        mkdir(parent, 0o755)
    }

    /// Writes `bytes` to `path` by rename from a temporary file: readers see the old file or
    /// the whole new one. Mode 0600.
    public static func replaceFile(_ path: String, with bytes: [UInt8]) throws(SystemError) {
        let temporary = "\(path).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemError("open \(temporary)", errno) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                let e = errno
                Glibc.close(fd)
                unlink(temporary)
                throw SystemError("write \(temporary)", e)
            }
            done += n
        }
        Glibc.close(fd)
        guard rename(temporary, path) == 0 else {
            let e = errno
            unlink(temporary)
            throw SystemError("rename \(temporary)", e)
        }
    }

    public static func removeFile(_ path: String) { unlink(path) }

    /// Modification time in seconds, for evicting the oldest cache entries.
    public static func modifiedSeconds(_ path: String) -> Int? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mtim.tv_sec : nil
    }
}

extension System {
    /// A NUL-terminated string at `address` in process `pid` (read through /proc/PID/mem, as a
    /// debugger does), at most `limit` bytes; nil when it cannot be read.
    public static func readString(pid: UInt32, address: UInt64, limit: Int = 256) -> String? {
        let fd = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, limit, off_t(Int64(bitPattern: address))) }
        guard n > 0 else { return nil }
        let bytes = buffer.prefix(n).prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self) + (bytes.count == n && n == limit ? "…" : "")
    }
}
