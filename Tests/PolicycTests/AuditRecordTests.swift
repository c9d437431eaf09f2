import Foundation
import Launcher
import PolicyCompiler
import PolicyModel
import Testing

/// `run --audit` against ground truth: a libc-free workload whose every syscall is known
/// (Tests/Fixtures/workloads/known-calls.c), its records read back as data.
@Suite(.serialized) struct AuditRecordTests {
    static let workload = buildLibcFree("workloads/known-calls.c", name: "known-calls")

    /// Denies all but what the workload needs to start, write and end: getppid is reported.
    static let strict = """
        policyc: v1
        name: known
        seccomp:
          defaultAction: errno(EPERM)
          syscalls:
            - names: [execve, exit_group, write]
              action: allow
        """

    /// Allows all but getppid; no pid namespace, so that an orphan outlives the first process.
    static let onlyGetppid = """
        policyc: v1
        name: known2
        seccomp:
          defaultAction: allow
          syscalls:
            - names: [getppid]
              action: errno(EPERM)
        container:
          namespaces: [mount, uts, ipc]
        """

    /// A rootfs holding only the workload, a policy, and the record file's path.
    func setUp(_ policy: String) throws -> (dir: String, policy: String, report: String) {
        try #require(Self.workload.status == 0, "\(Self.workload.log)")
        let (dir, path) = try policyFile(policy, named: "known.yaml")
        try FileManager.default.createDirectory(atPath: dir + "/rootfs", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.workload.path, toPath: dir + "/rootfs/known-calls")
        return (dir, path, dir + "/report.jsonl")
    }

