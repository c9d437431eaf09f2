import Foundation
import PolicyCompiler
import PolicyModel
import Testing

/// `policyc suggest` and run --audit's suggestion: what ran is allowed, by the smallest change.
@Suite struct SuggestTests {
    static let audited = """
        policyc: v1
        name: sg
        extends: [default]
        network:
          families: [unix]
        seccomp:
          syscalls:
            - names: [mkdir, mkdirat]
              action: errno(EPERM)
            - names: [setpriority]
              action: errno(E2BIG)
              when: "arg2 > 10"
        """

    func nr(_ name: String) -> UInt32 { SyscallTable.forArch(.x86_64).number(of: name)! }

    func suggested(_ calls: [ObservedCall], dir: String) throws -> (Suggester.Suggestion, CompiledFilter) {
        let (_, path) = (dir, dir + "/sg.yaml")
        try Data(Self.audited.utf8).write(to: URL(fileURLWithPath: path))
        let audited = try #require(compile(path: path).0)
        let suggestion = try #require(Suggester(audited).suggest(calls, extending: "./sg.yaml"))
        try Data(suggestion.text.utf8).write(to: URL(fileURLWithPath: dir + "/suggested.yaml"))
        let (filter, bag) = compile(path: dir + "/suggested.yaml")
        return (suggestion, try #require(filter, "\(bag.errors)\n\(suggestion.text)"))
    }

    func verdict(_ filter: CompiledFilter, _ name: String, _ args: [UInt64]) -> Action {
        filter.ir.verdict(auditArch: Arch.x86_64.auditArch, nr: nr(name), args: args + Array(repeating: 0, count: 6 - args.count)).0
    }

    /// A family network.families refused is added there (a rule allowing socket would sit
    /// behind the derived one and never apply); arguments are learned from what was seen,
    /// so unshare(CLONE_NEWUSER) does not allow unshare(CLONE_NEWNET), and getpriority(1, 0)
    /// leaves setpriority's own rule alone.
    @Test func theSmallestChangeThatAllowsWhatRan() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let calls = [
            ObservedCall(arch: .x86_64, nr: nr("socket"), args: [2, 1, 0, 0, 0, 0]),
            ObservedCall(arch: .x86_64, nr: nr("socket"), args: [2, 0x80001, 6, 0, 0, 0]),
            ObservedCall(arch: .x86_64, nr: nr("unshare"), args: [0x1000_0000, 0, 0, 0, 0, 0]),
            ObservedCall(arch: .x86_64, nr: nr("mkdir"), args: [0x7fff_0000, 0o755, 0, 0, 0, 0]),
        ]
        let (suggestion, filter) = try suggested(calls, dir: dir)
        #expect(suggestion.text.contains("network:\n  families: [unix, inet]\n") && !suggestion.text.contains("names: [socket]"), "\(suggestion.text)")
        for call in calls { #expect(verdict(filter, SyscallTable.forArch(.x86_64).name(of: call.nr)!, call.args) == .allow, "\(call)") }
        #expect(verdict(filter, "socket", [10, 1, 0]) == .errno(97), "inet6 stays refused")
        #expect(verdict(filter, "unshare", [0x4000_0000]) != .allow, "CLONE_NEWNET was never seen")
        #expect(verdict(filter, "setpriority", [0, 0, 11]) == .errno(7), "E2BIG rule kept")
        #expect(suggestion.newlyAllowed.contains("socket: the families inet (network.families)"), "\(suggestion.newlyAllowed)")
    }

    /// Records of two runs, merged; the file extends the audited policy relative to itself,
    /// checks out, and replays every recorded call as allowed.
    @Test func suggestFromRecordsOfSeveralRuns() throws {
        let (dir, policy) = try policyFile(Self.audited, named: "sg.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (i, script) in ["mkdir /tmp/a", "/bin/busybox nc -w 1 127.0.0.1 1 </dev/null"].enumerated() {
            let (status, _, err) = try runPolicyc(["run", "--audit", "--audit-report", dir + "/r\(i).jsonl", "--policy", policy, "--",
                                                    "/bin/busybox", "sh", "-c", script + "; true"])
            #expect(status == 0, "\(err)")
        }
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        let (status, _, err) = try runPolicyc(["suggest", dir + "/r0.jsonl", dir + "/r1.jsonl", "-o", dir + "/out/suggested.yaml"])
        #expect(status == 0 && err.contains("all allowed by the suggestion"), "\(err)")
        let text = try String(contentsOfFile: dir + "/out/suggested.yaml", encoding: .utf8)
        #expect(text.contains("extends: [../sg.yaml]") && text.contains("families: [unix, inet]") && text.contains("names: [mkdir]"), "\(text)")
        let (checked, _, checkErr) = try runPolicyc(["check", dir + "/out/suggested.yaml"])
        #expect(checked == 0, "\(checkErr)")
        let (ran, out, ranErr) = try runPolicyc(["run", "--policy", dir + "/out/suggested.yaml", "--", "/bin/busybox", "sh", "-c",
                                                 "mkdir /tmp/a && echo made; /bin/busybox nc -w 1 127.0.0.1 1 </dev/null; true"])
        #expect(ran == 0 && out.contains("made") && ranErr.contains("Connection refused"), "\(out)\(ranErr)")
    }
}
