import PolicyCompiler
import PolicyModel
import Testing

/// The names `when` and `tests:` accept, generated from the kernel's and glibc's headers.
@Suite struct ConstantTests {
    struct Known: Sendable, CustomTestStringConvertible {
        let name: String, arch: Arch, value: UInt64?
        var testDescription: String { "\(name) on \(arch)" }
    }

    /// One or more members of every family issue 9 lists, with the value from the kernel's uapi
    /// headers for that architecture (nil: the name does not exist there).
    static let known: [Known] = [
        .init(name: "SOL_IP", arch: .x86_64, value: 0), .init(name: "SOL_IPV6", arch: .aarch64, value: 41),
        .init(name: "SOL_TCP", arch: .x86, value: 6), .init(name: "IPPROTO_TCP", arch: .x86_64, value: 6),
        .init(name: "IPPROTO_UDP", arch: .arm, value: 17), .init(name: "IPPROTO_MPTCP", arch: .x86_64, value: 262),
        .init(name: "IP_TTL", arch: .x86_64, value: 2), .init(name: "IP_TRANSPARENT", arch: .x86_64, value: 19),
        .init(name: "IPV6_V6ONLY", arch: .riscv64, value: 26), .init(name: "TCP_NODELAY", arch: .x86_64, value: 1),
        .init(name: "TCP_CONGESTION", arch: .x86_64, value: 13), .init(name: "MS_RDONLY", arch: .x86_64, value: 1),
        .init(name: "MS_BIND", arch: .x86_64, value: 4096), .init(name: "MS_NOUSER", arch: .x86_64, value: 1 << 31),
        .init(name: "MOUNT_ATTR_RDONLY", arch: .x86_64, value: 1), .init(name: "MOUNT_ATTR_IDMAP", arch: .x86_64, value: 0x100000),
        .init(name: "S_IFREG", arch: .x86_64, value: 0o100000), .init(name: "S_IFBLK", arch: .aarch64, value: 0o60000),
        .init(name: "EPOLL_CLOEXEC", arch: .x86_64, value: 0o2000000), .init(name: "EPOLLIN", arch: .x86_64, value: 1),
        .init(name: "EPOLL_CTL_ADD", arch: .x86_64, value: 1), .init(name: "EFD_SEMAPHORE", arch: .x86_64, value: 1),
        .init(name: "EFD_CLOEXEC", arch: .x86_64, value: 0o2000000), .init(name: "IN_CLOEXEC", arch: .x86_64, value: 0o2000000),
        .init(name: "IN_MODIFY", arch: .x86_64, value: 2), .init(name: "TFD_TIMER_ABSTIME", arch: .x86_64, value: 1),
        .init(name: "TFD_NONBLOCK", arch: .arm, value: 0o4000), .init(name: "FIONREAD", arch: .x86_64, value: 0x541B),
        .init(name: "FIOCLEX", arch: .aarch64, value: 0x5451), .init(name: "BPF_PROG_LOAD", arch: .x86_64, value: 5),
        .init(name: "BPF_MAP_CREATE", arch: .x86_64, value: 0), .init(name: "BPF_PROG_TYPE_CGROUP_DEVICE", arch: .x86_64, value: 15),
        .init(name: "PERF_TYPE_HARDWARE", arch: .x86_64, value: 0), .init(name: "PERF_FLAG_FD_CLOEXEC", arch: .x86_64, value: 8),
        .init(name: "PERF_EVENT_IOC_ENABLE", arch: .x86_64, value: 0x2400), .init(name: "KCMP_FILE", arch: .x86_64, value: 0),
        .init(name: "KCMP_EPOLL_TFD", arch: .x86_64, value: 7), .init(name: "ARCH_SET_FS", arch: .x86_64, value: 0x1002),
        .init(name: "ARCH_SET_GS", arch: .x86, value: 0x1001), .init(name: "ARCH_SET_FS", arch: .aarch64, value: nil),
        .init(name: "P_PID", arch: .x86_64, value: 1), .init(name: "P_PIDFD", arch: .x86_64, value: 3),
        .init(name: "CLOCK_MONOTONIC", arch: .x86_64, value: 1), .init(name: "CLOCK_BOOTTIME", arch: .x86_64, value: 7),
        .init(name: "GRND_RANDOM", arch: .x86_64, value: 2), .init(name: "GRND_NONBLOCK", arch: .x86_64, value: 1),
        .init(name: "MFD_CLOEXEC", arch: .x86_64, value: 1), .init(name: "MFD_ALLOW_SEALING", arch: .x86_64, value: 2),
        .init(name: "RENAME_NOREPLACE", arch: .x86_64, value: 1), .init(name: "RENAME_EXCHANGE", arch: .x86_64, value: 2),
        .init(name: "SCHED_FIFO", arch: .x86_64, value: 1), .init(name: "SCHED_RESET_ON_FORK", arch: .x86_64, value: 0x40000000),
        .init(name: "IOPRIO_CLASS_RT", arch: .x86_64, value: 1), .init(name: "IOPRIO_WHO_PROCESS", arch: .x86_64, value: 1),
        .init(name: "O_DIRECTORY", arch: .x86_64, value: 0o200000), .init(name: "O_DIRECTORY", arch: .aarch64, value: 0o40000),
        .init(name: "MAP_32BIT", arch: .x86, value: nil), .init(name: "AF_NETLINK", arch: .riscv64, value: 16),
    ]

