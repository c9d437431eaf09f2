import Foundation
import LibseccompBackend
import PolicyCompiler
import PolicyModel
import Testing

/// Every artifact means what NAME.bpf means, read the way its consumer reads it (issue 9).
@Suite struct ArtifactMeaningTests {
    static let socketNr: UInt32 = 41, getpidNr: UInt32 = 39, getppidNr: UInt32 = 110

    /// NAME.seccomp.json as runc hands it to libseccomp.
    static func ociProfile(_ json: String) throws -> LibseccompBackend.OCIProfile {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        func number(_ v: Any?) -> UInt64? { (v as? NSNumber)?.uint64Value }
        let syscalls = (object["syscalls"] as? [[String: Any]] ?? []).map { entry in
            LibseccompBackend.OCIProfile.Syscall(
                names: entry["names"] as? [String] ?? [], action: entry["action"] as? String ?? "",
                errnoRet: number(entry["errnoRet"]).map { UInt32($0) },
                args: (entry["args"] as? [[String: Any]] ?? []).map {
                    .init(index: UInt32(number($0["index"]) ?? 0), value: number($0["value"]) ?? 0,
                          valueTwo: number($0["valueTwo"]) ?? 0, op: $0["op"] as? String ?? "")
                })
        }
        return .init(defaultAction: object["defaultAction"] as? String ?? "", defaultErrnoRet: number(object["defaultErrnoRet"]).map { UInt32($0) },
                     architectures: object["architectures"] as? [String] ?? [], syscalls: syscalls)
    }

    static func policy(_ when: String) -> String {
        """
        policyc: v1
        name: masked
        seccomp:
          defaultAction: allow
          architectures: [x86_64]
          syscalls:
            - names: [socket]
              action: errno(EACCES)
              when: "\(when)"
        """
    }

    /// An order compares the masked argument with the whole value; only equality masks it.
    @Test func maskedOrderComparesTheWholeValue() throws {
        let filter = try #require(compile(text: Self.policy("(arg0 & 0xff) < 0x100 || (arg1 & 0xf) > 0x13")).0)
        let interpreter = BPFInterpreter(filter.program)
        for x: UInt64 in [0, 0xff, 0x1ff, .max] {
            let verdict = try interpreter.run(auditArch: Arch.x86_64.auditArch, nr: Self.socketNr, args: [x, x, 0, 0, 0, 0]).action
            #expect(verdict == .errno(13), "arg0 = \(x)")
        }
        #expect(ArgCmp(arg: 0, mask: 0xff, op: .lt, value: 0x100).holds([0x1ff, 0, 0, 0, 0, 0]))
        #expect(!ArgCmp(arg: 0, mask: 0xf, op: .gt, value: 0x13).holds([.max, 0, 0, 0, 0, 0]))
        #expect(ArgCmp(arg: 0, mask: 0xf, op: .eq, value: 0x13).value == 3)
    }

    static let maskedConditions = [
        "(arg2 & 4) != 4", "(arg2 & 4) == 4", "(arg2 & 0x5c) < 0x31", "(arg2 & 0x5c) <= 0x44", "(arg2 & 0x5c) > 0x13",
        "(arg2 & 0x5c) >= 0x48", "(arg2 & 0xf0) > 0x1ff", "(arg2 & 0xf0) < 0x100", "(arg2 & 0x3) != 1", "!((arg2 & 4) == 4)",
        "(arg2 & 0x81) != 0x81 && arg0 == 2", "!((arg2 & 0x30) < 0x20)", "(arg2 & 0) < 1", "(arg2 & 0xfe) >= 0",
        // Bounded intervals (more than 16 values): aligned blocks of masked equalities.
        "arg2 >= 5 && arg2 <= 300", "arg2 > 17 && arg2 < 0x1f0 && arg2 != 100", "!(arg2 > 0x40 && arg2 < 0x1c1) && arg0 == 10",
        // A mask and another comparison on one argument: one masked equality per aligned block.
        "(arg2 & 0xf0) == 0x10 && arg2 < 0x150", "(arg2 & 4) == 4 && arg2 != 6 && arg2 <= 0x120",
        "(arg2 & 0xf) == 1 && (arg2 & 0x1f0) == 0x40", "(arg2 & 1) == 1 && (arg2 & 3) == 2", "(arg2 & 0x30) != 0x10 && arg2 > 0x77",
    ]

