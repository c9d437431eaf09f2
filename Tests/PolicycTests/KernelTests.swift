import LibseccompBackend
import PolicyCompiler
import PolicyModel
import SystemLayer
import Testing

/// Filters installed in a real kernel (CI runs as root): real syscalls must return what the
/// interpreter predicts.
@Suite struct KernelTests {
    static let probePolicy = """
        policyc: v1
        name: probe
        seccomp:
          defaultAction: allow
          syscalls:
            - names: [socket]
              action: errno(EPERM)
              when: "arg0 == AF_NETLINK"
            - names: [getpgid]
              action: kill-process
            - names: [getsid]
              action: trap
            - names: [ptrace]
              action: errno(EACCES)
            - names: [getppid]
              action: errno(EXDEV)
              when: "arg0 == 0x100000005"
        """

    func probe(_ filter: CompiledFilter, _ call: String, arch: Arch = .x86_64) throws -> ProbeResult {
        let resolved = try PolicyTestRunner.resolve(call, arch: arch)
        return try FilterProbe.run(filter: filter.program.bytes, nr: Int(resolved.number), args: resolved.args,
                                   entry: arch == .x86 ? .i386 : .native)
    }

    @Test func deniedSocketFamilyFailsWithItsErrno() throws {
        let filter = try #require(compile(text: Self.probePolicy).0)
        let netlink = try probe(filter, "socket(AF_NETLINK, SOCK_RAW, 0)")
        #expect(netlink.returnValue == -1 && netlink.errno == 1)
        let unix = try probe(filter, "socket(AF_UNIX, SOCK_STREAM, 0)")
        #expect(unix.returnValue >= 0 && unix.signal == 0)
    }

    @Test func allowedGetpidWorks() throws {
        let filter = try #require(compile(text: Self.probePolicy).0)
        let result = try probe(filter, "getpid()")
        #expect(result.returnValue > 1 && result.signal == 0)
    }

    @Test func killProcessAndTrapEndWithSIGSYS() throws {
        let filter = try #require(compile(text: Self.probePolicy).0)
        #expect(try probe(filter, "getpgid(0)").signal == 31)
        #expect(try probe(filter, "getsid(0)").signal == 31)
    }

    @Test func fullWidthArgumentComparison() throws {
        let filter = try #require(compile(text: Self.probePolicy).0)
        #expect(try probe(filter, "getppid(0x100000005)").errno == 18)
        #expect(try probe(filter, "getppid(5)").returnValue > 0)
        #expect(try probe(filter, "ptrace(0)").errno == 13)
    }

    @Test func i386AndX32CallsAreFilteredAsTheirOwnArchitecture() throws {
        let text = """
            policyc: v1
            name: abis
            seccomp:
              defaultAction: allow
              syscalls:
                - names: [getppid]
                  action: errno(EXDEV)
                - names: [getpid]
                  action: errno(EROFS)
            """
        let filter = try #require(compile(text: text).0)
        #expect(try probe(filter, "getpid()", arch: .x86).errno == 30)
        #expect(try probe(filter, "getppid()", arch: .x86).errno == 18)
        #expect(try probe(filter, "getuid()", arch: .x86).returnValue >= 0)
        // x32: bit 30 set; the filter decides before the kernel looks for an x32 table.
        let x32 = try FilterProbe.run(filter: filter.program.bytes, nr: Int(SyscallTable.forArch(.x32).number(of: "getpid")!), args: [])
        #expect(x32.errno == 30)
    }

    @Test func badArchitectureIsKilled() throws {
        let text = """
            policyc: v1
            name: native-only
            seccomp:
              defaultAction: allow
              architectures: [x86_64]
            """
        let filter = try #require(compile(text: text).0)
        #expect(try probe(filter, "getpid()").returnValue > 0)
        #expect(try probe(filter, "getpid()", arch: .x86).signal == 31)
    }

    static let kernelCheckedInputs = Paths.corpusProfiles.map { Paths.seccompCorpus + "/" + $0 } + [Paths.policies + "/default.yaml"]

