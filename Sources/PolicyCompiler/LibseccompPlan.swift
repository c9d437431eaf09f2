import PolicyModel

/// policyc's first-match rules restated in libseccomp's (and OCI's) terms: per syscall, one rule
/// per action and conjunction, with conditions made disjoint so order no longer matters.
/// Used for `NAME.seccomp.json` and the libseccomp backend.
public struct LibseccompPlan: Sendable {
    public struct RuleKey: Hashable, Sendable {
        public var action: Action
        /// A conjunction; at most one comparison per argument (libseccomp's limit).
        public var comparisons: [ArgCmp]
        /// Set only in JSON plans where a rule is for some architectures only.
        public var arches: [Arch]?
    }

    public struct Rule: Hashable, Sendable {
        public var name: String
        public var key: RuleKey
    }

    public var rules: [Rule]

    public static let maxTerms = 256

    /// One architecture's rules, by syscall name.
    public static func build(_ abi: ArchIR, defaultAction: Action, newSyscallAction: Action,
                             equalitiesOnly: Set<String> = []) throws(SeccompJSONEmitter.EmitError) -> [Rule] {
        var out: [Rule] = []
        for number in abi.rules.keys.sorted() {
            let name = abi.table.name(of: number)!
            let universe: UInt64 = abi.arch.hasWideArguments ? .max : 0xFFFF_FFFF
            for (action, terms) in try disjointRules(abi.rules[number]!, name: name) where action != defaultAction {
                let origin = abi.rules[number]!.first { $0.action == action }!.origin
                for term in terms {
                    let split: [[ArgCmp]]
                    do { split = try splitSameArgument(term, universe: universe, name: name, equalitiesOnly: equalitiesOnly.contains(name)) }
                    catch { throw error.located(origin) }
                    for comparisons in split {
                        // libseccomp would drop the mask of any other operator: never emitted.
                        guard comparisons.allSatisfy({ $0.mask == nil || $0.op == .eq }) else {
                            throw .notExpressible("'\(name)': \(comparisons) needs a masked comparison libseccomp does not have", at: origin)
                        }
                        out.append(Rule(name: name, key: RuleKey(action: action, comparisons: comparisons, arches: nil)))
                    }
                }
            }
        }
        try checkRuleCounts(out, abi)
        for number in abi.tooNew.sorted() where newSyscallAction != defaultAction {
            out.append(Rule(name: abi.table.name(of: number)!, key: RuleKey(action: newSyscallAction, comparisons: [], arches: nil)))
        }
        return inAddingOrder(out)
    }

    /// Masked `!=` over many bits and ranges on several arguments multiply into thousands of
    /// rules, and libseccomp 2.5.4's time to build one syscall's rules grows about as their
    /// cube (measured: 1 024 rules 0.9 s, 2 048 rules 6 s, 9 083 rules over 5 minutes, each
    /// also spent by runc init).
    public static let maxRulesPerSyscall = 1024

    private static func checkRuleCounts(_ rules: [Rule], _ abi: ArchIR) throws(SeccompJSONEmitter.EmitError) {
        var counts: [String: Int] = [:]
        for rule in rules { counts[rule.name, default: 0] += 1 }
        for (name, count) in counts.sorted(by: { $0.key < $1.key }) where count > maxRulesPerSyscall {
            let origin = abi.table.number(of: name).flatMap { abi.rules[$0]?.first?.origin }
            throw .notExpressible("'\(name)': its rules take \(count) libseccomp rules (at most \(maxRulesPerSyscall)); libseccomp, as runc uses it, needs seconds to minutes for more; write fewer masked '!=' or ranges on it", at: origin)
        }
    }

