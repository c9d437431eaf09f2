import CShim
import Glibc

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

    /// mkdir; an existing directory is fine unless `exclusive`.
    public static func makeDirectory(_ path: String, exclusive: Bool = false) throws(SystemError) {
        guard mkdir(path, 0o755) == 0 || (errno == EEXIST && !exclusive) else { throw SystemError("mkdir \(path)", errno) }
    }

    /// uname -m: "x86_64", "aarch64".
    public static func machine() -> String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: &names.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// `bytes` random bytes (getrandom) as lowercase hex.
    public static func randomHex(bytes count: Int) -> String {
        var buffer = [UInt8](repeating: 0, count: count)
        _ = buffer.withUnsafeMutableBytes { pc_random($0.baseAddress, count) }
        return hex(buffer)
    }

    /// Lowercase hex of `bytes`, two digits each. Not String(_:radix:), whose first use costs a
    /// launch 0.07 ms.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    /// Attaches a cgroup device program (eBPF bytes) to the cgroup v2 directory at `path`; a
    /// program the verifier refuses comes back with its log.
    public static func attachDeviceProgram(_ bytes: [UInt8], toCgroup path: String) throws(SystemError) {
        let fd = try openDirectory(path)
        defer { Glibc.close(fd) }
        var log = [CChar](repeating: 0, count: 4096)
        let r = bytes.withUnsafeBytes { insns in
            log.withUnsafeMutableBufferPointer { pc_attach_device_program(fd, insns.baseAddress, UInt32(bytes.count / 8), $0.baseAddress, UInt32($0.count)) }
        }
        guard r == 0 else {
            let verifier = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SystemError("loading the device program for \(path)" + (verifier.isEmpty ? "" : " (\(verifier.prefix(200)))"), -r)
        }
    }

    /// A sealed, close-on-exec memfd holding `bytes` (nothing can write, grow or shrink it).
    public static func sealedMemfd(name: String, bytes: [UInt8]) throws(SystemError) -> Int32 {
        let fd = bytes.withUnsafeBytes { pc_sealed_memfd(name, $0.baseAddress, $0.count) }
        guard fd >= 0 else { throw SystemError("memfd_create", -fd) }
        return fd
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
    /// the whole new one. Mode 0600, or `mode` less the umask.
    public static func replaceFile(_ path: String, with bytes: [UInt8], mode: mode_t = 0o600) throws(SystemError) {
        let temporary = "\(path).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw SystemError("open \(temporary)", errno) }
        do { try writeAll(fd, bytes, what: temporary) } catch {
            Glibc.close(fd)
            unlink(temporary)
            throw error
        }
        Glibc.close(fd)
        guard rename(temporary, path) == 0 else {
            let e = errno
            unlink(temporary)
            throw SystemError("rename \(temporary)", e)
        }
    }

    public static func removeFile(_ path: String) { unlink(path) }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw SystemError("write \(what)", n < 0 ? errno : EIO) }
            done += n
        }
    }

    /// An output of policyc's: `-` and /dev/stdout are standard output; a link or anything
    /// that is not a regular file (a terminal, a pipe, a device) is written in place, never
    /// replaced; a regular file, or none yet, is replaced atomically (0644 less the umask).
    public static func writeOutput(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
        if path == "-" || path == "/dev/stdout" { return try writeAll(1, bytes, what: "standard output") }
        var link = stat(), target = stat()
        guard lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK || (link.st_mode & S_IFMT) != S_IFREG else {
            return try replaceFile(path, with: bytes, mode: 0o644)
        }
        let regular = stat(path, &target) == 0 && (target.st_mode & S_IFMT) == S_IFREG
        let fd = open(path, O_WRONLY | O_CLOEXEC | (regular ? O_TRUNC : 0))
        guard fd >= 0 else { throw SystemError("open \(path)", errno) }
        defer { Glibc.close(fd) }
        try writeAll(fd, bytes, what: path)
    }
}

extension System {
    /// A NUL-terminated string at `address` in process `pid` (read through /proc/PID/mem, as a
    /// debugger does), at most `limit` bytes, as bytes; `truncated` when no NUL came within
    /// them. nil when it cannot be read.
    public static func readCString(pid: UInt32, address: UInt64, limit: Int = 4096) -> (bytes: [UInt8], truncated: Bool)? {
        let fd = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, limit, off_t(Int64(bitPattern: address))) }
        guard n > 0 else { return nil }
        let bytes = Array(buffer.prefix(n).prefix { $0 != 0 })
        return (bytes, bytes.count == n)
    }

    /// The name of process `pid` (/proc/PID/comm), nil once it is gone.
    public static func processName(of pid: UInt32) -> String? {
        readFile("/proc/\(pid)/comm", limit: 64).map { String(decoding: $0.filter { $0 != 0x0A }, as: UTF8.self) }
    }

    /// The executable of process `pid` (/proc/PID/exe), nil once it is gone.
    public static func executable(of pid: UInt32) -> String? { symlinkTarget("/proc/\(pid)/exe") }

    /// The wall-clock time, seconds and nanoseconds since the epoch.
    public static func now() -> (seconds: Int, nanoseconds: Int) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (ts.tv_sec, ts.tv_nsec)
    }

    /// UTC calendar fields of `seconds` since the epoch: year, month, day, hour, minute, second.
    public static func utc(_ seconds: Int) -> [Int] {
        var t = time_t(seconds), parts = tm()
        gmtime_r(&t, &parts)
        return [Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec)]
    }
}

/// A file records are appended to as they happen: each `append` is one write(2), so what was
/// written survives policyc being killed.
public final class RecordFile: @unchecked Sendable {
    private let fd: Int32

    /// Creates or truncates `path` (0600: records can hold secrets the workload passed).
    public init(path: String) throws(SystemError) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("open \(path)", errno) }
    }

    public func append(_ bytes: [UInt8]) throws(SystemError) { try System.writeAll(fd, bytes, what: "the audit report") }

    deinit { Glibc.close(fd) }
}
