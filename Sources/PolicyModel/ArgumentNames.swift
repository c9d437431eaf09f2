/// Syscall arguments as a reviewer reads them: `AF_NETLINK` for 16 as socket's family,
/// `0755` for 493 as mkdir's mode, `O_WRONLY|O_CREAT|O_CLOEXEC` for openat's flags. Only where
/// the syscall's signature gives the argument that meaning; nil where nothing is known.
public enum ArgumentNames {
    /// How one argument of one syscall is named.
    public enum Kind: Sendable, Equatable {
        /// One constant of these families (`AF_`), the value exactly.
        case exact([String])
        /// Constants of these families or-ed together, the rest in hex.
        case flags([String])
        /// `open`'s flags: the access mode, then the other `O_` flags.
        case openFlags
        /// A file mode, in octal, with its `S_IF` type when it has one.
        case mode
        /// A directory descriptor: `AT_FDCWD` or a number.
        case dirfd
        /// `clone`'s flags: `CLONE_` flags, and the exit signal in the low byte.
        case cloneFlags
        /// `socket`'s type: the `SOCK_` type in the low nibble, then `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
        case socketType
    }

    static let signal = Kind.exact(["SIG"])

    /// By syscall name, the kind of each argument index.
    static let table: [String: [Int: Kind]] = [
        "socket": [0: .exact(["AF_"]), 1: .socketType, 2: .exact(["IPPROTO_"])],
        "socketpair": [0: .exact(["AF_"]), 1: .socketType],
        "setsockopt": [1: .exact(["SOL_"])], "getsockopt": [1: .exact(["SOL_"])],
        "sendto": [3: .flags(["MSG_"])], "recvfrom": [3: .flags(["MSG_"])], "sendmsg": [2: .flags(["MSG_"])], "recvmsg": [2: .flags(["MSG_"])],
        "accept4": [3: .flags(["SOCK_"])],
        "open": [1: .openFlags, 2: .mode], "openat": [0: .dirfd, 2: .openFlags, 3: .mode], "creat": [1: .mode],
        "mkdir": [1: .mode], "mkdirat": [0: .dirfd, 2: .mode], "chmod": [1: .mode], "fchmod": [1: .mode],
        "fchmodat": [0: .dirfd, 2: .mode], "mknod": [1: .mode], "mknodat": [0: .dirfd, 2: .mode],
        "unlinkat": [0: .dirfd, 2: .flags(["AT_"])], "newfstatat": [0: .dirfd, 3: .flags(["AT_"])], "statx": [0: .dirfd, 2: .flags(["AT_"])],
        "faccessat": [0: .dirfd], "faccessat2": [0: .dirfd], "fchownat": [0: .dirfd, 4: .flags(["AT_"])],
        "renameat2": [0: .dirfd, 2: .dirfd, 4: .flags(["RENAME_"])], "linkat": [0: .dirfd, 2: .dirfd], "symlinkat": [1: .dirfd],
        "clone": [0: .cloneFlags], "unshare": [0: .flags(["CLONE_"])], "setns": [1: .flags(["CLONE_"])],
        "mmap": [2: .flags(["PROT_"]), 3: .flags(["MAP_"])], "mprotect": [2: .flags(["PROT_"])], "madvise": [2: .exact(["MADV_"])],
        "ioctl": [1: .exact(["TIOC", "FIO", "TC", "PERF_EVENT_IOC_"])],
        "fcntl": [1: .exact(["F_"])], "prctl": [0: .exact(["PR_"])], "personality": [0: .exact(["PER_"])],
        "kill": [1: signal], "tkill": [1: signal], "tgkill": [2: signal], "rt_sigaction": [0: signal], "pidfd_send_signal": [1: signal],
        "ptrace": [0: .exact(["PTRACE_"])], "keyctl": [0: .exact(["KEYCTL_"])], "futex": [1: .flags(["FUTEX_"])],
        "waitid": [0: .exact(["P_"])], "clock_gettime": [0: .exact(["CLOCK_"])], "clock_nanosleep": [0: .exact(["CLOCK_"])],
        "timerfd_create": [0: .exact(["CLOCK_"]), 1: .flags(["TFD_"])], "getrandom": [2: .flags(["GRND_"])],
        "memfd_create": [1: .flags(["MFD_"])], "sched_setscheduler": [1: .exact(["SCHED_"])],
        "ioprio_set": [0: .exact(["IOPRIO_WHO_"])], "kcmp": [2: .exact(["KCMP_"])], "arch_prctl": [0: .exact(["ARCH_"])],
        "epoll_create1": [0: .flags(["EPOLL_CLOEXEC"])], "eventfd2": [1: .flags(["EFD_"])], "inotify_init1": [0: .flags(["IN_CLOEXEC", "IN_NONBLOCK"])],
        "mount": [3: .flags(["MS_"])], "setrlimit": [0: .exact(["RLIMIT_"])], "getrlimit": [0: .exact(["RLIMIT_"])],
        "prlimit64": [1: .exact(["RLIMIT_"])], "seccomp": [0: .exact(["SECCOMP_SET_", "SECCOMP_GET_"])],
    ]