    /// The whole filter's rules for OCI JSON: every architecture must agree on a syscall's
    /// rules (32-bit ABIs on the low halves, as libseccomp narrows them itself).
    public static func build(_ ir: FilterIR, equalitiesOnly: Set<String> = []) throws(SeccompJSONEmitter.EmitError) -> LibseccompPlan {
        var perArch: [(Arch, [String: [RuleKey]])] = []
        for abi in ir.arches {
            var byName: [String: [RuleKey]] = [:]
            for rule in try build(abi, defaultAction: ir.defaultAction, newSyscallAction: ir.newSyscallAction, equalitiesOnly: equalitiesOnly) {
                byName[rule.name, default: []].append(rule.key)
            }
            perArch.append((abi.arch, byName))
        }
        var names: [String] = []
        var seen = Set<String>()
        for (_, byName) in perArch { for name in byName.keys.sorted() where seen.insert(name).inserted { names.append(name) } }
        var rules: [Rule] = []
        for name in names.sorted() {
            let holders = perArch.filter { SyscallTable.forArch($0.0).number(of: name) != nil }
            let reference = holders.first { $0.0.hasWideArguments } ?? holders[0]
            let keys = reference.1[name] ?? []
            for (arch, byName) in holders {
                let expected = arch.hasWideArguments ? keys : keys.map(narrow)
                guard (byName[name] ?? []) == expected else {
                    let origin = firstOrigin(of: name, in: ir)
                    throw .notExpressible("syscall '\(name)' has different rules on \(reference.0.rawValue) and \(arch.rawValue) (constants differ there); OCI seccomp JSON applies one rule set to every architecture — compile separately per architecture", at: origin)
                }
            }
            rules += keys.map { Rule(name: name, key: $0) }
        }
        try checkMultiplexed(rules, ir)
        return LibseccompPlan(rules: inAddingOrder(rules))
    }

    /// The rules in the order they are added to libseccomp (and written in the JSON, which runc
    /// adds in file order). libseccomp 2.5.4 keeps each level of its rule tree in descending
    /// node order and puts a new node before the first smaller one; a 64-bit order or `!=`
    /// comparison leads two branches to the next level, and a node put before that level's
    /// head is linked to itself there, after which seccomp_rule_add loops forever
    /// (`a0 >= 4 && a2 == 0x400000000`, then `a0 >= 4 && a2 == 0x500000000`). Rules added
    /// in descending node order only ever append, so where two rules first differ the one with
    /// the greater node comes first. Meaning is unaffected: rules of different actions are
    /// disjoint.
    static func inAddingOrder(_ rules: [Rule]) -> [Rule] {
        rules.enumerated().sorted { a, b in
            let x = a.element.key.comparisons, y = b.element.key.comparisons
            return x == y ? a.offset < b.offset : goesFirst(x, y)
        }.map(\.element)
    }

    /// A total order: at the first difference the greater libseccomp node (then the rest of the
    /// comparison, so that equal nodes still have an order); a rule that is a prefix of
    /// another first.
    private static func goesFirst(_ a: [ArgCmp], _ b: [ArgCmp]) -> Bool {
        for (x, y) in zip(a, b) where x != y {
            let (nx, ny) = (nodeOrder(x), nodeOrder(y))
            if nx != ny { return ny.lexicographicallyPrecedes(nx) }
            return (x.op.rawValue, x.mask ?? 0, x.mask == nil ? 0 : 1, x.value) < (y.op.rawValue, y.mask ?? 0, y.mask == nil ? 0 : 1, y.value)
        }
        return a.count < b.count
    }

    /// libseccomp's `_db_chain_lt` key of the high-word node, then of the low-word node: the
    /// argument (high word above low), the operator's class (equalities, then `<`/`<=`, then
    /// `>`/`>=`), then the datum, inverted for `<`/`<=`.
    private static func nodeOrder(_ c: ArgCmp) -> [UInt64] {
        let datum = c.value & (c.mask ?? .max)
        let (opClass, invert): (UInt64, Bool) = switch c.op {
        case .eq, .ne: (3, false)
        case .lt, .le: (2, true)
        case .gt, .ge: (1, false)
        }
        let hi = datum >> 32, lo = datum & 0xFFFF_FFFF
        let key = { (word: UInt64) in invert ? ~word & 0xFFFF_FFFF : word }
        return [UInt64(c.arg * 2 + 1), opClass, key(hi), UInt64(c.arg * 2), opClass, key(lo)]
    }