    /// The kernel accepts every filter policyc ships or imports, and answers as predicted.
    @Test(arguments: kernelCheckedInputs)
    func kernelAcceptsFilter(path: String) throws {
        let filter = try #require(compile(path: path).0)
        for call in ["getpid()", "getppid()", "socket(AF_UNIX, SOCK_STREAM, 0)", "socket(AF_VSOCK, SOCK_STREAM, 0)", "mount(0, 0, 0, 0, 0)"] {
            let resolved = try PolicyTestRunner.resolve(call, arch: .x86_64)
            let predicted = filter.run(arch: .x86_64, nr: resolved.number, args: resolved.args).action
            let real = try FilterProbe.run(filter: filter.program.bytes, nr: Int(resolved.number), args: resolved.args)
            switch predicted {
            case .allow: #expect(real.signal == 0 && (real.returnValue >= 0 || ![1, 38].contains(real.errno)), "\(call)")
            case .errno(let e): #expect(real.returnValue == -1 && real.errno == Int32(e), "\(call)")
            case .killProcess, .killThread, .trap: #expect(real.signal == 31, "\(call)")
            default: break
            }
        }
    }

    /// Random conditions on getppid's (unused) arguments: the kernel's verdict equals the
    /// interpreter's for every sampled vector.
    @Test(arguments: 0..<4)
    func kernelAgreesWithInterpreter(seed: UInt64) throws {
        var rng = SplitMix(seed: 0xBEEF + seed)
        let errnos = ["EXDEV", "EROFS", "EACCES", "EPERM"]
        var rules = ""
        for i in 0..<4 {
            rules += """
                    - names: [getppid]
                      action: errno(\(errnos[i]))
                      when: "\(RandomPolicy.condition(ranges: true, using: &rng))"

                """
        }
        let text = "policyc: v1\nname: k\nseccomp:\n  defaultAction: allow\n  syscalls:\n" + rules
        let filter = try #require(compile(text: text).0, "\(text)")
        let abi = try #require(filter.ir.archIR(.x86_64))
        let nr = SyscallTable.forArch(.x86_64).number(of: "getppid")!
        for args in sampleArguments(for: filter.ir, nr: nr, abi: abi, rng: &rng, count: 30) {
            let predicted = filter.run(arch: .x86_64, nr: nr, args: args).action
            let real = try FilterProbe.run(filter: filter.program.bytes, nr: Int(nr), args: args)
            switch predicted {
            case .allow: #expect(real.returnValue > 0, "\(args)\n\(text)")
            case .errno(let e): #expect(real.returnValue == -1 && real.errno == Int32(e), "\(args)\n\(text)")
            default: Issue.record("unexpected action \(predicted)")
            }
        }
    }

    /// libseccomp 2.5.4 mis-compiles two rules of one syscall with range comparisons: for this
    /// argument vector neither rule holds, yet its filter applies the rule action. policyc's
    /// filter gives the default, in the kernel too.
    @Test func rangeRulesThatLibseccompMiscompiles() throws {
        let text = """
            policyc: v1
            name: ranges
            seccomp:
              defaultAction: allow
              architectures: [x86_64]
              syscalls:
                - names: [getppid]
                  action: errno(EIO)
                  when: "(arg3 >= 0x84f51d4304f778ea && arg0 > 0x1215b2a6 && arg4 >= 4) || (arg0 < 0xa666d767 && arg4 != 0x9a54a724a5c58558 && arg3 <= 0xd)"
            """
        let filter = try #require(compile(text: text).0)
        let args: [UInt64] = [0x4f778ea, .max, 0x8000_0000_0000_000d, 0xe8a9_fa8c_04a4_ce03, 0x8000_0000_0000_0004, 0xf47e_d3ce_082c_b96a]
        let nr = SyscallTable.forArch(.x86_64).number(of: "getppid")!
        #expect(filter.ir.verdict(auditArch: Arch.x86_64.auditArch, nr: nr, args: args).0 == .allow)
        #expect(try FilterProbe.run(filter: filter.program.bytes, nr: Int(nr), args: args).returnValue > 0)
    }
}
