import PolicyCompiler
import PolicyModel
import SystemLayer

/// What `run --audit` saw: every syscall the policy would have denied, with the verdict, the
/// rule that decides it and sample arguments, for a reviewer; and a policy that would allow it.
public struct AuditLog {
    public let filter: CompiledFilter
    public private(set) var entries: [Entry] = []
    private var index: [Key: Int] = [:]
    static let samplesPerSyscall = 3

    /// One line of the report: a syscall and the rule that denies it (calls of one syscall
    /// with different arguments can meet different rules).
    public struct Key: Hashable, Sendable {
        public var auditArch: UInt32
        public var nr: UInt32
        public var decidedBy: String
    }

    public struct Entry: Sendable {
        public var key: Key
        public var name: String
        public var arch: Arch?
        public var action: Action
        public var calls = 0
        /// Distinct argument lists, as shown.
        public var samples: [String] = []

        public var decidedBy: String { key.decidedBy }
    }

    public init(filter: CompiledFilter) {
        self.filter = filter
    }

    public mutating func record(_ call: SeccompNotification) {
        let nr = UInt32(bitPattern: call.nr)
        let (action, verdict) = filter.ir.verdict(auditArch: call.auditArch, nr: nr, args: call.args)
        let key = Key(auditArch: call.auditArch, nr: nr, decidedBy: PolicyTestRunner.describe(verdict, policy: filter.policy))
        let at = index[key] ?? newEntry(key, action: action)
        entries[at].calls += 1
        guard entries[at].samples.count < Self.samplesPerSyscall else { return }
        let shown = Self.describe(call, kinds: SyscallTable.arguments(of: entries[at].name))
        if !entries[at].samples.contains(shown) { entries[at].samples.append(shown) }
    }

    private mutating func newEntry(_ key: Key, action: Action) -> Int {
        let abi = filter.ir.abi(auditArch: key.auditArch, nr: key.nr)
        let name = abi?.table.name(of: key.nr) ?? "syscall \(key.nr & ~Arch.x32SyscallBit)"
        entries.append(Entry(key: key, name: name, arch: abi?.arch, action: action))
        index[key] = entries.count - 1
        return entries.count - 1
    }

    /// The report printed after the container exits.
    public func report() -> String {
        guard !entries.isEmpty else { return "policyc audit: the policy denied nothing the container did.\n" }
        let calls = entries.reduce(0) { $0 + $1.calls }
        var text = "policyc audit: the policy would have denied \(entries.count) syscall\(entries.count == 1 ? "" : "s") "
            + "(\(calls) call\(calls == 1 ? "" : "s")); in audit mode they ran.\n"
        for e in entries.sorted(by: { ($0.name, $0.key.auditArch, $0.decidedBy) < ($1.name, $1.key.auditArch, $1.decidedBy) }) {
            let arch = e.arch?.rawValue ?? "arch 0x" + String(e.key.auditArch, radix: 16)
            text += "  \(e.name) (\(arch)): \(e.calls) call\(e.calls == 1 ? "" : "s"), would be \(e.action), decided by \(e.decidedBy)\n"
            for args in e.samples { text += "      \(e.name)(\(args))\n" }
        }
        return text
    }

    /// The syscall's own arguments (all six registers, trailing zeros left out, when its
    /// signature is unknown): strings read from the caller, quoted; small numbers in decimal;
    /// the rest (pointers, masks) in hex. Read while the caller waits for policyc's answer.
    static func describe(_ call: SeccompNotification, kinds: [SyscallTable.ArgumentKind]?) -> String {
        let count = kinds?.count ?? call.args.count - (call.args.reversed().firstIndex { $0 != 0 } ?? call.args.count)
        return call.args.prefix(count).enumerated().map { i, value in
            if kinds?[i] == .string, value != 0, let text = System.readString(pid: call.pid, address: value) {
                return "\"" + text + "\""
            }
            return value < 0x10000 ? String(value) : "0x" + String(value, radix: 16)
        }.joined(separator: ", ")
    }

    /// A policy extending the audited one that allows every syscall seen, each arch's names
    /// sorted; nil when nothing was denied.
    public func suggestion(extending parent: String) -> String? {
        let names = Set(entries.filter { $0.arch != nil && !$0.name.hasPrefix("syscall ") }.map(\.name)).sorted()
        guard !names.isEmpty else { return nil }
        return """
            policyc: v1
            name: \(filter.policy.name)-audited
            extends: [\(parent)]
            seccomp:
              syscalls:
                - names: [\(names.joined(separator: ", "))]
                  action: allow

            """
    }
}
