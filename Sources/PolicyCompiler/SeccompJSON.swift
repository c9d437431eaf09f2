import PolicyModel

/// OCI `linux.seccomp` for runc/crun/Podman: what the filter means, in their terms. Rules are
/// emitted per syscall in first-match order with conditions as OCI args (DNF), so an OCI runtime
/// building the filter with libseccomp gets the same verdicts.
public struct SeccompJSONEmitter {
    public let filter: CompiledFilter

    public init(_ filter: CompiledFilter) { self.filter = filter }

    public enum EmitError: Error, CustomStringConvertible {
        /// What cannot be said, and the rule that says it.
        case notExpressible(String, at: SourceLocation? = nil)
        public var description: String {
            switch self { case .notExpressible(let why, _): return why }
        }
        public var location: SourceLocation? {
            switch self { case .notExpressible(_, let at): return at }
        }
        /// The error, at `origin` unless it names a rule already.
        func located(_ origin: SourceLocation) -> EmitError {
            switch self { case .notExpressible(let why, let at): return .notExpressible(why, at: at ?? origin) }
        }
    }

    public func object() throws(EmitError) -> JSONValue {
        let ir = filter.ir
        let (defaultName, defaultErrno) = ir.defaultAction.ociName
        var object: [(String, JSONValue)] = [("defaultAction", .string(defaultName))]
        if let defaultErrno { object.append(("defaultErrnoRet", .number(UInt64(defaultErrno)))) }
        object.append(("architectures", .array(ir.arches.map { .string($0.arch.scmpName) })))
        if !ir.flags.isEmpty { object.append(("flags", .array(ir.flags.map { .string($0) }))) }
        if let path = filter.policy.seccomp.listenerPath { object.append(("listenerPath", .string(path))) }
        if let meta = filter.policy.seccomp.listenerMetadata { object.append(("listenerMetadata", .string(meta))) }
        object.append(("syscalls", .array(try rules())))
        // OCI runtimes ignore unknown properties (runtime-spec: "MUST ignore"); this one says
        // where the filter came from and which syscall tables decided "unknown" and "too new".
        var provenance: [(String, JSONValue)] = [
            ("policy", .string(filter.policy.name)),
            ("syscallTables", .string("Linux \(ir.tablesKernel)")),
            ("newSyscallAction", .string(ir.newSyscallAction.description)),
        ]
        if let baseline = ir.baseline { provenance.append(("baseline", .string(baseline.description))) }
        object.append(("policyc", .object(provenance)))
        return .object(object)
    }

    /// Groups syscalls whose rules (by architecture-independent content) are equal.
    private func rules() throws(EmitError) -> [JSONValue] {
        let plans = try LibseccompPlan.build(filter.ir, equalitiesOnly: filter.equalitiesOnlyInJSON)
        var groups: [(key: LibseccompPlan.RuleKey, names: [String])] = []
        var index: [LibseccompPlan.RuleKey: Int] = [:]
        for rule in plans.rules {
            if let i = index[rule.key] {
                if !groups[i].names.contains(rule.name) { groups[i].names.append(rule.name) }
            } else {
                index[rule.key] = groups.count
                groups.append((rule.key, [rule.name]))
            }
        }
        return groups.map { group in
            let (name, errno) = group.key.action.ociName
            var entry: [(String, JSONValue)] = [("names", .array(group.names.sorted().map { .string($0) })), ("action", .string(name))]
            if let errno { entry.append(("errnoRet", .number(UInt64(errno)))) }
            if !group.key.comparisons.isEmpty {
                entry.append(("args", .array(group.key.comparisons.map(Self.ociArg))))
            }
            if let arches = group.key.arches {
                entry.append(("includes", .object([("arches", .array(arches.map { .string($0.goName) }))])))
            }
            return .object(entry)
        }
    }

    static func ociArg(_ c: ArgCmp) -> JSONValue {
        let op: String
        var value = c.value, valueTwo: UInt64 = 0
        switch c.op {
        case .eq where c.mask != nil:
            op = "SCMP_CMP_MASKED_EQ"
            value = c.mask!
            valueTwo = c.value
        case .eq: op = "SCMP_CMP_EQ"
        case .ne: op = "SCMP_CMP_NE"
        case .lt: op = "SCMP_CMP_LT"
        case .le: op = "SCMP_CMP_LE"
        case .gt: op = "SCMP_CMP_GT"
        case .ge: op = "SCMP_CMP_GE"
        }
        return .object([("index", .number(UInt64(c.arg))), ("value", .number(value)), ("valueTwo", .number(valueTwo)), ("op", .string(op))])
    }
}

/// A minimal ordered JSON tree: output must be byte-identical run to run.
public indirect enum JSONValue: Hashable, Sendable {
    case string(String)
    case number(UInt64)
    case bool(Bool)
    case array([JSONValue])
    case object([(String, JSONValue)])
    case null

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.render() == b.render() }
    public func hash(into hasher: inout Hasher) { hasher.combine(render()) }

    public func render(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent), inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .string(let s): return Self.quote(s)
        case .number(let n): return String(n)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items):
            if items.isEmpty { return "[]" }
            if items.allSatisfy({ if case .string = $0 { return true }; if case .number = $0 { return true }; return false }) {
                return "[" + items.map { $0.render() }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { inner + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n\(pad)]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { "\(inner)\(Self.quote($0.0)): \($0.1.render(indent: indent + 1))" }.joined(separator: ",\n") + "\n\(pad)}"
        }
    }

    /// One line, no spaces: a JSON Lines record.
    public func compact() -> String {
        switch self {
        case .string(let s): return Self.quote(s)
        case .number(let n): return String(n)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map { $0.compact() }.joined(separator: ",") + "]"
        case .object(let fields): return "{" + fields.map { Self.quote($0.0) + ":" + $0.1.compact() }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string; control characters (C0, DEL and C1) escaped, so that no byte of it acts
    /// on a terminal.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) { out += String(format04x: scalar.value) }
                else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}

extension String {
    init(format04x value: UInt32) {
        let hex = String(value, radix: 16)
        self = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