    /// On x86 libseccomp, as runc calls it, also applies a rule for a socket or SysV IPC call to
    /// its multiplexer (socketcall, ipc), with the call's number in place of arg0: the other
    /// arguments are behind a pointer there. That is the same filter only when the
    /// multiplexer already answers that call with the rule's action, whatever else it is given;
    /// otherwise runc would refuse the profile (EEXIST) or let the call through socketcall.
    static func checkMultiplexed(_ rules: [Rule], _ ir: FilterIR) throws(SeccompJSONEmitter.EmitError) {
        guard let x86 = ir.arches.first(where: { $0.arch == .x86 }) else { return }
        for rule in rules {
            guard let (mux, call) = Multiplexed.calls[rule.name], let muxNr = x86.table.number(of: mux) else { continue }
            let origin = firstOrigin(of: rule.name, in: ir)
            let blind = (x86.rules[muxNr] ?? []).allSatisfy { $0.condition.map { arguments(of: $0).isSubset(of: [0]) } ?? true }
            let (answer, _) = ir.verdict(auditArch: Arch.x86.auditArch, nr: muxNr, args: [call, 0, 0, 0, 0, 0])
            guard blind, answer == rule.key.action else {
                throw .notExpressible("'\(rule.name)' (\(rule.key.action)): on x86 libseccomp, as runc uses it, applies this rule to \(mux)(\(call), ...) too, where its arguments cannot be seen, and \(mux) answers that call \(answer) here; leave x86 out of architectures, or give \(rule.name) one action whatever its arguments", at: origin)
            }
        }
    }

    /// Where the first rule for `name` is written, on the first architecture that has one.
    private static func firstOrigin(of name: String, in ir: FilterIR) -> SourceLocation? {
        ir.arches.lazy.compactMap { abi in abi.table.number(of: name).flatMap { abi.rules[$0]?.first?.origin } }.first
    }

    private static func arguments(of expr: BoolExpr) -> Set<Int> {
        switch expr {
        case .cmp(let c): return [c.arg]
        case .and(let xs), .or(let xs): return xs.reduce(into: Set<Int>()) { $0.formUnion(arguments(of: $1)) }
        case .not(let x): return arguments(of: x)
        }
    }

    private static func narrow(_ key: RuleKey) -> RuleKey {
        RuleKey(action: key.action, comparisons: key.comparisons.map(\.narrowed), arches: key.arches)
    }

    /// Per action, the argument vectors that reach it, as DNF terms.
    static func disjointRules(_ rules: [IRRule], name: String) throws(SeccompJSONEmitter.EmitError) -> [(Action, [[ArgCmp]])] {
        var result: [(Action, [[ArgCmp]])] = []
        for (i, rule) in rules.enumerated() {
            var parts = [rule.condition ?? .alwaysTrue]
            for earlier in rules[..<i] where earlier.action != rule.action {
                parts.append(.not(earlier.condition ?? .alwaysTrue))
            }
            let terms: [[ArgCmp]]
            do { terms = try dnf(.and(parts), name: name) } catch { throw error.located(rule.origin) }
            if let at = result.firstIndex(where: { $0.0 == rule.action }) { result[at].1 += terms }
            else { result.append((rule.action, terms)) }
        }
        return result.map { ($0.0, unique($0.1)) }
    }

    private static func unique(_ terms: [[ArgCmp]]) -> [[ArgCmp]] {
        var seen = Set<[ArgCmp]>()
        return terms.filter { seen.insert($0).inserted }
    }

    /// Disjunctive normal form with negations pushed onto comparisons; unsatisfiable terms dropped.
    static func dnf(_ expr: BoolExpr, name: String, negated: Bool = false) throws(SeccompJSONEmitter.EmitError) -> [[ArgCmp]] {
        switch (expr, negated) {
        case (.cmp(let c), _) where c.mask != nil:
            return maskedEqualities(ArgCmp(arg: c.arg, mask: c.mask, op: negated ? c.op.negated : c.op, value: c.value))
        case (.cmp(let c), false): return [[c]]
        case (.cmp(let c), true): return [[ArgCmp(arg: c.arg, mask: nil, op: c.op.negated, value: c.value)]]
        case (.not(let inner), _): return try dnf(inner, name: name, negated: !negated)
        case (.and(let parts), false), (.or(let parts), true):
            var terms: [[ArgCmp]] = [[]]
            for part in parts {
                let partTerms = try dnf(part, name: name, negated: negated)
                var next: [[ArgCmp]] = []
                for a in terms { for b in partTerms { if let merged = conjoin(a, b) { next.append(merged) } } }
                guard next.count <= maxTerms else { throw .notExpressible("'\(name)': the condition expands to more than \(maxTerms) libseccomp rules") }
                terms = next
            }
            return terms
        case (.or(let parts), false), (.and(let parts), true):
            var terms: [[ArgCmp]] = []
            for part in parts { terms += try dnf(part, name: name, negated: negated) }
            guard terms.count <= maxTerms else { throw .notExpressible("'\(name)': the condition expands to more than \(maxTerms) libseccomp rules") }
            return terms
        }
    }

