import LibseccompBackend
import PolicyCompiler
import PolicyModel
import Testing

/// policyc's generator against libseccomp's on the same IR: zero disagreements on every
/// syscall number both know, with sampled argument vectors.
@Suite struct DifferentialTests {
    @Test(arguments: Paths.corpusProfiles)
    func corpusProfileMatchesLibseccomp(name: String) throws {
        let (compiled, bag) = compile(path: Paths.seccompCorpus + "/" + name)
        var filter = try #require(compiled, "\(bag.errors)")
        if filter.ir.usesErrno(atLeast: 4095) {
            // moby-example returns errno 12345, which the kernel caps at 4095 and libseccomp
            // refuses: compare the rest with that errno lowered on both sides.
            #expect(throws: LibseccompBackend.Failure.self) { try LibseccompBackend.compile(filter.ir) }
            let ir = filter.ir.mapActions { $0 == .errno(4095) ? .errno(4094) : $0 }
            filter = CompiledFilter(policy: filter.policy, ir: ir, program: try SeccompCodegen(ir).generate())
        }
        for optimization in [LibseccompBackend.Optimization.linear, .binaryTree] {
            let reference = try LibseccompBackend.compile(filter.ir, optimization: optimization)
            let compared = try compareWithReference(filter, reference: reference, seed: 7)
            #expect(compared > 1000)
        }
    }

    @Test func shippedDefaultPolicyMatchesLibseccomp() throws {
        let filter = try #require(compile(path: Paths.policies + "/default.yaml").0)
        let reference = try LibseccompBackend.compile(filter.ir)
        #expect(try compareWithReference(filter, reference: reference, seed: 3) > 1000)
    }

    /// Random policies: names, actions and argument conditions libseccomp can express.
    @Test(arguments: 0..<12)
    func randomPoliciesMatchLibseccomp(batch: Int) throws {
        var rng = SplitMix(seed: 0xC0FFEE + UInt64(batch))
        var compiledCount = 0
        for _ in 0..<10 {
            let text = RandomPolicy.generate(using: &rng)
            let (compiled, bag) = compile(text: text)
            let filter = try #require(compiled, "\(bag.errors)\n\(text)")
            guard (try? LibseccompPlan.build(filter.ir)) != nil else { continue }
            let reference: BPFProgram
            do { reference = try LibseccompBackend.compile(filter.ir, optimization: Bool.random(using: &rng) ? .linear : .binaryTree) } catch {
                Issue.record("libseccomp rejected an expressible policy: \(error)\n\(text)")
                continue
            }
            compiledCount += 1
            _ = try compareWithReference(filter, reference: reference, seed: rng.next(), policyText: text)
        }
        #expect(compiledCount >= 6, "too few random policies were expressible in libseccomp")
    }
}