    @Test(arguments: known) func hasTheKernelsValue(_ k: Known) {
        #expect(Constants.value(of: k.name, on: k.arch) == k.value)
    }

    static let families = ["IPPROTO_", "IP_", "IPV6_", "TCP_", "MS_", "MOUNT_ATTR_", "S_IF", "EPOLL", "EFD_", "IN_",
                           "TFD_", "FIO", "BPF_", "PERF_", "KCMP_", "ARCH_", "P_", "CLOCK_", "GRND_", "MFD_", "RENAME_",
                           "SCHED_", "IOPRIO_", "SOL_", "SO_", "AF_", "O_", "PR_", "CLONE_"]

    /// Each family is there as a whole, not one name of it.
    @Test(arguments: families) func familyIsComplete(_ prefix: String) {
        #expect(Constants.allNames.filter { $0.hasPrefix(prefix) }.count >= 2, "\(prefix)")
    }

    /// A flag spelt with a leading E (ECHO, EPOLLIN, EFD_CLOEXEC) is not an errno.
    @Test func errnoNamesAreOnlyErrnos() {
        for name in ["ECHO", "EPOLLIN", "EFD_CLOEXEC", "EXTA"] { #expect(Constants.errnoNames[name] == nil, "\(name)") }
        #expect(Constants.errnoNames["ENOSYS"] == 38)
        #expect(Constants.errnoNames["EWOULDBLOCK"] == 11)
        #expect(Constants.errnoNames.count >= 130)
    }

    /// The names reach a policy: its conditions and `tests:` resolve them, and the filter does what they say.
    @Test func policiesCanNameThem() throws {
        let text = """
        policyc: v1
        name: names
        seccomp:
          defaultAction: allow
          architectures: [x86_64]
          syscalls:
            - names: [setsockopt]
              action: errno(EPERM)
              when: "arg1 == SOL_IPV6 && arg2 == IPV6_V6ONLY"
            - names: [mount]
              action: errno(EACCES)
              when: "(arg3 & MS_BIND) == MS_BIND"
            - names: [arch_prctl]
              action: errno(EINVAL)
              when: "arg0 == ARCH_SET_GS"
        tests:
          - call: setsockopt(3, SOL_IPV6, IPV6_V6ONLY, 0, 4)
            expect: errno(EPERM)
          - call: setsockopt(3, SOL_TCP, TCP_NODELAY, 0, 4)
            expect: allow
          - call: mount(0, 0, 0, MS_BIND | MS_RDONLY, 0)
            expect: errno(EACCES)
          - call: arch_prctl(ARCH_SET_FS, 0)
            expect: allow
        """
        let (filter, bag) = compile(text: text)
        #expect(bag.errors.isEmpty, "\(bag.errors)")
        let program = try #require(filter).program
        let interpreter = BPFInterpreter(program)
        let nr = try #require(SyscallTable.forArch(.x86_64).number(of: "setsockopt"))
        let denied = try interpreter.run(auditArch: Arch.x86_64.auditArch, nr: nr, args: [3, 41, 26, 0, 4, 0]).action
        #expect(denied == .errno(1))
        #expect(PolicyTestRunner(try #require(filter)).run().isEmpty)
        #expect(throws: PolicyTestRunner.CallError.self) { try PolicyTestRunner.resolve("arch_prctl(ARCH_SET_FS, 0)", arch: .aarch64) }
    }
}