    /// runc, reading NAME.seccomp.json, builds a filter that answers every value of the masked
    /// argument as NAME.bpf does (the mask was dropped before: `socket(2, 1, 5)` got through).
    @Test(arguments: maskedConditions)
    func maskedComparisonMeansTheSameToRunc(_ when: String) throws {
        let filter = try #require(compile(text: Self.policy(when)).0)
        let json = try SeccompJSONEmitter(filter).object().render()
        let runc = try LibseccompBackend.compileLikeRunc(try Self.ociProfile(json))
        let ours = BPFInterpreter(filter.program), theirs = BPFInterpreter(runc)
        for arg2 in 0..<UInt64(0x200) {
            for arg0: UInt64 in [2, 10] {
                let args = [arg0, 1, arg2 | 0xABC0_0000_0000_0000, 0, 0, 0]
                let a = try ours.run(auditArch: Arch.x86_64.auditArch, nr: Self.socketNr, args: args).action
                let b = try theirs.run(auditArch: Arch.x86_64.auditArch, nr: Self.socketNr, args: args).action
                #expect(a == b, "\(when): socket(\(arg0), 1, \(args[2])): NAME.bpf \(a), runc \(b)\n\(json)")
                if a != b { return }
            }
        }
        if when == "(arg2 & 4) != 4" {
            // 5 & 4 is 4: the rule does not match, under runc either.
            #expect(try theirs.run(auditArch: Arch.x86_64.auditArch, nr: Self.socketNr, args: [2, 1, 5, 0, 0, 0]).action == .allow)
        }
    }

    /// The JSON never carries a mask on an operator libseccomp applies to the whole argument.
    @Test func onlyEqualityCarriesAMask() throws {
        for when in Self.maskedConditions where when.contains(" & ") {
            let filter = try #require(compile(text: Self.policy(when)).0)
            let json = try SeccompJSONEmitter(filter).object().render()
            let profile = try Self.ociProfile(json)
            for arg in profile.syscalls.flatMap(\.args) where arg.op != "SCMP_CMP_MASKED_EQ" {
                #expect(arg.index != 2, "\(when): \(arg.op) on the masked argument\n\(json)")
            }
        }
    }
}

/// An OCI/Docker seccomp profile given to policyc means what runc makes of the same file.
@Suite struct ImportMeaningTests {
    static let cases: [(String, String)] = [
        ("bare SCMP_ACT_ERRNO is EPERM, not defaultErrnoRet", """
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}, {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
            """),
        ("two comparisons on one argument are an OR", """
            {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                           "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 3, "op": "SCMP_CMP_GT"}]},
                          {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}]}
            """),
        ("the native architecture stays in the filter", """
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"],
             "syscalls": [{"names": ["getpid", "read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["uname"], "action": "SCMP_ACT_LOG"}]}
            """),
        ("trace data keeps 16 bits", """
            {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 5000}]}
            """),
        ("bare SCMP_ACT_TRACE carries EPERM", """
            {"defaultAction": "SCMP_ACT_TRACE", "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_TRACE"}, {"names": ["read", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
            """),
    ]

    @Test(arguments: cases.map(\.0))
    func profileMeansWhatRuncMakesOfIt(_ name: String) throws {
        let json = try #require(Self.cases.first { $0.0 == name }?.1)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/profile.json"))
        let (compiled, bag) = compile(path: dir + "/profile.json")
        let filter = try #require(compiled, "\(bag.errors)")
        let runc = try LibseccompBackend.compileLikeRunc(try ArtifactMeaningTests.ociProfile(json))
        #expect(try compareWithReference(filter, reference: runc, seed: 11) > 100)
        // Native syscalls, whatever the list says (read, getpid, uname, ptrace, kill, personality).
        let ours = BPFInterpreter(filter.program), theirs = BPFInterpreter(runc)
        for nr: UInt32 in [0, 39, 63, 101, 62, 135] {
            for args: [UInt64] in [[0, 0, 0, 0, 0, 0], [8, 4, 0, 0, 0, 0], [1, 9, 0, 0, 0, 0]] {
                let a = try ours.run(auditArch: Arch.x86_64.auditArch, nr: nr, args: args).action
                let b = try theirs.run(auditArch: Arch.x86_64.auditArch, nr: nr, args: args).action
                #expect(a == b, "x86_64 syscall \(nr) \(args): policyc \(a), runc \(b)")
            }
        }
        // Its own output says the same to runc.
        let emitted = try SeccompJSONEmitter(filter).object().render()
        let again = try LibseccompBackend.compileLikeRunc(try ArtifactMeaningTests.ociProfile(emitted))
        #expect(try compareWithReference(filter, reference: again, seed: 12) > 100)
    }