/// Compares verdicts; returns how many (syscall, arguments) pairs were compared.
@discardableResult
func compareWithReference(_ filter: CompiledFilter, reference: BPFProgram, seed: UInt64, policyText: String = "",
                          sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Int {
    try compareVerdicts(filter, reference: reference, seed: seed, policyText: policyText, sourceLocation: sourceLocation).compared
}

/// Every syscall of the filter's ABIs that libseccomp knows, with `samples` argument vectors
/// where the policy has conditions; stops at the first disagreement, recorded as an issue.
func compareVerdicts(_ filter: CompiledFilter, reference: BPFProgram, seed: UInt64, samples: Int = 40, policyText: String = "",
                     sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> (compared: Int, agreed: Bool) {
    var rng = SplitMix(seed: seed)
    let ours = BPFInterpreter(filter.program), theirs = BPFInterpreter(reference)
    var compared = 0
    for abi in filter.ir.arches {
        for entry in abi.table.entries where LibseccompBackend.knows(entry.name, on: abi.arch)
            && LibseccompBackend.knows(number: entry.number, on: abi.arch) {
            let count = abi.rules[entry.number]?.contains { $0.condition != nil } == true ? samples : 1
            for args in sampleArguments(for: filter.ir, nr: entry.number, abi: abi, rng: &rng, count: count) {
                let a = try ours.run(auditArch: abi.arch.auditArch, nr: entry.number, args: args)
                let b = try theirs.run(auditArch: abi.arch.auditArch, nr: entry.number, args: args)
                compared += 1
                if a.returnValue != b.returnValue {
                    Issue.record("\(abi.arch) \(entry.name) args \(args.map { "0x" + String($0, radix: 16) }): policyc \(a.action), libseccomp \(b.action)\n\(policyText)", sourceLocation: sourceLocation)
                    return (compared, false)
                }
            }
        }
    }
    return (compared, true)
}

/// Policies in the subset both generators express: per syscall, conditions are conjunctions
/// over distinct arguments, so first-match order can be restated as disjoint libseccomp rules.
enum RandomPolicy {
    static let actions = ["allow", "errno(EPERM)", "errno(EACCES)", "errno(1234)", "kill-process", "kill-thread", "trap", "log", "trace(7)"]
    static let ops = ["==", "!=", "<", "<=", ">", ">="]
    static let arches = [["x86_64"], ["x86"], ["x32"], ["x86_64", "x86"], ["x86_64", "x32"], ["x86_64", "x86", "x32"], ["x86", "x32"]]
    static let names: [String] = {
        let x86_64 = SyscallTable.forArch(.x86_64).entries.map(\.name)
        let x86 = SyscallTable.forArch(.x86).entries.map(\.name)
        // Socket and SysV IPC calls are also x86's socketcall/ipc under libseccomp, whose JSON
        // then cannot carry rules by argument (checked apart, in ArtifactMeaningTests).
        return Array(Set(x86_64 + x86)).sorted().filter { (LibseccompBackend.knows($0, on: .x86_64) || LibseccompBackend.knows($0, on: .x86)) && Multiplexed.calls[$0] == nil }
    }()

    static func value(using rng: inout SplitMix) -> UInt64 {
        switch rng.next() % 5 {
        case 0: return rng.next() % 16
        case 1: return rng.next()
        case 2: return rng.next() & 0xFFFF_FFFF
        case 3: return (rng.next() % 4) << 32 | rng.next() % 8
        default: return UInt64.max - rng.next() % 4
        }
    }

    static func generate(using rng: inout SplitMix) -> String {
        let defaultAction = actions.randomElement(using: &rng)!
        var text = """
            policyc: v1
            name: random
            seccomp:
              defaultAction: \(defaultAction)
              newSyscallAction: \(defaultAction)
              badArchAction: \(["kill-process", "errno(EPERM)", "allow"].randomElement(using: &rng)!)
              architectures: [\(arches.randomElement(using: &rng)!.joined(separator: ", "))]
              syscalls:

            """
        let pool = Array(names.shuffled(using: &rng).prefix(40))
        // libseccomp gives no order to rules of one syscall: each syscall keeps one action.
        // libseccomp 2.5.4 also mis-compiles two rules of one syscall when one uses a range or
        // not-equal comparison (see KernelTests), so such a syscall gets no second rule.
        var actionOf: [String: String] = [:]
        var closed = Set<String>()
        for _ in 0..<(1 + Int(rng.next() % 25)) {
            let action = actions.randomElement(using: &rng)!
            let chosen = Set((0..<(1 + Int(rng.next() % 6))).map { _ in pool.randomElement(using: &rng)! }
                .filter { (actionOf[$0] ?? action) == action && !closed.contains($0) })
            guard !chosen.isEmpty else { continue }
            let fresh = chosen.allSatisfy { actionOf[$0] == nil }
            for name in chosen { actionOf[name] = action }
            text += "    - names: [\(chosen.sorted().joined(separator: ", "))]\n"
            text += "      action: \(action)\n"
            if rng.next() % 10 < 6 {
                let ranges = fresh && rng.next() % 2 == 0
                if ranges { closed.formUnion(chosen) }
                text += "      when: \"\(condition(ranges: ranges, using: &rng))\"\n"
            }
        }
        return text
    }

    /// A conjunction over distinct arguments, or (without range comparisons) two of them or'ed.
    /// With ranges, sometimes one masked comparison of any operator alone (it becomes several
    /// masked-equality rules, which libseccomp 2.5.4 mis-compiles next to a range comparison).
    static func condition(ranges: Bool, using rng: inout SplitMix) -> String {
        let ops = ranges ? Self.ops : ["=="]
        if ranges, rng.next() % 3 == 0 {
            let mask = rng.next() % 2 == 0 ? rng.next() % 0x100 : value(using: &rng)
            let negate = rng.next() % 4 == 0
            let cmp = "(arg\(rng.next() % 6) & 0x\(String(mask, radix: 16))) \(ops.randomElement(using: &rng)!) 0x\(String(value(using: &rng), radix: 16))"
            return negate ? "!(\(cmp))" : cmp
        }
        func conjunction() -> String {
            let args = Array((0..<6).shuffled(using: &rng).prefix(1 + Int(rng.next() % 3)))
            return args.map { arg -> String in
                if rng.next() % 5 == 0 {
                    return "(arg\(arg) & 0x\(String(value(using: &rng), radix: 16))) == 0x\(String(value(using: &rng), radix: 16))"
                }
                return "arg\(arg) \(ops.randomElement(using: &rng)!) 0x\(String(value(using: &rng), radix: 16))"
            }.joined(separator: " && ")
        }
        return !ranges && rng.next() % 3 == 0 ? "(\(conjunction())) || (\(conjunction()))" : conjunction()
    }
}
