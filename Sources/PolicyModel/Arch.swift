/// An architecture (ABI) a seccomp filter can cover.
public enum Arch: String, CaseIterable, Sendable, Comparable, Hashable {
    case x86_64, x86, x32, aarch64, arm, riscv64

    public static func < (a: Arch, b: Arch) -> Bool { a.order < b.order }

    private var order: Int { Arch.allCases.firstIndex(of: self)! }

    /// `AUDIT_ARCH_*`: what the kernel puts in `seccomp_data.arch`. x32 shares x86_64's and is told
    /// apart by bit 30 of the syscall number.
    public var auditArch: UInt32 {
        switch self {
        case .x86_64, .x32: return 0xC000_003E
        case .x86: return 0x4000_0003
        case .aarch64: return 0xC000_00B7
        case .arm: return 0x4000_0028
        case .riscv64: return 0xC000_00F3
        }
    }

    /// Arguments are compared on their low 32 bits on these ABIs, as libseccomp does.
    public var hasWideArguments: Bool {
        switch self {
        case .x86_64, .aarch64, .riscv64: return true
        case .x86, .x32, .arm: return false
        }
    }

    public static let x32SyscallBit: UInt32 = 0x4000_0000

    /// `execve`'s number, known without building the syscall tables: `run` checks it on every
    /// launch, and the tables cost more to build than the rest of the plan.
    public var execveNumber: UInt32 {
        switch self {
        case .x86_64: return 59
        case .x86, .arm: return 11
        case .x32: return Arch.x32SyscallBit | 520
        case .aarch64, .riscv64: return 221
        }
    }

    /// The ABIs a process of this architecture can also run: the default `architectures`.
    public var compatArches: [Arch] {
        switch self {
        case .x86_64: return [.x86_64, .x86, .x32]
        case .aarch64: return [.aarch64, .arm]
        default: return [self]
        }
    }

    public static var native: Arch {
        #if arch(x86_64)
        return .x86_64
        #elseif arch(arm64)
        return .aarch64
        #elseif arch(arm)
        return .arm
        #elseif arch(i386)
        return .x86
        #else
        return .riscv64
        #endif
    }

    /// The OCI/libseccomp spelling.
    public var scmpName: String {
        switch self {
        case .x86_64: return "SCMP_ARCH_X86_64"
        case .x86: return "SCMP_ARCH_X86"
        case .x32: return "SCMP_ARCH_X32"
        case .aarch64: return "SCMP_ARCH_AARCH64"
        case .arm: return "SCMP_ARCH_ARM"
        case .riscv64: return "SCMP_ARCH_RISCV64"
        }
    }

    /// The spelling Docker's `includes.arches` uses (Go's GOARCH, plus x32).
    public var goName: String {
        switch self {
        case .x86_64: return "amd64"
        case .x86: return "386"
        case .x32: return "x32"
        case .aarch64: return "arm64"
        case .arm: return "arm"
        case .riscv64: return "riscv64"
        }
    }

    /// Every spelling accepted in a policy, lower-cased.
    public static let spellings: [String: Arch] = {
        var map: [String: Arch] = [:]
        for arch in Arch.allCases {
            map[arch.rawValue] = arch
            map[arch.scmpName.lowercased()] = arch
            map[arch.goName] = arch
        }
        map["i386"] = .x86
        map["i686"] = .x86
        map["x86"] = .x86
        map["amd64"] = .x86_64
        map["arm64"] = .aarch64
        return map
    }()

    public static func named(_ name: String) -> Arch? { spellings[name.lowercased()] }

    /// Architectures libseccomp and Docker know but policyc does not generate code for:
    /// a profile naming them is accepted with a warning (runc skips what it cannot use too).
    public static let foreignSpellings: Set<String> = [
        "scmp_arch_mips", "scmp_arch_mipsel", "scmp_arch_mips64", "scmp_arch_mips64n32",
        "scmp_arch_mipsel64", "scmp_arch_mipsel64n32", "scmp_arch_ppc", "scmp_arch_ppc64",
        "scmp_arch_ppc64le", "scmp_arch_s390", "scmp_arch_s390x", "scmp_arch_parisc",
        "scmp_arch_parisc64", "scmp_arch_riscv32", "scmp_arch_loongarch64", "scmp_arch_m68k",
        "scmp_arch_sh", "scmp_arch_sheb",
        "mips", "mipsle", "mips64", "mips64le", "mipsn32", "mipsn64", "ppc", "ppc64", "ppc64le",
        "s390", "s390x", "parisc", "loong64", "loongarch64", "riscv32", "m68k", "sh",
    ]
}

/// A kernel release, as `major.minor`.
public struct KernelVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// Accepts "6.1", "6.1.0", "v5.10", "4.8.0-rc1".
    public init?(_ text: String) {
        var body = Substring(text)
        if body.first == "v" { body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 3,
              let major = Int(parts[0]), major >= 2, major < 100 else { return nil }
        let minorDigits = parts[1].prefix { $0.isNumber }
        guard !minorDigits.isEmpty, let minor = Int(minorDigits), minor < 1000 else { return nil }
        self.init(major: major, minor: minor)
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    public var description: String { "\(major).\(minor)" }
}

/// x86's multiplexers: socketcall(2) and ipc(2) take the call's number as arg0 and its
/// arguments behind a pointer, where a filter cannot see them.
public enum Multiplexed {
    /// name → (multiplexer, call number), as the kernel (linux/net.h, linux/ipc.h) and
    /// libseccomp number them.
    public static let calls: [String: (multiplexer: String, call: UInt64)] = {
        var map: [String: (String, UInt64)] = [:]
        let socket = ["socket", "bind", "connect", "listen", "accept", "getsockname", "getpeername", "socketpair", "send", "recv",
                      "sendto", "recvfrom", "shutdown", "setsockopt", "getsockopt", "sendmsg", "recvmsg", "accept4", "recvmmsg", "sendmmsg"]
        for (i, name) in socket.enumerated() { map[name] = ("socketcall", UInt64(i + 1)) }
        for (name, call) in [("semop", 1), ("semget", 2), ("semctl", 3), ("semtimedop", 4), ("msgsnd", 11), ("msgrcv", 12),
                             ("msgget", 13), ("msgctl", 14), ("shmat", 21), ("shmdt", 22), ("shmget", 23), ("shmctl", 24)] {
            map[name] = ("ipc", UInt64(call))
        }
        return map
    }()

    /// The ABIs with these multiplexers among policyc's.
    public static let arches: Set<Arch> = [.x86]
}
