import PolicyModel

/// The exact meaning of a filter (or of two, side by side) for one syscall on one ABI: the
/// argument space cut into regions where every comparison either filter makes has one truth
/// value, each region with a witness vector and the verdict and deciding rule of each filter.
/// Verdicts depend on arguments only through those comparisons, so a region's witness decides
/// the whole region: nothing is sampled. `explain`, `diff`, `lint` and `report` read it;
/// SemanticsEngineTests hold it to the BPF interpreter.
public struct SyscallPartition: Sendable {
    /// Whether `c` holds throughout `region` (c among the comparisons of its argument).
    public func holds(_ c: ArgCmp, in region: Region) -> Bool {
        let probe = arch.hasWideArguments ? c : c.narrowed
        guard let k = arguments.firstIndex(where: { $0.index == probe.arg }), let i = arguments[k].comparisons.firstIndex(of: probe) else {
            return probe.holds(region.witness)
        }
        return arguments[k].atoms[region.atoms[k]].truth[i]
    }

    /// The region `args` (as the caller passes them) fall in.
    public func region(containing args: [UInt64]) -> Region? {
        let narrow = args.map { arch.hasWideArguments ? $0 : $0 & 0xFFFF_FFFF }
        return regions.first { region in
            arguments.enumerated().allSatisfy { k, a in
                zip(a.comparisons, a.atoms[region.atoms[k]].truth).allSatisfy { $0.holds(narrow) == $1 }
            }
        }
    }

    public let arch: Arch
    public let nr: UInt32
    public let name: String
    /// Per argument that some comparison reads: the comparisons, and the feasible ways they
    /// can hold together (atoms), each with a witness value.
    public let arguments: [ArgumentAtoms]
    public let regions: [Region]
    /// false when the atoms grew past the bound and the regions are only those tried.
    public let exact: Bool

    public struct ArgumentAtoms: Sendable {
        public let index: Int
        public let comparisons: [ArgCmp]
        public let atoms: [Atom]
    }

    public struct Atom: Sendable {
        /// Per comparison of the argument, whether it holds here.
        public let truth: [Bool]
        public let witness: UInt64
        /// The only value of the atom, when it has one.
        public let single: UInt64?
    }

    public struct Region: Sendable {
        /// Per entry of `arguments`, the atom.
        public let atoms: [Int]
        public let witness: [UInt64]
        /// Per filter, its action and the verdict that decides it.
        public let outcomes: [(action: Action, verdict: Verdict)]
    }
}

public enum Semantics {
    /// The bound on cubes per argument while atoms are refined.
    static let cubeBound = 50_000
    /// The bound on regions (atom combinations) per syscall.
    static let regionBound = 200_000

    /// The partition of `nr` on `arch` for these filters (one for explain and lint, two for
    /// diff); `asking` adds comparisons of the caller's own (is `clone` allowed with
    /// CLONE_NEWUSER?), so that regions also tell them apart.
    public static func partition(_ irs: [FilterIR], arch: Arch, nr: UInt32, asking: [ArgCmp] = []) -> SyscallPartition {
        let universe: UInt64 = arch.hasWideArguments ? .max : 0xFFFF_FFFF
        var byArg: [Int: [ArgCmp]] = [:]
        for c in asking { byArg[c.arg, default: []].append(arch.hasWideArguments ? c : c.narrowed) }
        for ir in irs {
            guard let abi = ir.archIR(arch), let rules = abi.rules[nr] else { continue }
            for rule in rules { rule.condition.map { collect($0, into: &byArg) } }
        }
        var exact = true
        var arguments: [SyscallPartition.ArgumentAtoms] = []
        for index in byArg.keys.sorted() {
            let comparisons = Array(Set(byArg[index]!)).sorted { $0.description < $1.description }
            let (atoms, complete) = refine(comparisons, universe: universe)
            exact = exact && complete
            arguments.append(.init(index: index, comparisons: comparisons, atoms: atoms))
        }
        var regions: [SyscallPartition.Region] = []
        var choice = [Int](repeating: 0, count: arguments.count)
        let auditArch = arch.auditArch
        let number = arch == .x32 ? nr | Arch.x32SyscallBit : nr
        while regions.count < regionBound {
            var witness = [UInt64](repeating: 0, count: 6)
            for (k, a) in arguments.enumerated() { witness[a.index] = a.atoms[choice[k]].witness }
            let outcomes = irs.map { ir -> (action: Action, verdict: Verdict) in
                let (action, verdict) = ir.verdict(auditArch: auditArch, nr: number, args: witness)
                return (action, verdict)
            }
            regions.append(.init(atoms: choice, witness: witness, outcomes: outcomes))
            var k = 0
            while k < choice.count {
                choice[k] += 1
                if choice[k] < arguments[k].atoms.count { break }
                choice[k] = 0
                k += 1
            }
            if k == choice.count { break }
        }
        if regions.count >= regionBound { exact = false }
        let name = SyscallTable.forArch(arch).name(of: nr) ?? "syscall \(nr)"
        return SyscallPartition(arch: arch, nr: nr, name: name, arguments: arguments, regions: regions, exact: exact)
    }