    /// errno data is capped at MAX_ERRNO with a warning; trace data is not.
    @Test func errnoIsCappedAndTraceDataIsNot() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("""
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 5000},
                                                            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}]}
            """.utf8).write(to: URL(fileURLWithPath: dir + "/p.json"))
        let (compiled, bag) = compile(path: dir + "/p.json")
        let filter = try #require(compiled, "\(bag.errors)")
        let interpreter = BPFInterpreter(filter.program)
        #expect(try interpreter.run(auditArch: Arch.x86_64.auditArch, nr: 101).action == .trace(5000))
        #expect(try interpreter.run(auditArch: Arch.x86_64.auditArch, nr: 39).action == .errno(4095))
        #expect(bag.items.filter { $0.message.contains("above 4095") }.count == 1, "\(bag.items)")
    }
}

/// x86's socketcall(2) and ipc(2) reach the socket and SysV IPC calls with their arguments
/// behind a pointer.
@Suite struct MultiplexerTests {
    static let x86 = Arch.x86.auditArch
    static let socketcall: UInt32 = 102, ipc: UInt32 = 117

    /// A call the policy denies is denied through the multiplexer too (it once went through:
    /// `connect: errno` left socketcall(SYS_CONNECT, ...) to the default allow); a conditional
    /// deny denies the call there whatever its arguments; a conditional allow adds nothing.
    @Test func deniedCallsStayDeniedThroughTheMultiplexer() throws {
        let (compiled, bag) = compile(text: """
            policyc: v1
            name: mux
            seccomp:
              defaultAction: allow
              architectures: [x86]
              syscalls:
                - names: [connect, shmat]
                  action: errno(EACCES)
                - names: [sendto]
                  action: errno(EPERM)
                  when: "arg3 == 0x40"
                - names: [bind]
                  action: allow
                  when: "arg2 == 16"
                - names: [bind]
                  action: errno(EBADF)
            """)
        let filter = try #require(compiled, "\(bag.errors)")
        let bpf = BPFInterpreter(filter.program)
        func verdict(_ nr: UInt32, _ call: UInt64) throws -> Action { try bpf.run(auditArch: Self.x86, nr: nr, args: [call, 0xdead0000, 0, 0, 0, 0]).action }
        #expect(try verdict(Self.socketcall, 3) == .errno(13))   // SYS_CONNECT
        #expect(try verdict(Self.ipc, 21) == .errno(13))         // SHMAT
        #expect(try verdict(Self.socketcall, 11) == .errno(1))   // SYS_SENDTO, whatever its flags
        #expect(try verdict(Self.socketcall, 2) == .errno(9))    // SYS_BIND: the allow needs arg2
        #expect(try verdict(Self.socketcall, 1) == .allow)       // SYS_SOCKET: no rule
        #expect(try bpf.run(auditArch: Self.x86, nr: 361, args: [3, 0, 16, 0, 0, 0]).action == .allow)  // bind itself
    }

    /// Where libseccomp's reading of a socket rule on socketcall would differ (a socket family
    /// allowed), the JSON outputs are a located error that says what to do; without x86 the
    /// same policy's JSON is what NAME.bpf is.
    @Test func socketFamiliesOnX86AreALocatedErrorForTheJSON() throws {
        let text = "policyc: v1\nname: fam\nextends: [default]\nnetwork:\n  families: [inet]\n"
        let filter = try #require(compile(text: text).0)
        #expect(throws: SeccompJSONEmitter.EmitError.self) { try SeccompJSONEmitter(filter).object() }
        do { _ = try SeccompJSONEmitter(filter).object() } catch {
            #expect(error.location != nil && error.description.contains("leave x86 out of architectures"), "\(error)")
        }
        let without = try #require(compile(text: text + "seccomp:\n  architectures: [x86_64, x32]\n").0)
        let json = try SeccompJSONEmitter(without).object().render()
        let runc = try LibseccompBackend.compileLikeRunc(try ArtifactMeaningTests.ociProfile(json))
        #expect(try compareWithReference(without, reference: runc, seed: 21) > 1000)
    }

    /// Every shipped policy's NAME.seccomp.json is accepted by libseccomp the way runc reads it
    /// and answers every sampled call as NAME.bpf does.
    @Test(arguments: ["default", "strict", "webserver", "batch"])
    func shippedJSONMeansWhatTheBPFMeansToRunc(name: String) throws {
        let filter = try #require(compile(path: Paths.policies + "/\(name).yaml").0)
        let json = try SeccompJSONEmitter(filter).object().render()
        let runc = try LibseccompBackend.compileLikeRunc(try ArtifactMeaningTests.ociProfile(json))
        #expect(try compareWithReference(filter, reference: runc, seed: 31) > 500)
    }
}