    /// libseccomp masks only equality (SCMP_CMP_MASKED_EQ; its other operators compare the whole
    /// argument): any other masked comparison is restated as disjoint masked equalities, one
    /// per bit where the masked argument first departs from what it is compared with. A term
    /// with no comparison left always holds.
    static func maskedEqualities(_ c: ArgCmp) -> [[ArgCmp]] {
        let mask = c.mask ?? .max
        func term(_ m: UInt64, _ v: UInt64) -> [ArgCmp] { m == 0 ? [] : [ArgCmp(arg: c.arg, mask: m, op: .eq, value: v)] }
        switch c.op {
        case .eq: return [term(mask, c.value)]
        case .ne:
            // The highest bit of the mask where the argument differs from the value.
            return bits(of: mask).map { bit in
                let above = mask & ~(bit | (bit - 1))
                return term(above | bit, (c.value & above) | (~c.value & bit))
            }
        case .lt: return below(c.value, mask: mask, term)
        case .le: return c.value == .max ? [[]] : below(c.value + 1, mask: mask, term)
        case .gt: return c.value == .max ? [] : above(c.value, mask: mask, term)
        case .ge: return c.value == 0 ? [[]] : above(c.value - 1, mask: mask, term)
        }
    }

    /// Masked values (`arg & mask`) below `value`: those equal to it above some bit where the
    /// value has a 1 and they a 0. Where the value has a 1 outside the mask, the masked value
    /// (0 there) is below it whatever lies under.
    private static func below(_ value: UInt64, mask: UInt64, _ term: (UInt64, UInt64) -> [ArgCmp]) -> [[ArgCmp]] {
        var terms: [[ArgCmp]] = []
        for bit in bits(of: value) {
            let above = ~(bit | (bit - 1))
            if value & above & ~mask != 0 { continue }   // decided at a higher bit
            terms.append(term(mask & (above | bit), value & mask & above))
            if mask & bit == 0 { break }                  // every lower bit is decided here
        }
        return terms
    }

    /// Masked values above `value`: equal to it above some bit of the mask where the value has
    /// a 0 and they a 1 (none where the value has a 1 outside the mask above that bit).
    private static func above(_ value: UInt64, mask: UInt64, _ term: (UInt64, UInt64) -> [ArgCmp]) -> [[ArgCmp]] {
        var terms: [[ArgCmp]] = []
        for bit in bits(of: mask & ~value) {
            let higher = ~(bit | (bit - 1))
            if value & higher & ~mask != 0 { break }
            terms.append(term(mask & (higher | bit), (value & mask & higher) | bit))
        }
        return terms
    }

    /// The set bits of `x`, highest first.
    private static func bits(of x: UInt64) -> [UInt64] {
        (0..<64).reversed().map { UInt64(1) << UInt64($0) }.filter { x & $0 != 0 }
    }

    /// libseccomp takes one comparison per argument in a rule: several on one argument become
    /// the value intervals they leave, one rule per interval. With `equalitiesOnly` every range
    /// and `!=` becomes masked equalities of aligned blocks.
    static func splitSameArgument(_ term: [ArgCmp], universe: UInt64, name: String,
                                  equalitiesOnly: Bool = false) throws(SeccompJSONEmitter.EmitError) -> [[ArgCmp]] {
        var byArg: [Int: [ArgCmp]] = [:]
        for c in term { byArg[c.arg, default: []].append(c) }
        var terms: [[ArgCmp]] = [[]]
        for arg in byArg.keys.sorted() {
            let cmps = byArg[arg]!
            let options: [ArgCmp?]
            if cmps.count == 1, !equalitiesOnly || cmps[0].op == .eq {
                options = cmps
            } else if equalitiesOnly || cmps.contains(where: { $0.mask != nil }) {
                options = maskedOptions(arg: arg, cmps, universe: universe)
            } else {
                var collected: [ArgCmp?] = []
                for (lo, hi) in intervals(cmps, universe: universe) {
                    collected += try comparisons(arg: arg, lo: lo, hi: hi, universe: universe, name: name)
                }
                options = collected
            }
            terms = terms.flatMap { t in options.map { o in o.map { t + [$0] } ?? t } }
            guard terms.count <= maxTerms else { throw .notExpressible("'\(name)': the condition expands to more than \(maxTerms) libseccomp rules") }
        }
        return terms
    }

