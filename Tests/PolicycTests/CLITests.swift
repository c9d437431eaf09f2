import Foundation
import PolicyCompiler
import PolicyModel
import Testing

/// The command line as users and CI run it: outputs, exit codes, messages.
@Suite struct CLITests {
    @Test func compileWritesBothOutputsByteIdentically() throws {
        let a = try temporaryDirectory(), b = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        for dir in [a, b] {
            let (status, _, stderr) = try runPolicyc(["compile", Paths.policies + "/default.yaml", "-o", dir])
            #expect(status == 0, "\(stderr)")
        }
        for file in ["default.bpf", "default.seccomp.json"] {
            let x = FileManager.default.contents(atPath: "\(a)/\(file)"), y = FileManager.default.contents(atPath: "\(b)/\(file)")
            #expect(x != nil && x == y, "\(file)")
        }
    }

    @Test func singleFormatToFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, _, _) = try runPolicyc(["compile", Paths.seccompCorpus + "/moby-default.json", "--format", "bpf", "-o", dir + "/x.bpf"])
        #expect(status == 0)
        let bytes = try #require(FileManager.default.contents(atPath: dir + "/x.bpf"))
        let program = try #require(BPFProgram(bytes: Array(bytes)))
        #expect(program.instructions.count > 100 && program.instructions.count <= maxInstructions)
    }

    @Test(arguments: [
        ["compile"],
        ["compile", "x.yaml", "--format", "pdf"],
        ["compile", "x.yaml", "--no-such-flag"],
        ["compile", "x.yaml", "-o", "out.bpf"],
        ["explain", "x.yaml"],
        ["explain", "x.yaml", "--call", "getpid()", "--arch", "sparc"],
        ["groups", "@nope"],
        ["frobnicate"],
    ])
    func usageErrorsExitTwo(arguments: [String]) throws {
        let (status, _, stderr) = try runPolicyc(arguments)
        #expect(status == 2, "\(arguments): \(status) \(stderr)")
        #expect(!stderr.isEmpty)
    }

    @Test func explainNamesTheDecidingRule() throws {
        let (status, out, _) = try runPolicyc(["explain", Paths.policies + "/default.yaml", "--call", "socket(AF_VSOCK, SOCK_STREAM, 0)"])
        #expect(status == 0)
        #expect(out.contains("socket(AF_VSOCK, SOCK_STREAM, 0) on x86_64 (syscall 41): errno(EPERM)"), "\(out)")
        #expect(out.contains("decided by: defaultAction at Policies/default.yaml:") || out.contains("decided by: defaultAction at \(Paths.policies)/default.yaml:"), "\(out)")
        let (_, allowed, _) = try runPolicyc(["explain", Paths.policies + "/default.yaml", "--call", "socket(AF_NETLINK, SOCK_RAW, 0)", "--arch", "x86"])
        #expect(allowed.contains("on x86 (syscall 359): allow"), "\(allowed)")
        #expect(allowed.contains("decided by: rule at ") && allowed.contains("default.yaml:"), "\(allowed)")
    }

    @Test func disassemblyIsSymbolic() throws {
        let (status, out, _) = try runPolicyc(["disasm", Paths.policies + "/default.yaml"])
        #expect(status == 0)
        #expect(out.hasPrefix("L0:    ld   [arch]\nL1:    jeq  x86_64,"), "\(out.prefix(200))")
        #expect(out.contains("(socket)") && out.contains("ret  kill-process") && out.contains("[arg0.hi]"))
    }

    @Test func groupsListsAndExpands() throws {
        let (status, out, _) = try runPolicyc(["groups"])
        #expect(status == 0 && out.contains("@network-io") && out.contains("@privileged"))
        let (_, members, _) = try runPolicyc(["groups", "@mount"])
        #expect(members.split(separator: "\n").contains("pivot_root"))
    }

    @Test func statsReportEveryArchitecture() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, out, _) = try runPolicyc(["compile", Paths.seccompCorpus + "/moby-default.json", "-o", dir, "--stats"])
        #expect(status == 0)
        for arch in ["x86_64", "x86", "x32"] { #expect(out.contains("\n\(arch) "), "\(out)") }
    }

    @Test func libseccompBackendAgrees() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, _, stderr) = try runPolicyc(["compile", Paths.policies + "/default.yaml", "--backend", "libseccomp", "--format", "bpf", "-o", dir + "/lib.bpf"])
        #expect(status == 0, "\(stderr)")
        let reference = try #require(BPFProgram(bytes: Array(FileManager.default.contents(atPath: dir + "/lib.bpf") ?? Data())))
        let filter = try #require(compile(path: Paths.policies + "/default.yaml").0)
        #expect(try compareWithReference(filter, reference: reference, seed: 11) > 1000)
    }

    @Test func checkRunsTestsAndReportsCount() throws {
        let (status, out, _) = try runPolicyc(["check", Paths.policies + "/default.yaml"])
        #expect(status == 0)
        #expect(out.contains("default: ok,") && out.contains("tests passed"))
    }
}

