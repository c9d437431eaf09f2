import CShim
import Glibc

/// An errno from a failed system call.
public struct SystemError: Error, Hashable, CustomStringConvertible {
    public let call: String
    public let errno: Int32

    public init(_ call: String, _ errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The system calls policyc makes, each wrapped once.
public enum System {
    /// EEXIST, for callers that see errno values without Glibc (libseccomp returns -errno).
    public static let alreadyExists = EEXIST
    /// Reads everything `write` puts into an anonymous in-memory file.
    public static func capture(_ write: (Int32) -> Int32) throws(SystemError) -> [UInt8] {
        let fd = pc_memfd_create("policyc")
        guard fd >= 0 else { throw SystemError("memfd_create", Glibc.errno) }
        defer { close(fd) }
        let rc = write(fd)
        guard rc == 0 else { throw SystemError("export", rc < 0 ? -rc : rc) }
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0, lseek(fd, 0, SEEK_SET) == 0 else { throw SystemError("lseek", Glibc.errno) }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, Glibc.errno == EINTR { continue }
            guard n > 0 else { throw SystemError("read", Glibc.errno) }
            done += n
        }
        return bytes
    }

    public static func describe(errno: Int32) -> String { String(cString: strerror(errno)) }

    /// Frees a C string a C library allocated with malloc.
    public static func free(_ pointer: UnsafeMutablePointer<CChar>) { Glibc.free(pointer) }

    /// The running kernel's release, e.g. "6.18.0".
    public static func kernelRelease() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// What happened to one syscall made under a filter in a child process.
public struct ProbeResult: Hashable, Sendable {
    public var returnValue: Int64
    public var errno: Int32
    public var signal: Int32
}

/// Installs a filter in a forked child and makes one real syscall there.
public enum FilterProbe {
    public enum Entry: Sendable {
        /// The native `syscall` instruction (x32 too, with bit 30 set in the number).
        case native
        /// `int $0x80`: the kernel sees an i386 syscall.
        case i386
    }

    public static func run(filter: [UInt8], nr: Int, args: [UInt64], entry: Entry = .native) throws(SystemError) -> ProbeResult {
        var result = pc_probe_result()
        var argv = (args + Array(repeating: 0, count: 6)).prefix(6).map { $0 }
        let rc = filter.withUnsafeBytes { bytes in
            argv.withUnsafeMutableBufferPointer { a in
                entry == .native
                    ? pc_probe_syscall(bytes.baseAddress, UInt16(filter.count / 8), nr, a.baseAddress, &result)
                    : pc_probe_syscall_i386(bytes.baseAddress, UInt16(filter.count / 8), nr, a.baseAddress, &result)
            }
        }
        guard rc == 0 else { throw SystemError("fork", -rc) }
        guard result.setup_errno == 0 else { throw SystemError("seccomp(SECCOMP_SET_MODE_FILTER)", result.setup_errno) }
        return ProbeResult(returnValue: result.ret, errno: result.err, signal: result.signal)
    }

    /// Whether the kernel implements a `SECCOMP_RET_*` action.
    public static func actionAvailable(_ seccompRet: UInt32) -> Bool {
        pc_action_available(seccompRet & 0xFFFF_0000) == 0
    }
}

/// Linux security modules the running kernel has enabled.
public enum LSM: String, Sendable, CaseIterable {
    case apparmor, selinux

    public var isEnabled: Bool {
        switch self {
        case .apparmor: return System.readSmallFile("/sys/module/apparmor/parameters/enabled")?.hasPrefix("Y") ?? false
        case .selinux: return System.readSmallFile("/sys/fs/selinux/enforce") != nil
        }
    }
}

extension System {
    /// The first bytes of a small (procfs/sysfs) file, or nil when it cannot be read.
    public static func readSmallFile(_ path: String, limit: Int = 4096) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, limit) }
        return n < 0 ? nil : String(decoding: buffer.prefix(n), as: UTF8.self)
    }
}
