/// Policy AST to `FilterIR`: the one place where rule order, groups, constants per architecture,
/// Docker's includes/excludes and `baseline` take effect.
public struct Lowering {
    public let policy: Policy
    public let diagnostics: DiagnosticBag

    /// The capabilities the container holds, for Docker's includes/excludes.caps.
    private let heldCapabilities: Set<String>

    public init(policy: Policy, diagnostics: DiagnosticBag) {
        self.policy = policy
        self.diagnostics = diagnostics
        heldCapabilities = Capabilities.resolve(policy.capabilities)
    }

    /// The listed architectures, the native one always among them (first): runc and
    /// libseccomp keep it in every filter, so a list without it does not take it out.
    public var architectures: [Arch] {
        guard let listed = policy.seccomp.architectures?.value else { return Arch.native.compatArches }
        return listed.isEmpty || listed.contains(.native) ? listed : [.native] + listed
    }

    public func lower() -> FilterIR? {
        let spec = policy.seccomp
        let fileStart = SourceLocation(file: policy.file, line: 1, column: 1)
        if architectures.isEmpty {
            diagnostics.error(spec.architectures?.location ?? fileStart, "no architecture left to generate a filter for")
        }
        let rules = derivedRules() + spec.rules.filter(applies)
        let arches = architectures.map { lower(rules: rules, arch: $0) }
        guard !diagnostics.hasErrors else { return nil }
        return FilterIR(
            name: policy.name, arches: arches,
            defaultAction: spec.defaultAction?.value ?? .errno(1),
            badArchAction: spec.badArchAction?.value ?? .killProcess,
            newSyscallAction: spec.newSyscallAction?.value ?? .errno(38),
            baseline: spec.baseline?.value,
            flags: spec.flags.map(\.value))
    }

    /// The release includes.minKernel is compared with: the policy's baseline, else the tables'.
    var targetKernel: KernelVersion { policy.seccomp.baseline?.value ?? SyscallTable.tablesKernel }

    /// Docker's includes/excludes, resolved against the policy's capabilities, the native
    /// architecture (as Docker resolves them on its host) and the target kernel.
    func applies(_ rule: SeccompRule) -> Bool {
        let caps = heldCapabilities
        let native = Arch.native
        func archMatches(_ names: [Located<String>]) -> Bool {
            names.contains { Arch.named($0.value) == native }
        }
        func capsHeld(_ names: [Located<String>]) -> Bool {
            names.allSatisfy { Capabilities.canonical($0.value).map(caps.contains) ?? false }
        }
        let inc = rule.includes, exc = rule.excludes
        if !inc.arches.isEmpty, !archMatches(inc.arches) { return false }
        if !inc.caps.isEmpty, !capsHeld(inc.caps) { return false }
        if let min = inc.minKernel, targetKernel < min.value { return false }
        if !exc.arches.isEmpty, archMatches(exc.arches) { return false }
        if !exc.caps.isEmpty, exc.caps.contains(where: { Capabilities.canonical($0.value).map(caps.contains) ?? false }) { return false }
        if let min = exc.minKernel, targetKernel >= min.value { return false }
        return true
    }

    /// `network.families` becomes a socket-family restriction ahead of every written rule.
    func derivedRules() -> [SeccompRule] {
        guard let network = policy.network, let families = network.families else { return [] }
        let allowed = families.compactMap { PolicyParser.families[$0.value] }.sorted()
        let action = Located(Action.errno(UInt16(Constants.errnoNames["EAFNOSUPPORT"]!)), network.location)
        var socket = SeccompRule(location: network.location, names: [Located("socket", network.location), Located("socketpair", network.location)], action: action)
        let values = allowed.map { ValueExpr.constant($0, column: 0) }
        socket.when = Located(values.isEmpty ? .cmp(arg: 0, mask: nil, op: .ge, value: .number(0))
                                             : .member(arg: 0, mask: nil, values: values, negated: true), network.location)
        socket.derivedFrom = "network.families"
        // socketcall hides the family in memory; deny socket creation through it.
        var socketcall = SeccompRule(location: network.location, names: [Located("socketcall", network.location)], action: action)
        socketcall.when = Located(.member(arg: 0, mask: nil, values: [.number(1), .number(8)], negated: false), network.location)
        socketcall.derivedFrom = "network.families"
        return [socket, socketcall]
    }

