import PolicyCompiler
import PolicyModel
import Testing

/// The generated BPF must give, for every syscall number and sampled arguments, exactly the
/// verdict the IR's reference semantics (spec 2.3) gives.
@Suite struct SemanticsTests {
    static let inputs: [String] = Paths.corpusProfiles.map { Paths.seccompCorpus + "/" + $0 }
        + ["default.yaml"].map { Paths.policies + "/" + $0 }

    @Test(arguments: inputs)
    func bpfAgreesWithReferenceSemantics(path: String) throws {
        let (compiled, bag) = compile(path: path)
        let filter = try #require(compiled, "\(bag.errors)")
        try assertAgreement(filter, seed: 1)
    }

    @Test func argumentIndependentSyscallsNeverLoadArguments() throws {
        let (compiled, _) = compile(path: Paths.seccompCorpus + "/moby-default.json")
        let filter = try #require(compiled)
        for abi in filter.ir.arches {
            for entry in abi.table.entries {
                let dependsOnArgs = abi.rules[entry.number]?.contains { $0.condition != nil } ?? false
                let outcome = filter.run(arch: abi.arch, nr: entry.number, args: [7, 7, 7, 7, 7, 7])
                #expect(outcome.readArguments == dependsOnArgs, "\(abi.arch) \(entry.name)")
            }
        }
    }

    @Test func outputIsByteIdenticalAcrossRuns() throws {
        let path = Paths.seccompCorpus + "/containers-common.json"
        let first = try #require(compile(path: path).0)
        let second = try #require(compile(path: path).0)
        #expect(first.program.bytes == second.program.bytes)
        #expect(try SeccompJSONEmitter(first).object().render() == SeccompJSONEmitter(second).object().render())
    }
}

/// Every known and a sample of unknown syscall numbers on every architecture of the filter,
/// plus other architectures (bad-arch action).
func assertAgreement(_ filter: CompiledFilter, seed: UInt64, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    var rng = SplitMix(seed: seed)
    let interpreter = BPFInterpreter(filter.program)
    for abi in filter.ir.arches {
        var numbers = abi.table.entries.map(\.number)
        let base: UInt32 = abi.arch == .x32 ? Arch.x32SyscallBit : 0
        numbers += [base + 1000, base + 470, base + 0x3FFF_FFFF, UInt32.max, 0x4000_0000, 0x3FFF_FFFF, 0x000F_0005]
        for nr in numbers {
            for args in sampleArguments(for: filter.ir, nr: nr, abi: abi, rng: &rng, count: abi.rules[nr] == nil ? 1 : 24) {
                let got = try interpreter.run(auditArch: abi.arch.auditArch, nr: nr, args: args)
                let (want, _) = filter.ir.verdict(auditArch: abi.arch.auditArch, nr: nr, args: args)
                #expect(got.action == want, "\(abi.arch) nr \(nr) args \(args)", sourceLocation: sourceLocation)
                if got.action != want { return }
            }
        }
    }
    for arch in Arch.allCases where filter.ir.abi(auditArch: arch.auditArch, nr: 0) == nil {
        let got = try interpreter.run(auditArch: arch.auditArch, nr: 0)
        #expect(got.action == filter.ir.badArchAction, "\(arch)", sourceLocation: sourceLocation)
    }
    let foreign = try interpreter.run(auditArch: 0x8000_0008, nr: 1)
    #expect(foreign.action == filter.ir.badArchAction, sourceLocation: sourceLocation)
}