    static func collect(_ e: BoolExpr, into byArg: inout [Int: [ArgCmp]]) {
        switch e {
        case .cmp(let c): byArg[c.arg, default: []].append(c)
        case .and(let xs), .or(let xs): xs.forEach { collect($0, into: &byArg) }
        case .not(let x): collect(x, into: &byArg)
        }
    }

    /// The feasible truth assignments of `comparisons` on one argument, each with a witness:
    /// the value space cut by each comparison's cubes in turn.
    static func refine(_ comparisons: [ArgCmp], universe: UInt64) -> ([SyscallPartition.Atom], Bool) {
        var atoms: [([Bool], [Cube])] = [([], [Cube.all])]
        var complete = true
        for c in comparisons {
            // The comparison's values and its negation's: both disjoint unions of cubes, so an
            // atom splits by intersections alone (no cube subtraction, which fragments).
            let holds = Cubes.of(c, universe: universe)
            let fails = Cubes.of(ArgCmp(arg: c.arg, mask: c.mask, op: c.op.negated, value: c.value), universe: universe)
            var next: [([Bool], [Cube])] = []
            for (truth, cubes) in atoms {
                var inside: [Cube] = [], outside: [Cube] = []
                for cube in cubes {
                    for h in holds { if let i = cube.intersection(h) { inside.append(i) } }
                    for f in fails { if let i = cube.intersection(f) { outside.append(i) } }
                }
                if !inside.isEmpty { next.append((truth + [true], inside)) }
                if !outside.isEmpty { next.append((truth + [false], outside)) }
            }
            atoms = next
            if atoms.reduce(0, { $0 + $1.1.count }) > cubeBound {
                complete = false
                atoms = atoms.map { ($0.0, Array($0.1.prefix(4))) }
            }
        }
        return (atoms.map { truth, cubes in
            let only = cubes.count == 1 && cubes[0].mask & universe == universe ? cubes[0].value : nil
            return SyscallPartition.Atom(truth: truth, witness: cubes[0].witness & universe, single: only)
        }, complete)
    }
}

extension SyscallPartition {
    /// A region as a policy writes it: per argument, `argN == NAME` when the atom is one value,
    /// else the comparisons that hold and the negations of those that do not.
    public func describe(_ region: Region) -> String {
        var parts: [String] = []
        for (k, a) in arguments.enumerated() {
            let atom = a.atoms[region.atoms[k]]
            if let v = atom.single {
                parts.append("arg\(a.index) == " + (ArgumentNames.describe(v, syscall: name, argument: a.index, arch: arch) ?? Self.hex(v)))
                continue
            }
            for (c, holds) in zip(a.comparisons, atom.truth) {
                parts.append(holds ? show(c) : negated(c))
            }
        }
        return parts.isEmpty ? "every call" : parts.joined(separator: " && ")
    }

    static func hex(_ v: UInt64) -> String { v < 10 ? String(v) : "0x" + String(v, radix: 16) }

    func show(_ c: ArgCmp) -> String {
        let lhs = c.mask.map { "(arg\(c.arg) & \(Self.hex($0)))" } ?? "arg\(c.arg)"
        let value = c.mask == nil && (c.op == .eq || c.op == .ne) ? ArgumentNames.describe(c.value, syscall: name, argument: c.arg, arch: arch) ?? Self.hex(c.value) : Self.hex(c.value)
        return "\(lhs) \(c.op.rawValue) \(value)"
    }

    func negated(_ c: ArgCmp) -> String { show(ArgCmp(arg: c.arg, mask: c.mask, op: c.op.negated, value: c.value)) }
}
