import Foundation
import PolicyCompiler
import PolicyModel
import PolicySemantics
import Testing

/// `policyc lint` on policies made to have each finding.
@Suite struct LintTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let id: String, policy: String, line: Int
        var testDescription: String { id }
    }

    static func seccomp(_ rules: String, extra: String = "") -> String {
        "policyc: v1\nname: t\nextends: [default]\n\(extra)seccomp:\n  syscalls:\n\(rules)"
    }

    static let cases: [Case] = [
        Case(id: "PC001", policy: seccomp("    - names: [getpid]\n      action: allow\n    - names: [getpid]\n      action: errno(EPERM)\n"), line: 8),
        Case(id: "PC002", policy: seccomp("    - names: [getpid]\n      action: allow\n    - names: [getpid, getppid]\n      action: errno(EPERM)\n"), line: 8),
        Case(id: "PC003", policy: "policyc: v1\nname: t\nseccomp:\n  defaultAction: allow\n  syscalls:\n    - names: [execve]\n      action: errno(EPERM)\n", line: 6),
        Case(id: "PC004", policy: "policyc: v1\nname: t\nseccomp:\n  defaultAction: errno(EPERM)\n  architectures: [x86_64, x86]\n  syscalls:\n    - names: [execve, exit_group]\n      action: allow\n    - names: [uname]\n      action: allow\n      when: \"arg0 < 0x100000000\"\n", line: 9),
        Case(id: "PC005", policy: "policyc: v1\nname: t\nextends: [default]\nnoNewPrivileges: false\n", line: 4),
        Case(id: "PC101", policy: seccomp("    - names: [ptrace]\n      action: allow\n"), line: 6),
        Case(id: "PC103", policy: seccomp("    - names: [bpf]\n      action: allow\n"), line: 6),
        Case(id: "PC107", policy: seccomp("    - names: [clone]\n      action: allow\n"), line: 6),
        Case(id: "PC108", policy: seccomp("    - names: [\"@mount\"]\n      action: allow\n"), line: 6),
        Case(id: "PC109", policy: seccomp("    - names: [open_by_handle_at]\n      action: allow\n"), line: 6),
        Case(id: "PC110", policy: seccomp("    - names: [personality]\n      action: allow\n"), line: 6),
        Case(id: "PC113", policy: seccomp("    - names: [finit_module]\n      action: allow\n"), line: 6),
        Case(id: "PC114", policy: seccomp("    - names: [ioctl]\n      action: allow\n"), line: 6),
        Case(id: "PC201", policy: "policyc: v1\nname: t\nextends: [default]\ncapabilities:\n  add: [SYS_ADMIN]\n", line: 5),
        Case(id: "PC301", policy: "policyc: v1\nname: t\nextends: [default]\ncontainer:\n  namespaces: [uts, ipc]\n", line: 4),
        Case(id: "PC401", policy: seccomp("    - names: [chroot]\n      action: allow\n", extra: "capabilities:\n  drop: [SYS_CHROOT]\n"), line: 8),
        Case(id: "PC403", policy: seccomp("    - names: [socket]\n      action: errno(EACCES)\n      when: \"arg0 == AF_INET\"\n", extra: "network:\n  families: [unix, inet]\n"), line: 5),
        Case(id: "PC404", policy: "policyc: v1\nname: t\nextends: [default]\nfilesystem:\n  read: [/etc]\n  deny: [/etc/shadow]\n", line: 6),
        Case(id: "PC405", policy: "policyc: v1\nname: t\nextends: [default]\nfilesystem:\n  read: [/]\n  write: [/tmp]\ncontainer:\n  mounts: [{type: tmpfs, destination: /srv, options: [nosuid]}]\n", line: 7),
        Case(id: "PC406", policy: "policyc: v1\nname: t\nextends: [default]\nfilesystem:\n  read: [/]\n  write: [/tmp]\napparmor:\n  rules: [\"/srv/** rw,\"]\n", line: 7),
        Case(id: "PC402", policy: "policyc: v1\nname: t\nextends: [default]\ncapabilities:\n  add: [SYS_TIME]\n", line: 5),
    ]

    func lint(_ text: String, _ extra: [String] = [], severity: String = "note") throws -> (Int32, String, String, String) {
        let (dir, path) = try policyFile(text, named: "t.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, out, err) = try runPolicyc(["lint", path, "--severity", severity] + extra)
        return (status, out, err, path)
    }

    @Test(arguments: cases)
    func eachFindingOnAPolicyMadeToHaveIt(_ c: Case) throws {
        let (status, out, err, path) = try lint(c.policy)
        #expect(status == 1, "\(out)\(err)")
        #expect(out.contains("\(path):\(c.line):") && out.contains("[\(c.id) "), "\(c.id) at line \(c.line):\n\(out)\(err)")
    }

    @Test(arguments: ["default", "strict", "webserver"])
    func shippedPoliciesHaveNoWarnings(_ name: String) throws {
        let (status, out, err) = try runPolicyc(["lint", Paths.policies + "/\(name).yaml"])
        #expect(status == 0 && !out.contains(": warning:") && !out.contains(": error:"), "\(out)\(err)")
    }

    /// `# policyc: allow ID reason` silences one finding; without a reason it does not.
    @Test func aCommentSilencesAFindingWithAReason() throws {
        let rules = "    - names: [ptrace]\n      action: allow\n"
        let silenced = Self.seccomp("    # policyc: allow PC101 the debugger sidecar traces its own children\n" + rules)
        let (status, out, _, _) = try lint(silenced, severity: "warning")
        #expect(status == 0 && !out.contains("[PC101 ") && out.contains("1 silenced"), "\(out)")
        let (bare, bareOut, _, _) = try lint(Self.seccomp("    # policyc: allow PC101\n" + rules), severity: "warning")
        #expect(bare == 1 && bareOut.contains("[PC101 "), "\(bareOut)")
    }

    /// SARIF 2.1.0 valid against the OASIS schema, with rule ids, help and regions.
    @Test func sarifIsValid() throws {
        let (status, out, err, _) = try lint(Self.seccomp("    - names: [ptrace, bpf]\n      action: allow\n"), ["--format", "sarif"])
        #expect(status == 1, "\(err)")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(out.utf8).write(to: URL(fileURLWithPath: dir + "/l.sarif"))
        let (valid, errors) = try runTool(Paths.root + "/Tools/validate-schema.py", ["json", Paths.root + "/Tests/Fixtures/schemas/sarif/sarif-schema-2.1.0.json", dir + "/l.sarif"])
        #expect(valid == 0, "\(errors)")
        let sarif = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let results = try #require(((sarif["runs"] as? [[String: Any]])?.first?["results"]) as? [[String: Any]])
        #expect(Set(results.compactMap { $0["ruleId"] as? String }).isSuperset(of: ["PC101", "PC103"]), "\(results)")
    }

    /// Docs/lint.md explains every id.
    @Test func everyIdIsDocumented() throws {
        let doc = try String(contentsOfFile: Paths.root + "/Docs/lint.md", encoding: .utf8)
        for rule in Linter.rules { #expect(doc.contains("`\(rule.id)`"), "\(rule.id)") }
    }
}