    private func lower(rules: [SeccompRule], arch: Arch) -> ArchIR {
        let table = SyscallTable.forArch(arch)
        var perSyscall: [UInt32: [IRRule]] = [:]
        var named = Set<UInt32>()
        for rule in rules {
            guard let condition = condition(of: rule, on: arch) else { continue }
            let irRule = IRRule(condition: condition.map { arch.hasWideArguments ? $0 : $0.map(\.narrowed) },
                                action: rule.action.value, origin: rule.location)
            var targets = numbers(of: rule, in: table).map { ($0, irRule) }
            if Multiplexed.arches.contains(arch) { targets += multiplexerRules(for: rule, irRule, in: table) }
            for (number, irRule) in targets {
                named.insert(number)
                var list = perSyscall[number, default: []]
                // An unconditional rule ends the list: later rules can never match.
                if list.last.map({ $0.condition == nil }) ?? false { continue }
                list.append(irRule)
                perSyscall[number] = list
            }
        }
        var tooNew = Set<UInt32>()
        if let baseline = policy.seccomp.baseline?.value {
            for entry in table.entries where entry.added > baseline && !named.contains(entry.number) {
                tooNew.insert(entry.number)
            }
        }
        return ArchIR(arch: arch, rules: perSyscall, tooNew: tooNew)
    }

    /// What a rule for a socket or SysV IPC call means for socketcall/ipc, which reach the same
    /// call with its arguments out of sight: the rule's action for that call number when the
    /// rule holds whatever the arguments, or when it denies (then the call is denied through
    /// the multiplexer whatever its arguments: fail closed). A conditional allow adds nothing.
    /// libseccomp does the same for the first two.
    private func multiplexerRules(for rule: SeccompRule, _ irRule: IRRule, in table: SyscallTable) -> [(UInt32, IRRule)] {
        guard irRule.condition == nil || !(irRule.action == .allow || irRule.action == .log) else { return [] }
        var seen = Set<String>()
        return expandedNames(rule).compactMap { name in
            guard let (mux, call) = Multiplexed.calls[name], let nr = table.number(of: mux), seen.insert(name).inserted else { return nil }
            return (nr, IRRule(condition: .cmp(ArgCmp(arg: 0, mask: nil, op: .eq, value: call)), action: irRule.action, origin: irRule.origin))
        }
    }

    private func expandedNames(_ rule: SeccompRule) -> [String] {
        rule.names.flatMap { $0.value.hasPrefix("@") ? (SyscallGroups.expand($0.value) ?? []) : [$0.value] }
    }

    private func numbers(of rule: SeccompRule, in table: SyscallTable) -> [UInt32] {
        var seen = Set<UInt32>()
        return expandedNames(rule).compactMap { table.number(of: $0) }.filter { seen.insert($0).inserted }
    }

    /// `.some(nil)`: always holds; `nil`: a constant is missing on this architecture (reported).
    private func condition(of rule: SeccompRule, on arch: Arch) -> BoolExpr?? {
        // runc: comparisons on distinct arguments are one rule (all must hold); once one
        // argument is compared twice, every comparison is a rule of its own (any may hold).
        let comparisons = rule.args.map { BoolExpr.cmp($0.comparison) }
        let repeated = Set(rule.args.map(\.comparison.arg)).count < rule.args.count
        var parts: [BoolExpr] = repeated ? [.or(comparisons)] : comparisons
        if let when = rule.when {
            switch when.value.resolve(on: arch) {
            case .success(let expr): parts.insert(expr, at: 0)
            case .failure(let missing):
                diagnostics.error(when.location, "constant '\(missing.name)' has no value on \(arch.rawValue); list the architectures this rule is for")
                return nil
            }
        }
        return .some(parts.isEmpty ? nil : BoolExpr.conjunction(parts))
    }
}