    func records(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func audit(_ setup: (dir: String, policy: String, report: String), _ mode: String, extra: [String] = []) throws -> (Int32, String, String) {
        try runPolicyc(["run", "--audit", "--audit-report", setup.report, "--policy", setup.policy, "--rootfs", setup.dir + "/rootfs"]
                       + extra + ["--", "/known-calls", mode])
    }

    /// Exactly the workload's calls: two getppid, nothing of the launcher's (its wait for
    /// policyc, closing the listener) nor of the init's (its fork, signal mask, reaping).
    @Test(arguments: [[], ["--init"], ["--tty"]])
    func onlyTheWorkloadsCallsAreReported(_ extra: [String]) throws {
        let setup = try setUp(Self.strict)
        defer { try? FileManager.default.removeItem(atPath: setup.dir) }
        let (status, _, err) = try audit(setup, "getppid", extra: extra)
        #expect(status == 0, "\(err)")
        let calls = try records(setup.report).filter { $0["type"] as? String == "call" }
        #expect(calls.map { $0["syscall"] as? String } == ["getppid", "getppid"], "\(calls)\n\(err)")
        #expect(calls.last?["count"] as? Int == 2 && calls.allSatisfy { $0["executable"] as? String == "/known-calls" })
        #expect(err.contains("would have denied 1 syscall (2 calls)"), "\(err)")
        let (valid, errors) = try runTool(Paths.root + "/Tools/validate-schema.py", ["jsonl", Paths.root + "/Docs/audit-record.schema.json", setup.report])
        #expect(valid == 0, "\(errors)")
    }

    /// SIGALRM every 50 µs: with SA_RESTART every call is counted once (a restart was counted
    /// again); without it each reported call ran exactly once, and those a signal interrupts
    /// before policyc takes them fail with EINTR as the kernel has them (Docs/run.md).
    @Test func signalsNeitherDoubleCountNorLoseCalls() throws {
        let setup = try setUp(Self.onlyGetppid)
        defer { try? FileManager.default.removeItem(atPath: setup.dir) }
        let (status, out, err) = try audit(setup, "restarted")
        #expect(status == 0 && out == "eintr=0\n", "\(out)\(err)")
        #expect(err.contains("getppid (x86_64): 100000 calls"), "\(err.prefix(300))")
        let (_, plainOut, plainErr) = try audit(setup, "signals")
        let eintr = Int(plainOut.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
        #expect(plainErr.contains("getppid (x86_64): \(100_000 - eintr) calls"), "\(plainOut)\(plainErr.prefix(300))")
        print("AuditRecordTests: without SA_RESTART, \(eintr) of 100000 getppid calls interrupted before policyc took them")
    }

    /// Without a pid namespace a child outlives the first process: it is audited until it is
    /// gone, and its calls run (they got ENOSYS once policyc stopped listening).
    @Test func anOrphanIsAuditedToTheEnd() throws {
        let setup = try setUp(Self.onlyGetppid)
        defer { try? FileManager.default.removeItem(atPath: setup.dir) }
        let (status, out, err) = try audit(setup, "orphan")
        #expect(status == 0 && out == "ok=3\n", "\(out)\(err)")
        #expect(err.contains("getppid (x86_64): 3 calls"), "\(err)")
    }

    /// Many threads at once: every call counted, none lost or twice.
    @Test func threadsAreCountedExactly() throws {
        let setup = try setUp(Self.onlyGetppid)
        defer { try? FileManager.default.removeItem(atPath: setup.dir) }
        let binary = setup.dir + "/rootfs/threads"
        let (built, log) = try runTool("/usr/bin/gcc", ["-O2", "-static", "-pthread", "-o", binary, Paths.root + "/Tests/Fixtures/workloads/threads.c"])
        try #require(built == 0, "\(log)")
        let (status, out, err) = try runPolicyc(["run", "--audit", "--audit-report", setup.report, "--policy", setup.policy, "--rootfs", setup.dir + "/rootfs",
                                                  "--", "/threads", "16", "2000"])
        #expect(status == 0 && out == "failed=0\n", "\(out)\(err.prefix(500))")
        #expect(err.contains("getppid (x86_64): 32000 calls"), "\(err.prefix(500))")
        let calls = try records(setup.report).filter { $0["syscall"] as? String == "getppid" }
        #expect(calls.count == 32000 && Set(calls.compactMap { $0["pid"] as? Int }).count >= 2)
    }

    /// A path with quotes, newlines and terminal escapes cannot forge a line of the summary,
    /// and the record keeps it exactly.
    @Test func stringsCannotForgeTheReport() throws {
        let (dir, policy) = try policyFile(AuditTests.policy, named: "audited.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let evil = "/tmp/a\"b\n  ptrace (x86_64): 1 call, would be kill-process\u{1b}[2J\u{9b}x"
        let (status, _, err) = try runPolicyc(["run", "--audit", "--audit-report", dir + "/r.jsonl", "--policy", policy, "--",
                                                "/bin/mkdir", evil])
        #expect(status == 0, "\(err)")
        #expect(!err.contains("\n  ptrace") && !err.contains("\u{1b}") && !err.contains("\u{9b}"), "\(err)")
        #expect(err.contains(#"\"b\x0a  ptrace (x86_64): 1 call, would be kill-process\x1b[2J\xc2\x9bx""#), "\(err)")
        let mkdir = try records(dir + "/r.jsonl").first { ($0["syscall"] as? String)?.hasPrefix("mkdir") == true }
        let args = try #require(mkdir?["args"] as? [[String: Any]])
        #expect(args.contains { $0["string"] as? String == evil }, "\(args)")
    }

    /// Three harmless paths do not hide a fourth.
    @Test func everyDistinctPathIsShown() throws {
        let (dir, policy) = try policyFile(AuditTests.policy, named: "audited.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, _, err) = try runPolicyc(["run", "--audit", "--audit-report", dir + "/r.jsonl", "--policy", policy, "--",
                                                "/bin/mkdir", "/tmp/a", "/tmp/b", "/tmp/c", "/tmp/cron.d-evil"])
        #expect(status == 0 && err.contains("\"/tmp/cron.d-evil\""), "\(err)")
        let paths = try records(dir + "/r.jsonl").compactMap { ($0["args"] as? [[String: Any]])?.first?["string"] as? String }
        #expect(Set(paths).isSuperset(of: ["/tmp/a", "/tmp/b", "/tmp/c", "/tmp/cron.d-evil"]), "\(paths)")
    }

    /// policyc killed mid-run: every call already seen is in the file.
    @Test func aKilledRunKeepsItsRecords() throws {
        let (dir, policy) = try policyFile(AuditTests.policy, named: "audited.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.binary)
        process.arguments = ["run", "--audit", "--audit-report", dir + "/r.jsonl", "--policy", policy, "--",
                             "/bin/sh", "-c", "mkdir /tmp/before-the-kill; sleep 30"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = false
        for _ in 0..<100 where !seen {
            usleep(50_000)
            seen = ((try? String(contentsOfFile: dir + "/r.jsonl", encoding: .utf8)) ?? "").contains("before-the-kill")
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(seen)
        let records = try records(dir + "/r.jsonl")
        #expect(records.contains { ($0["args"] as? [[String: Any]])?.contains { $0["string"] as? String == "/tmp/before-the-kill" } == true })
        #expect(!records.contains { $0["type"] as? String == "summary" })
    }

    /// `log` means "tell me": its calls are reported as logged and allowed.
    @Test func logRulesAreReported() throws {
        let setup = try setUp(Self.strict.replacingOccurrences(of: "      action: allow", with: "      action: allow\n    - names: [getppid]\n      action: log"))
        defer { try? FileManager.default.removeItem(atPath: setup.dir) }
        let (status, _, err) = try audit(setup, "getppid")
        #expect(status == 0 && err.contains("getppid (x86_64): 2 calls, logged and allowed"), "\(err)")
        let summary = try #require(try records(setup.report).last)
        #expect(summary["loggedCalls"] as? Int == 2 && summary["deniedCalls"] as? Int == 0, "\(summary)")
    }

    @Test(arguments: [
        ("socket", 0, UInt64(16), "AF_NETLINK"), ("socket", 1, UInt64(0x80801), "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC"),
        ("mkdir", 1, UInt64(0o755), "0755"), ("mknodat", 2, UInt64(0o60600), "S_IFBLK|0600"),
        ("openat", 0, UInt64.max - 99, "AT_FDCWD"), ("openat", 2, UInt64(0o2101), "O_WRONLY|O_CREAT|O_APPEND"),
        ("clone", 0, UInt64(0x1200011), "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"), ("ioctl", 1, UInt64(0x5412), "TIOCSTI"),
        ("prctl", 0, UInt64(38), "PR_SET_NO_NEW_PRIVS"), ("kill", 1, UInt64(9), "SIGKILL"), ("personality", 0, UInt64(0x0008), nil),
    ] as [(String, Int, UInt64, String?)])
    func argumentsAreNamedByTheirConstants(_ syscall: String, _ index: Int, _ value: UInt64, _ name: String?) {
        #expect(ArgumentNames.describe(value, syscall: syscall, argument: index, arch: .x86_64) == name)
    }
}
