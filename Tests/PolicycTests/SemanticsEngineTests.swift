import Foundation
import PolicyCompiler
import PolicyModel
import PolicySemantics
import Testing

/// The semantic engine: exact regions, held to the BPF interpreter like the code generator.
@Suite struct SemanticsEngineTests {
    static let inputs = ["Policies/default.yaml", "Policies/strict.yaml", "Policies/webserver.yaml", "Policies/batch.yaml",
                         "Tests/Fixtures/corpus/seccomp/moby-default.json", "Tests/Fixtures/corpus/seccomp/containers-common.json"]

    /// Every region's witness gets, from NAME.bpf, the verdict the engine gives the region.
    @Test(arguments: inputs)
    func regionsAgreeWithTheBPF(_ input: String) throws {
        let filter = try #require(compile(path: Paths.root + "/" + input).0)
        let bpf = BPFInterpreter(filter.program)
        var regions = 0
        for abi in filter.ir.arches {
            for nr in abi.rules.keys.sorted() {
                let p = Semantics.partition([filter.ir], arch: abi.arch, nr: nr)
                #expect(p.exact, "\(p.name)")
                for region in p.regions {
                    let number = abi.arch == .x32 ? nr | Arch.x32SyscallBit : nr
                    let action = try bpf.run(auditArch: abi.arch.auditArch, nr: number, args: region.witness).action
                    #expect(action == region.outcomes[0].action, "\(abi.arch) \(p.name) \(p.describe(region))")
                    regions += 1
                }
            }
        }
        #expect(regions > 50)
    }

    /// Masked and ranged comparisons on one argument split it into exactly the atoms they
    /// can tell apart.
    @Test func atomsOfMaskedAndRangedComparisons() throws {
        let filter = try #require(compile(text: "policyc: v1\nname: t\nseccomp:\n  defaultAction: allow\n  architectures: [x86_64]\n  syscalls:\n    - names: [socket]\n      action: errno(EPERM)\n      when: \"(arg0 & 0xf0) == 0x10 && arg0 < 0x150\"\n").0)
        let p = Semantics.partition([filter.ir], arch: .x86_64, nr: 41)
        #expect(p.arguments.first?.atoms.count == 4)
        let denied = p.regions.filter { $0.outcomes[0].action == .errno(1) }
        #expect(denied.count == 1 && denied[0].witness[0] & 0xf0 == 0x10 && denied[0].witness[0] < 0x150)
        #expect(p.describe(denied[0]) == "(arg0 & 0xf0) == 0x10 && arg0 < 0x150", "\(p.describe(denied[0]))")
    }
}

/// `policyc diff`: exact, grouped, and usable as a CI gate.
@Suite struct DiffTests {
    static let base = """
        policyc: v1
        name: base
        seccomp:
          defaultAction: errno(EPERM)
          syscalls:
            - names: [read, write, exit_group, execve]
              action: allow
            - names: [socket]
              action: allow
              when: "arg0 in [AF_UNIX, AF_INET]"
        """

    func diff(_ old: String, _ new: String, _ extra: [String] = []) throws -> (Int32, String, String) {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(old.utf8).write(to: URL(fileURLWithPath: dir + "/old.yaml"))
        try Data(new.utf8).write(to: URL(fileURLWithPath: dir + "/new.yaml"))
        return try runPolicyc(["diff", dir + "/old.yaml", dir + "/new.yaml"] + extra, cwd: dir)
    }

    /// One argument value out of 2^64 changes the verdict: the diff finds it (sampling would not).
    @Test func aChangeOnlyOneValueRevealsIsFound() throws {
        let new = Self.base.replacingOccurrences(of: "    - names: [socket]\n", with: "    - names: [socket]\n      action: errno(EACCES)\n      when: \"arg0 == AF_INET && arg2 == 0x1234567890abcdef\"\n    - names: [socket]\n")
        let (status, out, err) = try diff(Self.base, new)
        #expect(status == 0, "\(err)")
        #expect(out.contains("stricter:") && out.contains("socket (x86_64) when arg0 == AF_INET && arg2 == 0x1234567890abcdef: allow → errno(EACCES)"), "\(out)")
        #expect(!out.contains("looser:"), "\(out)")
    }

    /// --fail-on looser: exit 1 exactly when the new policy allows something the old did not.
    @Test func failOnLooserGatesCI() throws {
        let looser = Self.base.replacingOccurrences(of: "[AF_UNIX, AF_INET]", with: "[AF_UNIX, AF_INET, AF_NETLINK]")
        let (status, out, _) = try diff(Self.base, looser, ["--fail-on", "looser"])
        #expect(status == 1 && out.contains("looser:\n  socket (x86_64) when arg0 == AF_NETLINK: errno(EPERM) → allow"), "\(out)")
        let (stricter, _, _) = try diff(looser, Self.base, ["--fail-on", "looser"])
        #expect(stricter == 0)
        let (any, _, _) = try diff(looser, Self.base, ["--fail-on", "any"])
        #expect(any == 1)
        let (same, sameOut, _) = try diff(Self.base, Self.base, ["--fail-on", "any", "--format", "markdown"])
        #expect(same == 0 && sameOut.contains("No change in meaning."), "\(sameOut)")
    }

    /// Docker's default against policyc's: what policyc's default denies that Docker allows.
    @Test func dockersDefaultAgainstPolicycs() throws {
        let (status, out, err) = try runPolicyc(["diff", Paths.seccompCorpus + "/moby-default.json", Paths.policies + "/default.yaml", "--format", "json"])
        #expect(status == 0, "\(err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let changes = try #require(object["seccomp"] as? [[String: Any]])
        #expect(changes.contains { $0["syscall"] as? String == "ptrace" && $0["kind"] as? String == "stricter" }, "\(out.prefix(600))")
        #expect(!changes.contains { $0["kind"] as? String == "looser" }, "policyc's default allows nothing Docker's denies")
    }
}

/// `policyc explain` shows the engine's regions of the syscall and the one the call falls in.
@Suite struct ExplainRegionTests {
    @Test func explainNamesTheRegion() throws {
        let (status, out, err) = try runPolicyc(["explain", Paths.policies + "/default.yaml", "--call", "socket(AF_VSOCK, SOCK_STREAM, 0)"])
        #expect(status == 0 && out.contains("this call: arg0 == AF_VSOCK → errno(EPERM)") && out.contains("otherwise: arg0 == AF_ALG → errno(EPERM)"), "\(out)\(err)")
    }
}