    /// Masked equalities and other comparisons on one argument as one masked equality per
    /// aligned block of the interval the others leave: two masked equalities hold together
    /// exactly when they agree where both masks have bits, as the one of both masks.
    static func maskedOptions(arg: Int, _ cmps: [ArgCmp], universe: UInt64) -> [ArgCmp?] {
        var common = Cube.all
        for c in cmps where c.mask != nil {
            guard let met = common.intersection(Cube(mask: c.mask! & universe, value: c.value & universe)) else { return [] }
            common = met
        }
        let others = cmps.filter { $0.mask == nil }
        var blocks = [Cube.all]
        if !others.isEmpty {
            blocks = intervals(others, universe: universe).flatMap { lo, hi in
                lo == 0 && hi == universe ? [Cube.all] : Cube.blocks(lo, hi).map { base, bits in Cube(mask: universe & ~((1 << UInt64(bits)) - 1), value: base) }
            }
        }
        return blocks.compactMap { block -> ArgCmp?? in
            guard let met = common.intersection(block) else { return nil }
            return .some(met.mask == 0 ? nil : ArgCmp(arg: arg, mask: met.mask, op: .eq, value: met.value))
        }
    }

    /// The values in 0...universe that satisfy every comparison, as closed intervals.
    static func intervals(_ cmps: [ArgCmp], universe: UInt64) -> [(UInt64, UInt64)] {
        var set: [(UInt64, UInt64)] = [(0, universe)]
        func clip(_ lo: UInt64, _ hi: UInt64) {
            set = set.compactMap { a, b in max(a, lo) <= min(b, hi) ? (max(a, lo), min(b, hi)) : nil }
        }
        for c in cmps {
            switch c.op {
            case .eq: clip(c.value, c.value)
            case .le: clip(0, c.value)
            case .ge: clip(c.value, universe)
            case .lt: if c.value == 0 { set = [] } else { clip(0, c.value - 1) }
            case .gt: if c.value >= universe { set = [] } else { clip(c.value + 1, universe) }
            case .ne:
                set = set.flatMap { a, b -> [(UInt64, UInt64)] in
                    guard (a...b).contains(c.value) else { return [(a, b)] }
                    return (c.value > a ? [(a, c.value - 1)] : []) + (c.value < b ? [(c.value + 1, b)] : [])
                }
            }
        }
        return set
    }

    /// One comparison standing for an interval (nil: no constraint), or masked equalities, one
    /// per aligned block the interval splits into (`5...12` is `5`, `6...7`, `8...11`, `12`).
    static func comparisons(arg: Int, lo: UInt64, hi: UInt64, universe: UInt64, name: String) throws(SeccompJSONEmitter.EmitError) -> [ArgCmp?] {
        if lo == 0, hi == universe { return [nil] }
        if lo == hi { return [ArgCmp(arg: arg, mask: nil, op: .eq, value: lo)] }
        if lo == 0 { return [ArgCmp(arg: arg, mask: nil, op: .le, value: hi)] }
        if hi == universe { return [ArgCmp(arg: arg, mask: nil, op: .ge, value: lo)] }
        return Cube.blocks(lo, hi).map { base, bits in
            bits == 0 ? ArgCmp(arg: arg, mask: nil, op: .eq, value: base)
                      : ArgCmp(arg: arg, mask: universe & ~((1 << UInt64(bits)) - 1), op: .eq, value: base)
        }
    }

    /// `a ∧ b` as one libseccomp rule: nil when contradictory, an error when two different
    /// comparisons remain on one argument.
    static func conjoin(_ a: [ArgCmp], _ b: [ArgCmp]) -> [ArgCmp]? {
        var result = a
        for c in b {
            if let existing = result.firstIndex(where: { $0.arg == c.arg }) {
                if result[existing] == c { continue }
                // Two equalities on one argument: satisfiable only if equal (handled above).
                if result[existing].op == .eq, c.op == .eq, result[existing].mask == nil, c.mask == nil { return nil }
                result.append(c)
            } else {
                result.append(c)
            }
        }
        return result.sorted { ($0.arg, $0.op.rawValue, $0.value) < ($1.arg, $1.op.rawValue, $1.value) }
    }
}
