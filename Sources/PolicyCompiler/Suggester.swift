import PolicyModel

/// A call a workload made, as an audit saw it.
public struct ObservedCall: Hashable, Sendable {
    public var arch: Arch
    public var nr: UInt32
    public var args: [UInt64]

    public init(arch: Arch, nr: UInt32, args: [UInt64]) { (self.arch, self.nr, self.args) = (arch, nr, args) }

    /// The same call with only the arguments a suggestion reads (constants, flags): calls that
    /// differ only in pointers and counts say nothing more.
    public var essential: ObservedCall {
        guard let name = SyscallTable.forArch(arch).name(of: nr) else { return self }
        var copy = self
        for i in copy.args.indices where ArgumentNames.kind(of: name, argument: i) == nil { copy.args[i] = 0 }
        return copy
    }
}

/// The smallest policy over an audited one that allows what was seen: per syscall the
/// enumerated and flag arguments learned from the calls (never pointers), a family refused by
/// `network.families` added there (a rule allowing `socket` could not undo the derived one).
public struct Suggester {
    public let filter: CompiledFilter

    public init(_ filter: CompiledFilter) { self.filter = filter }

    public struct Suggestion: Sendable {
        public var text: String
        /// Per syscall, what the suggestion allows that the audited policy did not.
        public var newlyAllowed: [String]
    }

    /// The suggestion, extending the audited policy by `parent` (a path as the new file must
    /// name it); nil when every call was allowed already.
    public func suggest(_ calls: [ObservedCall], extending parent: String) -> Suggestion? {
        var families = Set<String>()
        var bySyscall: [String: [ObservedCall]] = [:]
        for call in Set(calls.map(\.essential)) {
            let (action, verdict) = filter.ir.verdict(auditArch: call.arch.auditArch, nr: call.nr, args: call.args)
            guard action != .allow, action != .log, let name = SyscallTable.forArch(call.arch).name(of: call.nr) else { continue }
            if case .rule(let rule) = verdict, let network = filter.policy.network, rule.origin == network.location,
               let family = familyName(call.args[0], on: call.arch) {
                families.insert(family)
            } else {
                bySyscall[name, default: []].append(call)
            }
        }
        guard !families.isEmpty || !bySyscall.isEmpty else { return nil }
        var text = "policyc: v1\nname: \(filter.policy.name)-suggested\nextends: [\(parent)]\n"
        var newly: [String] = []
        if !families.isEmpty, let network = filter.policy.network {
            let all = (network.families?.map(\.value) ?? []) + families.sorted()
            text += "network:\n  families: [\(all.joined(separator: ", "))]\n"
            if !network.tcpBind.isEmpty || !network.tcpConnect.isEmpty {
                text += "  tcp: {bind: [\(network.tcpBind.map { String($0.value) }.joined(separator: ", "))], connect: [\(network.tcpConnect.map { String($0.value) }.joined(separator: ", "))]}\n"
            }
            newly.append("socket: the families \(families.sorted().joined(separator: ", ")) (network.families)")
        }
        if !bySyscall.isEmpty {
            text += "seccomp:\n  syscalls:\n"
            for name in bySyscall.keys.sorted() {
                let condition = self.condition(name, bySyscall[name]!)
                text += "    - names: [\(name)]\n      action: allow\n" + (condition.map { "      when: \"\($0)\"\n" } ?? "")
                newly.append("\(name): " + (condition ?? "every call"))
            }
        }
        return Suggestion(text: text, newlyAllowed: newly)
    }

    private func familyName(_ value: UInt64, on arch: Arch) -> String? {
        NetworkSpec.familyConstants.filter { Constants.value(of: $0.value, on: arch) == value }.keys.filter { $0 != "local" }.sorted().first
    }

    /// The arguments' learned values, and-ed: constants as `in [...]`, flags as the bits seen.
    func condition(_ name: String, _ calls: [ObservedCall]) -> String? {
        let count = SyscallTable.arguments(of: name)?.count ?? 6
        var parts: [String] = []
        for i in 0..<count {
            guard let kind = ArgumentNames.kind(of: name, argument: i) else { continue }
            let values = Set(calls.map { $0.arch.hasWideArguments ? $0.args[i] : $0.args[i] & 0xFFFF_FFFF }).sorted()
            switch kind {
            case .exact:
                let shown = values.map { v in named(v, name, i, calls[0].arch) }
                parts.append(shown.count == 1 ? "arg\(i) == \(shown[0])" : "arg\(i) in [\(shown.joined(separator: ", "))]")
            case .dirfd, .mode:
                continue
            case .flags, .openFlags, .cloneFlags, .socketType:
                let seen = values.reduce(0, |)
                parts.append(seen == 0 ? "arg\(i) == 0" : "(arg\(i) & 0x\(String(~seen, radix: 16))) == 0")
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: " && ")
    }

    /// A constant's name where it is one name alone, else the number.
    private func named(_ value: UInt64, _ name: String, _ index: Int, _ arch: Arch) -> String {
        if let n = ArgumentNames.describe(value, syscall: name, argument: index, arch: arch), !n.contains("|"), Constants.isKnown(n) { return n }
        return "0x" + String(value, radix: 16)
    }
}
