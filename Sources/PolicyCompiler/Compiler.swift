import PolicyModel

/// A policy compiled: its meaning (IR) and the filter that implements it.
public struct CompiledFilter: Sendable {
    public let policy: Policy
    public let ir: FilterIR
    public let program: BPFProgram
    public let capabilities: CapabilitySets
    /// Syscalls whose OCI JSON rules compare by (masked) equality only, because libseccomp
    /// 2.5.4 mis-compiles their rules with ranges or `!=` (set by RuncReading).
    public var equalitiesOnlyInJSON: Set<String> = []

    public init(policy: Policy, ir: FilterIR, program: BPFProgram, capabilities: CapabilitySets = .dockerDefault) {
        self.policy = policy
        self.ir = ir
        self.program = program
        self.capabilities = capabilities
    }

    /// Loads, lowers and generates; nil when any step reported an error.
    public static func compile(_ policy: Policy, diagnostics: DiagnosticBag) -> CompiledFilter? {
        let capabilities = CapabilitySets.resolve(policy.capabilities, diagnostics: diagnostics)
        guard let ir = Lowering(policy: policy, diagnostics: diagnostics).lower(), !diagnostics.hasErrors else { return nil }
        do {
            let program = try SeccompCodegen(ir).generate()
            // A filter on its own may deny execve (a sandbox for a running process); `run`
            // refuses it, and compile says so.
            if let verdict = execveDenial(program) {
                diagnostics.warning(policy.seccomp.defaultAction?.location ?? SourceLocation(file: policy.file, line: 1, column: 1),
                                    "the seccomp filter answers execve with \(verdict): no container can start under it (policyc run refuses it); allow execve, or extend a policy that does (extends: [default])")
            }
            return CompiledFilter(policy: policy, ir: ir, program: program, capabilities: capabilities)
        } catch {
            diagnostics.error(policy.seccomp.defaultAction?.location ?? SourceLocation(file: policy.file, line: 1, column: 1), error.description)
            return nil
        }
    }

    /// The verdict of a filter that denies execve on the native architecture whatever its
    /// arguments (a policy without a seccomp section, say), or nil.
    public static func execveDenial(_ program: BPFProgram) -> Action? {
        let nr = Arch.native.execveNumber
        let verdicts = [UInt64(0), ~0].map { value in
            (try? BPFInterpreter(program).run(auditArch: Arch.native.auditArch, nr: nr, args: Array(repeating: value, count: 6)))?.action
        }
        guard let first = verdicts[0], verdicts.allSatisfy({ $0 == first }) else { return nil }
        switch first {
        case .allow, .log, .notify, .trace: return nil
        default: return first
        }
    }

    /// The filter for `run --audit`: what the policy allows or logs stays so; everything else
    /// goes to a user-notification listener (policyc), which records it and lets it run.
    /// The filter a runtime builds for an audit through a seccomp agent (`compile --audit`):
    /// what the policy allows unchanged, everything else it knows of sent to `listener`
    /// (SCMP_ACT_NOTIFY), syscalls that fall to the default given a NOTIFY rule of their own
    /// (runc refuses NOTIFY as the default action), and `write` as the policy has it (runc
    /// refuses NOTIFY for write, which it makes itself). Unknown syscall numbers keep the
    /// policy's default.
    public func agentAudit(listener: String, metadata: String? = nil) -> CompiledFilter {
        var ir = self.ir
        let origin = policy.seccomp.defaultAction?.location ?? SourceLocation(file: policy.file, line: 1, column: 1)
        for i in ir.arches.indices {
            let abi = ir.arches[i]
            for entry in abi.table.entries where entry.name != "write" {
                var rules = abi.rules[entry.number] ?? []
                rules = rules.map { IRRule(condition: $0.condition, action: $0.action == .allow ? .allow : .notify, origin: $0.origin) }
                if !(rules.last.map { $0.condition == nil } ?? false), ir.defaultAction != .allow {
                    rules.append(IRRule(condition: nil, action: .notify, origin: origin))
                }
                ir.arches[i].rules[entry.number] = rules.isEmpty ? nil : rules
            }
            ir.arches[i].tooNew = []
        }
        var policy = self.policy
        policy.seccomp.listenerPath = listener
        policy.seccomp.listenerMetadata = metadata ?? policy.seccomp.listenerMetadata
        let program = (try? SeccompCodegen(ir).generate()) ?? self.program
        var audited = CompiledFilter(policy: policy, ir: ir, program: program, capabilities: capabilities)
        audited.equalitiesOnlyInJSON = equalitiesOnlyInJSON
        return audited
    }

    public func auditProgram() throws(CodegenError) -> BPFProgram {
        try SeccompCodegen(ir.mapActions { $0 == .allow ? $0 : .notify }).generate()
    }

    public func run(arch: Arch, nr: UInt32, args: [UInt64]) -> BPFInterpreter.Outcome {
        // The generator only emits instructions the interpreter implements, with in-range jumps.
        try! BPFInterpreter(program).run(auditArch: arch.auditArch, nr: nr, args: args)
    }
}

/// Instructions executed per syscall, over every syscall in an architecture's table
/// (arguments zero).
public struct FilterStats: Sendable, Hashable {
    public var arch: Arch
    public var length: Int
    public var mean: Double
    public var max: Int
    public var syscalls: Int
    /// The syscalls that take `max` instructions.
    public var slowest: [String]

    public static func measure(_ program: BPFProgram, arch: Arch) -> FilterStats {
        let interpreter = BPFInterpreter(program)
        var total = 0, worst = 0
        var slowest: [String] = []
        let entries = SyscallTable.forArch(arch).entries
        for entry in entries {
            let executed = (try? interpreter.run(auditArch: arch.auditArch, nr: entry.number).executed) ?? 0
            total += executed
            if executed > worst { worst = executed; slowest = [] }
            if executed == worst { slowest.append(entry.name) }
        }
        return FilterStats(arch: arch, length: program.instructions.count,
                           mean: Double(total) / Double(Swift.max(entries.count, 1)), max: worst, syscalls: entries.count,
                           slowest: slowest)
    }
}