    /// Old spellings of a value that has a usual name: never chosen.
    static let aliases: Set<String> = [
        "AF_LOCAL", "AF_FILE", "AF_ROUTE", "SIGIOT", "SIGPOLL", "SIGCLD", "O_NDELAY", "O_FSYNC", "O_RSYNC", "MAP_ANON", "MAP_FILE",
        "F_GETLK64", "F_SETLK64", "F_SETLKW64", "SOCK_CLOEXEC_", "MSG_TRYHARD", "TCGETS2", "FIOQSIZE",
    ]

    public static func kind(of syscall: String, argument: Int) -> Kind? { table[syscall]?[argument] }

    /// The argument's name, or nil when only the number says it.
    public static func describe(_ value: UInt64, syscall: String, argument: Int, arch: Arch) -> String? {
        guard let kind = kind(of: syscall, argument: argument) else { return nil }
        let narrow = arch.hasWideArguments ? value : value & 0xFFFF_FFFF
        switch kind {
        case .exact(let families): return exact(narrow, families, arch)
        case .flags(let families): return flags(narrow, families, arch)
        case .openFlags:
            let access = ["O_RDONLY", "O_WRONLY", "O_RDWR", "3"][Int(narrow & 3)]
            let rest = narrow & ~3
            return rest == 0 ? access : access + "|" + (flags(rest, ["O_"], arch) ?? hex(rest))
        case .mode:
            let type = narrow & 0o170000
            let octal = "0" + String(narrow & 0o7777, radix: 8)
            return type == 0 ? octal : (exact(type, ["S_IF"], arch) ?? hex(type)) + "|" + octal
        case .dirfd:
            return Int32(truncatingIfNeeded: narrow) == -100 ? "AT_FDCWD" : nil
        case .socketType:
            let type = exact(narrow & 0xF, ["SOCK_"], arch) ?? String(narrow & 0xF)
            return narrow & ~0xF == 0 ? type : type + "|" + (flags(narrow & ~0xF, ["SOCK_NONBLOCK", "SOCK_CLOEXEC"], arch) ?? hex(narrow & ~0xF))
        case .cloneFlags:
            let signal = narrow & 0xFF
            let named = narrow & ~0xFF == 0 ? nil : flags(narrow & ~0xFF, ["CLONE_"], arch)
            let sig = signal == 0 ? nil : exact(signal, ["SIG"], arch) ?? String(signal)
            return [named, sig].compactMap { $0 }.joined(separator: "|").nonEmpty ?? "0"
        }
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// Each family's constants on `arch`, usual names first: by value.
    private static let byValue: [String: [UInt64: String]] = {
        var map: [String: [UInt64: String]] = [:]
        let families = Set(table.values.flatMap { $0.values }.flatMap { kind -> [String] in
            switch kind {
            case .exact(let f), .flags(let f): return f
            case .openFlags: return ["O_"]
            case .mode: return ["S_IF"]
            case .cloneFlags: return ["CLONE_", "SIG"]
            case .socketType: return ["SOCK_", "SOCK_NONBLOCK", "SOCK_CLOEXEC"]
            case .dirfd: return []
            }
        })
        for family in families {
            var values: [UInt64: String] = [:]
            for name in Constants.allNames where name.hasPrefix(family) && !aliases.contains(name) {
                guard let v = Constants.value(of: name, on: .x86_64) else { continue }
                if let current = values[v], (current.count, current) <= (name.count, name) { continue }
                values[v] = name
            }
            map[family] = values
        }
        return map
    }()

    /// Per family, per architecture where the value differs (O_ on arm), the name.
    private static func names(_ families: [String], _ arch: Arch) -> [(UInt64, String)] {
        families.flatMap { family in
            (byValue[family] ?? [:]).values.compactMap { name in Constants.value(of: name, on: arch).map { ($0, name) } }
        }
    }

    static func exact(_ value: UInt64, _ families: [String], _ arch: Arch) -> String? {
        names(families, arch).filter { $0.0 == value }.map(\.1).min { ($0.count, $0) < ($1.count, $1) }
    }

    /// Named values covering `value` (those of several bits chosen first, then single bits),
    /// shown from the lowest value up; what no name covers, in hex.
    static func flags(_ value: UInt64, _ families: [String], _ arch: Arch) -> String? {
        guard value != 0 else { return exact(0, families, arch) ?? "0" }
        let candidates = names(families, arch).filter { $0.0 != 0 && $0.0 & value == $0.0 }
            .sorted { ($0.0.nonzeroBitCount, $0.0, $1.1) > ($1.0.nonzeroBitCount, $1.0, $0.1) }
        var rest = value
        var parts: [(UInt64, String)] = []
        for (v, name) in candidates where v & rest == v {
            parts.append((v, name))
            rest &= ~v
        }
        guard !parts.isEmpty else { return nil }
        return (parts.sorted { $0.0 < $1.0 }.map(\.1) + (rest == 0 ? [] : [hex(rest)])).joined(separator: "|")
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
