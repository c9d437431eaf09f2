import CShim
import Glibc

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
    public static func spawnCleaner(cgroupDirs: [String], staleBases: [String]) throws(SystemError) -> Cleaner {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else { throw SystemError("socketpair", errno) }
        let dirs = cgroupDirs.map { strdup($0) }, bases = staleBases.map { strdup($0) }
        defer { (dirs + bases).forEach { free($0) } }
        var dirPointers = dirs.map { UnsafePointer<CChar>($0) }, basePointers = bases.map { UnsafePointer<CChar>($0) }
        let pid = dirPointers.withUnsafeMutableBufferPointer { d in
            basePointers.withUnsafeMutableBufferPointer { b in
                pc_spawn_cleaner(fds[1], d.baseAddress, Int32(d.count), b.baseAddress, Int32(b.count))
            }
        }
        close(fds[1])
        guard pid > 0 else { close(fds[0]); throw SystemError("clone", -pid) }
        return Cleaner(channel: fds[0])
    }

    /// The cleaner, seen from policyc: its channel stays open, unused but for `hold`, for as
    /// long as policyc lives (its closing, however policyc ends, is the cleaner's signal).
    public struct Cleaner: Sendable {
        let channel: Int32

        /// The cleaner holds `pid`'s mount namespace until it ends: the namespace's mounts are
        /// then taken down there, after policyc, rather than in the container's exit, which
        /// policyc waits for. Best effort: without it the exit only takes longer.
        public func holdMountNamespace(of pid: Int32) {
            let fd = open("/proc/\(pid)/ns/mnt", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            _ = hold(fd)
            close(fd)
        }

        /// The cleaner keeps a copy of `fd` open until it ends; 0 or -errno.
        func hold(_ fd: Int32) -> Int32 { pc_cleaner_hold(channel, fd) }
    }

    public static func landlockABI() -> Int { Int(pc_landlock_abi()) }

    /// prctl(PR_SET_DUMPABLE, 0): /proc/PID/mem, environ and exe of this process become
    /// reachable only with CAP_SYS_PTRACE over its user namespace.
    public static func makeNotDumpable() { _ = pc_not_dumpable() }

    public static func currentUID() -> UInt32 { getuid() }
    public static func currentGID() -> UInt32 { getgid() }
    public static func pid() -> Int32 { getpid() }
}

extension System {
    /// execv(path, arguments): returns only on failure, with its error (the caller's
    /// environment and descriptors go to the new program unchanged).
    public static func exec(_ path: String, _ arguments: [String]) -> SystemError {
        var cArgs: [UnsafeMutablePointer<CChar>?] = arguments.map { s -> UnsafeMutablePointer<CChar>? in strdup(s) }
        cArgs.append(nil)
        defer { for case let arg? in cArgs { free(arg) } }
        execv(path, cArgs)
        return SystemError("execve", errno)
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