/// Far jumps: a filter whose blocks lie more than 255 instructions apart still means what its
/// IR says.
@Suite struct LargeFilterTests {
    @Test func farJumpsAreBridged() throws {
        let names = SyscallTable.forArch(.x86_64).entries.map(\.name).filter { !$0.hasPrefix("_") }.prefix(120)
        var text = "policyc: v1\nname: big\nseccomp:\n  defaultAction: errno(EPERM)\n  architectures: [x86_64, x32]\n  syscalls:\n"
        for (i, name) in names.enumerated() {
            text += "    - names: [\(name)]\n      action: allow\n      when: \"arg\(i % 6) in [\(i), \(i + 1000)] || arg\((i + 1) % 6) > 0x1\(i)00000000\"\n"
        }
        let (compiled, bag) = compile(text: text)
        let filter = try #require(compiled, "\(bag.errors)")
        #expect(filter.program.instructions.count > 1000)
        #expect(filter.program.instructions.contains { $0.code == BPFInstruction.Op.ja })
        try assertAgreement(filter, seed: 5)
    }
}

/// An output that cannot carry the policy fails alone, located at the rule (issue 9, item 4).
@Suite struct OutputIsolationTests {
    static let policy = """
        policyc: v1
        name: partial
        seccomp:
          defaultAction: allow
          syscalls:
            - names: [read]
              action: errno(EPERM)
              when: "(arg0 & 0xff) == 3 && arg0 > 5"
        """

    @Test func unexpressibleJSONStopsNoOtherOutput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/partial.yaml"
        try Data(Self.policy.utf8).write(to: URL(fileURLWithPath: path))
        let (status, _, err) = try runPolicyc(["compile", path, "-o", dir + "/out"])
        #expect(status == 1, "\(err)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/out"))
        #expect(files == ["partial.bpf", "partial.apparmor", "partial.cil"], "\(files)")
        let errors = err.split(separator: "\n").filter { $0.contains(": error: ") }
        #expect(errors.count == 3 && errors.allSatisfy { $0.hasPrefix(path + ":6:") }, "\(err)")
        let (bpfStatus, _, bpfErr) = try runPolicyc(["compile", path, "--format", "bpf", "-o", dir + "/only.bpf"])
        #expect(bpfStatus == 0 && bpfErr.isEmpty, "\(bpfErr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/only.bpf"))
    }
}

/// Where the command line's outputs go, as CI scripts use them (issue 9, item 15).
@Suite struct OutputStreamTests {
    @Test(arguments: [["--help"], ["--version"], ["compile", "--help"], ["--generate-completion-script", "bash"]])
    func askedForTextGoesToStandardOutput(_ arguments: [String]) throws {
        let (status, out, err) = try runPolicyc(arguments)
        #expect(status == 0 && !out.isEmpty && err.isEmpty, "exit \(status), stdout \(out.count) bytes, stderr: \(err)")
    }

    @Test func dashIsStandardOutput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, out, err) = try runPolicyc(["compile", Paths.policies + "/default.yaml", "--format", "seccomp-json", "-o", "-"], cwd: dir)
        #expect(status == 0 && out.hasPrefix("{\n  \"defaultAction\""), "\(err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "a file named '-'")
        let (refused, _, usage) = try runPolicyc(["compile", Paths.policies + "/default.yaml", "-o", "-"], cwd: dir)
        #expect(refused == 2 && usage.contains("give --format"), "\(usage)")
    }

    /// A link is written through, never replaced by a regular file (as `-o /dev/stdout` once
    /// replaced /dev/stdout for root); a regular file is replaced whole.
    @Test func linksAndDevicesAreWrittenInPlace() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("old contents, longer than the filter? no, but longer than nothing".utf8).write(to: URL(fileURLWithPath: dir + "/target"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: dir + "/target")
        let (status, _, err) = try runPolicyc(["compile", Paths.policies + "/default.yaml", "--format", "bpf", "-o", dir + "/link"])
        #expect(status == 0, "\(err)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link") == dir + "/target")
        let written = try Data(contentsOf: URL(fileURLWithPath: dir + "/target"))
        #expect(written.count % 8 == 0 && written.count > 64)
        // A device through a link of the test's own (a regression replaces that link, not /dev/null).
        try FileManager.default.createSymbolicLink(atPath: dir + "/null", withDestinationPath: "/dev/null")
        let (null, _, nullErr) = try runPolicyc(["compile", Paths.policies + "/default.yaml", "--format", "bpf", "-o", dir + "/null"])
        #expect(null == 0, "\(nullErr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/null") == "/dev/null")
        var st = stat()
        #expect(stat("/dev/null", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR)
    }

    @Test func writeErrorIsOneLineAndExitOne() throws {
        let (status, out, err) = try runPolicyc(["compile", Paths.policies + "/default.yaml", "--format", "bpf", "-o", "/nonexistent/dir/x.bpf"])
        #expect(status == 1 && out.isEmpty, "exit \(status)")
        #expect(err == "policyc: cannot write /nonexistent/dir/x.bpf: No such file or directory\n", "\(err)")
    }
}
