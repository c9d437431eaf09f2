import Foundation
import Launcher
import PolicyCompiler
import PolicyModel
import SystemLayer
import Testing

/// `policyc run --audit`: the workload runs; what the policy would deny is reported.
@Suite(.serialized) struct AuditTests {
    /// The audit program allows exactly what the policy does and sends everything else (`log`
    /// included: reported as logged and allowed) to the listener, on every syscall of every
    /// architecture the policy covers.
    @Test(arguments: ["default.yaml", "strict.yaml", "webserver.yaml"])
    func auditProgramNotifiesExactlyWhatThePolicyDenies(_ name: String) throws {
        let filter = try #require(compile(path: Paths.policies + "/" + name).0)
        let audit = try BPFInterpreter(filter.auditProgram())
        let original = BPFInterpreter(filter.program)
        for arch in filter.ir.arches.map(\.arch) {
            for entry in SyscallTable.forArch(arch).entries {
                for args in [[UInt64](repeating: 0, count: 6), [1, 2, 3, 4, 5, 6], [0x7FFF_FFFF_FFFF, 0xFFFF_FFFF, 1 << 28, 0, 0, 0]] {
                    let before = try original.run(auditArch: arch.auditArch, nr: entry.number, args: args).action
                    let after = try audit.run(auditArch: arch.auditArch, nr: entry.number, args: args).action
                    let expected: Action = before == .allow ? before : .notify
                    #expect(after == expected, "\(arch) \(entry.name)\(args): \(before) became \(after)")
                }
            }
        }
    }

    /// Calls of one syscall that different rules would deny are reported apart, each with its
    /// own verdict and rule.
    @Test func eachDenyingRuleIsItsOwnLine() throws {
        let text = """
            policyc: v1
            name: two
            seccomp:
              defaultAction: allow
              architectures: [x86_64]
              syscalls:
                - names: [socket]
                  action: errno(EACCES)
                  when: "arg0 == AF_UNIX"
                - names: [socket]
                  action: errno(EPERM)
            """
        var log = AuditLog(filter: try #require(compile(text: text).0))
        let socket = try #require(SyscallTable.forArch(.x86_64).number(of: "socket"))
        for family: UInt64 in [1, 2, 2] {
            log.record(AuditLog.capture(SeccompNotification(pid: UInt32(getpid()), auditArch: Arch.x86_64.auditArch, nr: Int32(socket), args: [family, 1, 0, 0, 0, 0])))
        }
        let lines = log.entries.map { "\($0.action) \($0.decidedBy) \($0.calls) \($0.values)" }
        #expect(lines == ["errno(EACCES) rule at test.yaml:7 1 [[\"AF_UNIX\"], [\"SOCK_STREAM\"], [\"IPPROTO_IP\"]]",
                          "errno(EPERM) rule at test.yaml:10 2 [[\"AF_INET\"], [\"SOCK_STREAM\"], [\"IPPROTO_IP\"]]"], "\(lines)")
    }

    static let policy = """
        policyc: v1
        name: audited
        extends: [default]
        seccomp:
          syscalls:
            - names: [mkdir, mkdirat]
              action: errno(EPERM)
            - names: [getppid]
              action: kill-process

        """

    @Test func theWorkloadRunsAndTheReportNamesEveryDenial() throws {
        let (dir, policy) = try policyFile(Self.policy, named: "audited.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = "mkdir /tmp/made-in-audit && echo made; echo ppid=$PPID; cat /proc/self/status | grep -c Seccomp"
        let (status, out, err) = try runPolicyc(["run", "--audit", "--policy", policy, "--", "/bin/sh", "-c", script])
        #expect(status == 0, "\(err)")
        #expect(out.hasPrefix("made\nppid=0\n"), "denied syscalls did not run:\n\(out)\(err)")
        #expect(err.contains("would be errno(EPERM), decided by rule at \(policy):6"), "\(err)")
        #expect(err.contains("mkdir(\"/tmp/made-in-audit\", 0777)") || err.contains("mkdirat("), "\(err)")
        #expect(err.contains("getppid (x86_64): 1 call, would be kill-process"), "\(err)")

        // The suggested policy is valid and lets the same command run without --audit.
        let suggestion = try #require(err.components(separatedBy: "A policy that allows what ran:\n\n").last)
        try Data(suggestion.utf8).write(to: URL(fileURLWithPath: dir + "/suggested.yaml"))
        let (checked, _, checkErr) = try runPolicyc(["check", dir + "/suggested.yaml"])
        #expect(checked == 0, "\(suggestion)\n\(checkErr)")
        let (plain, plainOut, plainErr) = try runPolicyc(["run", "--policy", dir + "/suggested.yaml", "--", "/bin/sh", "-c", script])
        #expect(plain == 0 && plainOut.hasPrefix("made\nppid=0\n"), "\(plainOut)\(plainErr)")
    }

    /// With --init the command (not the init) carries the audited filter.
    @Test func auditWithAnInit() throws {
        let (dir, policy) = try policyFile(Self.policy, named: "audited.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, out, err) = try runPolicyc(["run", "--audit", "--init", "--policy", policy, "--", "/bin/sh", "-c", "echo pid=$$ ppid=$PPID"])
        #expect(status == 0 && out == "pid=2 ppid=1\n", "\(out)\(err)")
        #expect(err.contains("getppid (x86_64): 1 call"), "\(err)")
    }

    /// Rootless, the listener is taken from a child in a user namespace.
    @Test func auditAsNobody() throws {
        let (status, out, err) = try runPolicycAs("nobody", ["run", "--audit", "--", "/bin/sh", "-c", "mount -t tmpfs none /tmp 2>/dev/null; echo done"])
        #expect(status == 0 && out == "done\n", "\(out)\(err)")
        #expect(err.contains("mount(\"none\", \"/tmp\", \"tmpfs\", 0, 0)"), "\(err)")
        #expect(err.contains("would be errno(EPERM), decided by defaultAction at Policies/default.yaml"), "\(err)")
    }

    @Test func aPolicyThatDeniesNothingTheWorkloadDoesSaysSo() throws {
        let (status, _, err) = try runPolicyc(["run", "--audit", "--", "/bin/true"])
        #expect(status == 0, "\(err)")
        #expect(err.contains("the policy denied nothing the container did"), "\(err)")
    }

    /// With --tty the terminal is relayed on another thread while policyc serves the audit.
    @Test func auditWithATerminal() throws {
        let (dir, policy) = try policyFile(Self.policy, named: "audited.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = "test -t 0 && test -t 1 && echo tty-ok; mkdir /tmp/in-tty && echo made"
        let (status, out, err) = try runPolicyc(["run", "--audit", "--tty", "--policy", policy, "--", "/bin/sh", "-c", script])
        #expect(status == 0 && out.contains("tty-ok") && out.contains("made"), "\(out)\(err)")
        #expect(err.contains("\"/tmp/in-tty\""), "\(err)")
    }
}
