import Foundation
import LibseccompBackend
import PolicyCompiler
import PolicyModel
import Testing

/// Random policies, written as a user would (every operator, masks, negation, several rules and
/// actions on one syscall, `network.families`, `extends`, 32-bit ABIs): NAME.seccomp.json read
/// the way runc reads it builds a filter that answers as NAME.bpf does, or the JSON is a
/// located error. `make bench` runs the same with a larger count (`POLICYC_RANDOM_POLICIES`).
@Suite struct RuncDifferentialTests {
    static let batches = 8

    @Test(arguments: 0..<batches)
    func randomPolicyJSONMeansWhatNameBpfMeans(batch: Int) throws {
        let perBatch = RuncRandomPolicy.count / Self.batches
        let tally = try RuncRandomPolicy.check(seeds: (0..<perBatch).map { 0x5EED_0000 + UInt64(batch * perBatch + $0) })
        print("RuncDifferentialTests batch \(batch): \(tally)")
        #expect(tally.rejected == 0 && tally.disagreed == 0, "\(tally)")
        // Random 64-bit constants on several ABIs often differ once narrowed to 32 bits, which
        // one JSON rule set cannot say; a fifth or more is written in every batch.
        #expect(tally.written * 5 >= perBatch, "\(tally)")
    }

    /// libseccomp 2.5.4 loops forever adding `a3 > X && a5 ...` after `a3 > X && a4 ...`: the
    /// JSON lists them the other way round (on the old order this test never ends).
    /// And `a0 >= 4 && a2 == 0x400000000`, then `a0 >= 4 && a2 == 0x500000000` (a node put
    /// before the head of a level two branches share).
    @Test(arguments: ["arg3 > 0x200000004 && (arg4 < 0x69812a34 || (arg5 & 0xf4) == 0)",
                      "arg0 >= 4 && (arg2 == 0x400000000 || arg2 == 0x500000000 || arg2 == 0x600000000)"])
    func rulesSharingARangeComparisonAreAddedInAnOrderLibseccompBuilds(_ when: String) throws {
        let filter = try #require(compile(text: """
            policyc: v1
            name: shared
            seccomp:
              defaultAction: kill-thread
              architectures: [x86_64]
              syscalls:
                - names: [execve, exit_group]
                  action: allow
                - names: [mprotect]
                  action: errno(1234)
                  when: "\(when)"
            """).0)
        let json = try RuncReading.checkedJSON(filter).render()
        let runc = try LibseccompBackend.compileLikeRunc(try ArtifactMeaningTests.ociProfile(json))
        #expect(try compareWithReference(filter, reference: runc, seed: 5) > 300)
    }

    /// A masked `!=` of a 64-bit constant on several arguments multiplies into many rules,
    /// which libseccomp takes minutes to build: past 1 024 on one syscall, a located error at once.
    @Test func rulesTooManyForLibseccompAreALocatedError() throws {
        let filter = try #require(compile(text: """
            policyc: v1
            name: many
            seccomp:
              defaultAction: allow
              architectures: [x86_64]
              syscalls:
                - names: [ioctl]
                  action: errno(EPERM)
                  when: "(arg1 & 0xffff) != 0x1230 && (arg2 & 0xffff00000000) != 0x45600000000"
                - names: [ioctl]
                  action: errno(EPERM)
                  when: "(arg3 & 0xffff) != 0x1231 && (arg4 & 0xffff00000000) != 0x45600000000"
                - names: [ioctl]
                  action: errno(EPERM)
                  when: "(arg5 & 0xffff) != 0x1232 && (arg0 & 0xffff00000000) != 0x45600000000"
                - names: [ioctl]
                  action: errno(EPERM)
                  when: "(arg1 & 0xffff) != 0x1233 && (arg3 & 0xffff00000000) != 0x45600000000"
                - names: [ioctl]
                  action: errno(EPERM)
                  when: "(arg2 & 0xffff) != 0x1234 && (arg4 & 0xffff00000000) != 0x45600000000"
            """).0)
        do { _ = try RuncReading.checkedJSON(filter); Issue.record("written") } catch {
            #expect(error.location?.line == 7 && error.description.contains("1280 libseccomp rules (at most 1024)"), "\(error)")
        }
    }

    /// libseccomp runs with a deadline, as runc init would spin on where it loops.
    @Test func libseccompThatDoesNotFinishInTimeIsAFailure() throws {
        let json = try RuncReading.checkedJSON(try #require(compile(path: Paths.policies + "/default.yaml").0)).render()
        let profile = try ArtifactMeaningTests.ociProfile(json)
        #expect(throws: LibseccompBackend.Failure.self) { try LibseccompBackend.compileLikeRunc(profile, giveUpAfter: 0) }
        _ = try LibseccompBackend.compileLikeRunc(profile, giveUpAfter: RuncReading.deadline)
    }

    /// runc refuses notify as the default action and on write (its notify socket needs them):
    /// the JSON is a located error, not a profile runc will not start.
    @Test(arguments: ["defaultAction: notify", "defaultAction: allow"])
    func notifyWhereRuncRefusesItIsALocatedError(_ defaultAction: String) throws {
        let filter = try #require(compile(text: """
            policyc: v1
            name: notify
            seccomp:
              \(defaultAction)
              syscalls:
                - names: [execve, exit_group, read]
                  action: allow
                - names: [\(defaultAction.hasSuffix("notify") ? "getpid" : "write")]
                  action: notify
            """).0)
        do { _ = try RuncReading.checkedJSON(filter); Issue.record("written") } catch {
            #expect(error.location != nil && error.description.contains("SCMP_ACT_NOTIFY cannot be used"), "\(error)")
        }
    }

    /// libseccomp 2.5.4 mis-compiles write's rules here (`write(0, 0, 0, 0, 0, 0x100000007)`
    /// trapped, seed 0x5EED0040); written as masked equalities of aligned blocks they build
    /// the same filter as NAME.bpf.
    @Test func rulesLibseccompMisCompilesAreWrittenAsEqualities() throws {
        let filter = try #require(compile(text: """
            policyc: v1
            name: reshaped
            seccomp:
              defaultAction: trap
              architectures: [x86_64]
              syscalls:
                - names: [execve, exit_group]
                  action: allow
                - names: [write]
                  action: allow
                  when: "(arg5 <= 0x200000000) || ((arg1 != 0x0) || (arg5 <= 0x100000006))"
            """).0)
        #expect(throws: SeccompJSONEmitter.EmitError.self) { try RuncReading.check(SeccompJSONEmitter(filter).object(), means: filter) }
        let readable = try RuncReading.readable(filter)
        #expect(readable.equalitiesOnlyInJSON == ["write"])
        let reshaped = try ArtifactMeaningTests.ociProfile(try SeccompJSONEmitter(readable).object().render())
        #expect(reshaped.syscalls.flatMap(\.args).allSatisfy { $0.op == "SCMP_CMP_EQ" || $0.op == "SCMP_CMP_MASKED_EQ" })
        #expect(try compareWithReference(filter, reference: LibseccompBackend.compileLikeRunc(reshaped), seed: 7) > 300)
    }

    /// Where libseccomp 2.5.4 would build other verdicts from the JSON, there is no JSON but an
    /// error at the rule; NAME.bpf is still written.
    @Test func rulesLibseccompMisCompilesAreALocatedError() throws {
        let policy = """
            policyc: v1
            name: miscompiled
            seccomp:
              defaultAction: errno(ENOSYS)
              architectures: [x86_64, x86]
              syscalls:
                - names: [chown]
                  action: kill-thread
                  when: "arg2 >= 0xfffffffffffffffd || (arg3 == 0x4000000 && arg3 < 0xae34866887b83434)"
                - names: [chown, execve, exit_group, fstatfs, getdents64, openat]
                  action: allow
            """
        let filter = try #require(compile(text: policy).0)
        #expect(throws: SeccompJSONEmitter.EmitError.self) { try RuncReading.checkedJSON(filter) }
        do { _ = try RuncReading.checkedJSON(filter) } catch {
            #expect(error.location?.line == 7 && error.description.contains("mis-compiles"), "\(error)")
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(policy.utf8).write(to: URL(fileURLWithPath: dir + "/m.yaml"))
        let (json, _, jsonErr) = try runPolicyc(["compile", dir + "/m.yaml", "--format", "seccomp-json", "-o", dir + "/m.json"])
        #expect(json == 1 && jsonErr.contains("m.yaml:7:7: error:") && !FileManager.default.fileExists(atPath: dir + "/m.json"), "\(jsonErr)")
        let (bpf, _, _) = try runPolicyc(["compile", dir + "/m.yaml", "--format", "bpf", "-o", dir + "/m.bpf"])
        #expect(bpf == 0 && FileManager.default.fileExists(atPath: dir + "/m.bpf"))
        let (bundle, _, bundleErr) = try runPolicyc(["bundle", dir + "/m.yaml", "--rootfs", "rootfs", "-o", dir + "/bundle"])
        #expect(bundle == 1 && bundleErr.contains("m.yaml:7:7: error: cannot write the bundle") && !FileManager.default.fileExists(atPath: dir + "/bundle/config.json"), "\(bundleErr)")
    }
}

struct RuncTally: CustomStringConvertible {
    var written = 0, locatedErrors = 0, rejected = 0, disagreed = 0, compared = 0
    var description: String {
        "\(written) written, \(locatedErrors) located errors, \(rejected) rejected by libseccomp, \(disagreed) disagreements, \(compared) calls compared"
    }
}

enum RuncRandomPolicy {
    static let count = Int(ProcessInfo.processInfo.environment["POLICYC_RANDOM_POLICIES"] ?? "") ?? 160
    /// POLICYC_RANDOM_VERBOSE=1 prints each located error, to see what the JSON cannot say.
    static let verbose = ProcessInfo.processInfo.environment["POLICYC_RANDOM_VERBOSE"] != nil
    static let actions = ["allow", "errno(EPERM)", "errno(EACCES)", "errno(ENOSYS)", "errno(1234)", "kill-process",
                          "kill-thread", "trap", "log", "trace(7)", "trace(5000)", "notify"]
    static let families = ["unix", "inet", "inet6", "netlink", "packet"]
    static let names: [String] = {
        let all = SyscallTable.forArch(.x86_64).entries.map(\.name) + SyscallTable.forArch(.x86).entries.map(\.name)
        return Array(Set(all)).sorted()
    }()
    /// Calls a random policy picks often, so that several rules meet on one syscall.
    static let hot = ["socket", "connect", "getpid", "personality", "mmap", "mprotect", "ioctl", "clone", "kill", "write"]

    static func check(seeds: [UInt64]) throws -> RuncTally {
        var tally = RuncTally()
        for seed in seeds {
            var rng = SplitMix(seed: seed)
            let text = generate(using: &rng)
            let (compiled, bag) = compile(text: text)
            let filter = try #require(compiled, "\(bag.errors)\n\(text)")
            let json: String
            do { json = try RuncReading.checkedJSON(filter).render() } catch {
                #expect(error.location != nil, "an unlocated error: \(error)\n\(text)")
                if verbose { print("located error, seed \(hex(seed)): \(error)") }
                tally.locatedErrors += 1
                continue
            }
            tally.written += 1
            let runc: BPFProgram
            do { runc = try LibseccompBackend.compileLikeRunc(try ArtifactMeaningTests.ociProfile(json), giveUpAfter: RuncReading.checkDeadline) } catch {
                Issue.record("runc would refuse it: \(error)\nseed \(seed)\n\(text)\n\(json)")
                tally.rejected += 1
                continue
            }
            // Every syscall runc can name (libseccomp 2.5.4 knows it) on the filter's ABIs: OCI
            // JSON has no bad-architecture action (runc's is kill-thread), and numbers
            // libseccomp cannot name are runc's to answer (Docs/seccomp-compiler.md).
            let (compared, agreed) = try compareVerdicts(filter, reference: runc, seed: rng.next(), samples: 24, policyText: "seed \(seed)\n\(text)")
            tally.compared += compared
            if !agreed { tally.disagreed += 1 }
        }
        return tally
    }

    /// DifferentialTests' values, and single bits (flags).
    static func value(using rng: inout SplitMix) -> UInt64 {
        rng.next() % 6 == 0 ? 1 << (rng.next() % 64) : RandomPolicy.value(using: &rng)
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    static func generate(using rng: inout SplitMix) -> String {
        let extends = rng.next() % 4 == 0
        var defaultAction = actions.randomElement(using: &rng)!
        if defaultAction == "notify" { defaultAction = "errno(EPERM)" }
        var text = "policyc: v1\nname: random\n"
        if extends { text += "extends: [default]\n" }
        if rng.next() % 4 == 0 {
            let chosen = families.shuffled(using: &rng).prefix(1 + Int(rng.next() % 3))
            text += "network:\n  families: [\(chosen.joined(separator: ", "))]\n"
        }
        text += "seccomp:\n"
        if !extends || rng.next() % 2 == 0 { text += "  defaultAction: \(defaultAction)\n" }
        text += "  architectures: [\(RandomPolicy.arches.randomElement(using: &rng)!.joined(separator: ", "))]\n"
        text += "  syscalls:\n"
        for _ in 0..<(1 + Int(rng.next() % 12)) {
            let chosen = Set((0..<(1 + Int(rng.next() % 4))).map { _ in
                rng.next() % 2 == 0 ? hot.randomElement(using: &rng)! : names.randomElement(using: &rng)!
            })
            text += "    - names: [\(chosen.sorted().joined(separator: ", "))]\n"
            text += "      action: \(actions.randomElement(using: &rng)!)\n"
            if rng.next() % 10 < 7 { text += "      when: \"\(condition(depth: 0, using: &rng))\"\n" }
        }
        return text
    }

    static func condition(depth: Int, using rng: inout SplitMix) -> String {
        let pick = depth >= 2 ? 0 : rng.next() % 6
        switch pick {
        case 3: return "!(\(condition(depth: depth + 1, using: &rng)))"
        case 4: return "(\(condition(depth: depth + 1, using: &rng))) && (\(condition(depth: depth + 1, using: &rng)))"
        case 5: return "(\(condition(depth: depth + 1, using: &rng))) || (\(condition(depth: depth + 1, using: &rng)))"
        default:
            let arg = "arg\(rng.next() % 6)", op = RandomPolicy.ops.randomElement(using: &rng)!
            if rng.next() % 3 == 0 {
                let mask = rng.next() % 2 == 0 ? rng.next() % 0x100 : value(using: &rng)
                return "(\(arg) & \(hex(mask))) \(op) \(hex(value(using: &rng)))"
            }
            return "\(arg) \(op) \(hex(value(using: &rng)))"
        }
    }
}
