import PolicyModel

/// Runs a policy's `tests:` against its compiled filter in the BPF interpreter.
public struct PolicyTestRunner {
    public let filter: CompiledFilter

    public init(_ filter: CompiledFilter) { self.filter = filter }

    public struct Call: Sendable {
        public var arch: Arch
        public var name: String
        public var number: UInt32
        public var args: [UInt64]
    }

    public enum CallError: Error, CustomStringConvertible {
        case syntax(ExprError)
        case unknownSyscall(String, Arch)
        case unknownConstant(String, Arch)
        case archNotInFilter(Arch)

        public var description: String {
            switch self {
            case .syntax(let e): return "bad call: \(e.message)"
            case .unknownSyscall(let name, let arch):
                return Suggest.unknown("syscall", name, among: SyscallTable.forArch(arch).entries.map(\.name)) + " on \(arch.rawValue)"
            case .unknownConstant(let name, let arch): return "constant '\(name)' has no value on \(arch.rawValue)"
            case .archNotInFilter(let arch): return "the filter does not cover \(arch.rawValue); calls from it get the bad-architecture action"
            }
        }
    }

    /// `socket(AF_INET, SOCK_STREAM, 0)` on `arch` as numbers.
    public static func resolve(_ text: String, arch: Arch) throws(CallError) -> Call {
        let parsed: (name: String, args: [ValueExpr])
        do { parsed = try ConditionParser.parseCall(text) } catch { throw .syntax(error) }
        guard let number = SyscallTable.forArch(arch).number(of: parsed.name) else { throw .unknownSyscall(parsed.name, arch) }
        var args: [UInt64] = []
        for value in parsed.args {
            guard let v = value.resolve(on: arch) else {
                throw .unknownConstant(value.constants.first { Constants.value(of: $0.0, on: arch) == nil }?.0 ?? "?", arch)
            }
            args.append(v)
        }
        return Call(arch: arch, name: parsed.name, number: number, args: args + Array(repeating: 0, count: 6 - args.count))
    }

    /// The architecture a test runs on when it names none: the native one if the filter
    /// covers it, else the filter's first.
    public var defaultArch: Arch {
        filter.ir.archIR(Arch.native) != nil ? Arch.native : (filter.ir.arches.first?.arch ?? Arch.native)
    }

    /// One diagnostic per failing test.
    public func run() -> [Diagnostic] {
        var failures: [Diagnostic] = []
        for test in filter.policy.tests {
            let arch = test.arch ?? defaultArch
            do {
                let call = try Self.resolve(test.call.value, arch: arch)
                let outcome = filter.run(arch: arch, nr: call.number, args: call.args)
                if outcome.action != test.expect.value {
                    failures.append(Diagnostic(.error, test.location,
                        "test failed: \(test.call.value) on \(arch.rawValue) gives \(outcome.action), expected \(test.expect.value)"
                        + explanation(call)))
                }
            } catch {
                failures.append(Diagnostic(.error, test.call.location, error.description))
            }
        }
        return failures
    }

    private func explanation(_ call: Call) -> String {
        let (_, verdict) = filter.ir.verdict(auditArch: call.arch.auditArch, nr: call.number, args: call.args)
        return " (" + Self.describe(verdict, policy: filter.policy) + ")"
    }

    /// Which part of the policy a verdict comes from.
    public static func describe(_ verdict: Verdict, policy: Policy) -> String {
        switch verdict {
        case .rule(let rule): return "rule at \(rule.origin.fileAndLine)"
        case .defaultAction:
            return "defaultAction" + (policy.seccomp.defaultAction.map { " at \($0.location.fileAndLine)" } ?? " (built-in errno(EPERM))")
        case .newSyscall:
            return "newSyscallAction: a syscall the tables do not know, or newer than baseline"
                + (policy.seccomp.newSyscallAction.map { " (set at \($0.location.fileAndLine))" } ?? "")
        case .badArch:
            return "badArchAction: the architecture is not in the filter"
        }
    }
}
