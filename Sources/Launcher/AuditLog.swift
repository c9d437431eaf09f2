import PolicyCompiler
import PolicyModel
import SystemLayer

/// One notified call as taken while its caller waits (its strings can be read only then).
public struct AuditEvent: Sendable {
    public var seconds: Int, nanoseconds: Int
    public var pid: UInt32
    public var executable: String?
    public var auditArch: UInt32
    public var nr: UInt32
    public var args: [UInt64]
    /// The C strings among the arguments, by index, as bytes; truncated at `AuditLog.stringLimit`.
    public var strings: [Int: CString] = [:]

    public struct CString: Sendable, Hashable {
        public var bytes: [UInt8]
        public var truncated: Bool
    }

    public init(seconds: Int, nanoseconds: Int, pid: UInt32, executable: String?, auditArch: UInt32, nr: UInt32, args: [UInt64]) {
        (self.seconds, self.nanoseconds, self.pid, self.executable) = (seconds, nanoseconds, pid, executable)
        (self.auditArch, self.nr, self.args) = (auditArch, nr, args)
    }
}

/// What `run --audit` saw: each call the policy would deny or log, as data first. Each call is
/// a JSON Lines record (Docs/audit-record.schema.json) written as it happens; the text summary,
/// the summary record and the suggested policy are renderings of the same tallies.
public struct AuditLog {
    public let filter: CompiledFilter
    public private(set) var entries: [Entry] = []
    private var index: [Key: Int] = [:]
    /// The calls as a suggestion reads them (constants and flags only), up to `observedKept`.
    public private(set) var observed = Set<ObservedCall>()
    public static let observedKept = 10_000
    /// Distinct values kept per syscall, rule and argument; beyond them only counted.
    public static let distinctValuesKept = 64
    /// Bytes read of each string argument.
    public static let stringLimit = 4096

    /// A syscall and the rule that decides it (calls of one syscall with different arguments
    /// can meet different rules).
    public struct Key: Hashable, Sendable {
        public var auditArch: UInt32
        public var nr: UInt32
        public var decidedBy: String
    }

    public struct Entry: Sendable {
        public var key: Key
        public var name: String
        public var arch: Arch?
        /// The policy's verdict: a denial, or `log` (logged and allowed).
        public var action: Action
        public var calls = 0
        /// Per argument, the distinct values seen, as shown, up to `distinctValuesKept`.
        public var values: [[String]]
        /// Per argument, the distinct values beyond those (their hashes, to count them exactly).
        var overflow: [Set<Int>]
        public var dropped: [Int] { overflow.map(\.count) }
        public var rule: SourceLocation?
        /// The verdict fields, rendered once.
        var verdictJSON = ""

        public var decidedBy: String { key.decidedBy }
        public var logged: Bool { action == .log }
    }

    public init(filter: CompiledFilter) {
        self.filter = filter
    }

    /// Everything about `call` that must be read while its caller still waits.
    public static func capture(_ call: SeccompNotification) -> AuditEvent {
        let (seconds, nanoseconds) = System.now()
        var event = AuditEvent(seconds: seconds, nanoseconds: nanoseconds, pid: call.pid, executable: System.executable(of: call.pid),
                               auditArch: call.auditArch, nr: UInt32(bitPattern: call.nr), args: call.args)
        let abi = Arch.allCases.first { $0.auditArch == call.auditArch && ($0 == .x32) == (event.nr & Arch.x32SyscallBit != 0) }
        guard let abi, let name = SyscallTable.forArch(abi).name(of: event.nr), let kinds = SyscallTable.arguments(of: name) else { return event }
        for (i, kind) in kinds.enumerated() where kind == .string && call.args[i] != 0 {
            if let read = System.readCString(pid: call.pid, address: call.args[i], limit: stringLimit) {
                event.strings[i] = AuditEvent.CString(bytes: read.bytes, truncated: read.truncated)
            }
        }
        return event
    }

    /// Tallies `event`; returns its JSON Lines record when `asRecord`.
    @discardableResult
    public mutating func record(_ event: AuditEvent, asRecord: Bool = true) -> String? {
        let (action, verdict) = filter.ir.verdict(auditArch: event.auditArch, nr: event.nr, args: event.args)
        let key = Key(auditArch: event.auditArch, nr: event.nr, decidedBy: PolicyTestRunner.describe(verdict, policy: filter.policy))
        let at = index[key] ?? newEntry(key, action: action, verdict: verdict)
        entries[at].calls += 1
        if let arch = entries[at].arch, !entries[at].logged, observed.count < Self.observedKept {
            observed.insert(ObservedCall(arch: arch, nr: event.nr, args: event.args).essential)
        }
        let args = arguments(event, entries[at])
        for (i, arg) in args.enumerated() where i < entries[at].values.count {
            let shown = arg.shown
            if entries[at].values[i].contains(shown) { continue }
            if entries[at].values[i].count < Self.distinctValuesKept { entries[at].values[i].append(shown) }
            else { entries[at].overflow[i].insert(shown.hashValue) }
        }
        return asRecord ? callLine(event, entries[at], args) : nil
    }

    /// `callRecord` rendered as a JSON line, written straight into one string: at tens of
    /// thousands of calls a second the tree would cost more than the call.
    func callLine(_ event: AuditEvent, _ entry: Entry, _ args: [Argument]) -> String {
        var out = "{\"type\":\"call\",\"time\":\"" + Self.timestamp(event.seconds, event.nanoseconds) + "\",\"pid\":" + String(event.pid)
        if let exe = event.executable { out += ",\"executable\":" + JSONValue.quote(exe) }
        out += ",\"arch\":" + JSONValue.quote(entry.arch?.rawValue ?? "0x" + String(event.auditArch, radix: 16))
        out += ",\"syscall\":" + JSONValue.quote(entry.name) + ",\"nr\":" + String(event.nr & ~Arch.x32SyscallBit) + ",\"args\":["
        for (i, arg) in args.enumerated() {
            if i > 0 { out += "," }
            out += Self.argumentRecord(arg).compact()
        }
        out += "]," + entry.verdictJSON + ",\"count\":" + String(entry.calls) + "}\n"
        return out
    }

    private mutating func newEntry(_ key: Key, action: Action, verdict: Verdict) -> Int {
        let abi = filter.ir.abi(auditArch: key.auditArch, nr: key.nr)
        let name = abi?.table.name(of: key.nr) ?? "syscall \(key.nr & ~Arch.x32SyscallBit)"
        let count = SyscallTable.arguments(of: name)?.count ?? 6
        var rule: SourceLocation?
        if case .rule(let r) = verdict { rule = r.origin } else if case .defaultAction = verdict { rule = filter.policy.seccomp.defaultAction?.location }
        entries.append(Entry(key: key, name: name, arch: abi?.arch, action: action,
                             values: Array(repeating: [], count: count), overflow: Array(repeating: [], count: count), rule: rule))
        let fields = JSONValue.object(verdictFields(entries[entries.count - 1])).compact()
        entries[entries.count - 1].verdictJSON = String(fields.dropFirst().dropLast())
        index[key] = entries.count - 1
        return entries.count - 1
    }

    /// One argument: its register, its string when it points at one, its constant's name.
    struct Argument {
        var raw: UInt64
        var string: AuditEvent.CString?
        var name: String?

        /// As the text summary shows it: strings quoted and escaped, names, small numbers in
        /// decimal, the rest in hex.
        var shown: String {
            if let string { return TerminalText.quoted(string.bytes) + (string.truncated ? "…" : "") }
            if let name { return name }
            return raw < 0x10000 ? String(raw) : "0x" + String(raw, radix: 16)
        }
    }

    /// The syscall's own arguments (all six registers when its signature is unknown).
    func arguments(_ event: AuditEvent, _ entry: Entry) -> [Argument] {
        let count = SyscallTable.arguments(of: entry.name)?.count ?? 6
        return (0..<count).map { i in
            Argument(raw: event.args[i], string: event.strings[i],
                     name: entry.arch.flatMap { ArgumentNames.describe(event.args[i], syscall: entry.name, argument: i, arch: $0) })
        }
    }

    static func argumentRecord(_ arg: Argument) -> JSONValue {
        var fields: [(String, JSONValue)] = [("raw", .string("0x" + String(arg.raw, radix: 16)))]
        if let s = arg.string {
            if let text = String(validating: s.bytes, as: UTF8.self) { fields.append(("string", .string(text))) }
            else { fields.append(("bytes", .string(s.bytes.map { String($0, radix: 16).leftPadded(2) }.joined()))) }
            if s.truncated { fields.append(("truncated", .bool(true))) }
        }
        if let name = arg.name { fields.append(("name", .string(name))) }
        return .object(fields)
    }

    func verdictFields(_ entry: Entry) -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [
            ("verdict", .string(entry.action.description)),
            ("outcome", .string(entry.logged ? "logged and allowed" : "allowed by the audit")),
            ("decidedBy", .string(entry.decidedBy)),
        ]
        if let rule = entry.rule { fields.append(("rule", .string(rule.fileAndLine))) }
        return fields
    }

    /// RFC 3339, UTC, microseconds.
    static func timestamp(_ seconds: Int, _ nanoseconds: Int) -> String {
        let p = System.utc(seconds)
        func two(_ n: Int) -> String { String(n).leftPadded(2) }
        return "\(p[0])-\(two(p[1]))-\(two(p[2]))T\(two(p[3])):\(two(p[4])):\(two(p[5])).\(String(nanoseconds / 1000).leftPadded(6))Z"
    }

    /// The record written at a clean end: every syscall's tally, with the values kept and how
    /// many distinct ones were dropped beyond them.
    public func summaryRecord(exitStatus: Int32) -> String {
        let syscalls = sortedEntries.map { e -> JSONValue in
            var fields: [(String, JSONValue)] = [("arch", .string(e.arch?.rawValue ?? "0x" + String(e.key.auditArch, radix: 16))),
                                                 ("syscall", .string(e.name))]
            fields += verdictFields(e) + [("calls", .number(UInt64(e.calls)))]
            fields.append(("args", .array(e.values.indices.map { i in
                .object([("values", .array(e.values[i].map { .string($0) })), ("dropped", .number(UInt64(e.dropped[i])))])
            })))
            return .object(fields)
        }
        let denied = entries.filter { !$0.logged }.reduce(0) { $0 + $1.calls }, logged = entries.filter(\.logged).reduce(0) { $0 + $1.calls }
        return JSONValue.object([
            ("type", .string("summary")), ("policy", .string(filter.policy.name)), ("file", .string(filter.policy.file)),
            ("exitStatus", .number(UInt64(UInt32(bitPattern: exitStatus)))),
            ("deniedCalls", .number(UInt64(denied))), ("loggedCalls", .number(UInt64(logged))),
            ("distinctValuesKept", .number(UInt64(Self.distinctValuesKept))), ("syscalls", .array(syscalls)),
        ]).compact() + "\n"
    }

    var sortedEntries: [Entry] {
        entries.sorted { ($0.name, $0.key.auditArch, $0.decidedBy) < ($1.name, $1.key.auditArch, $1.decidedBy) }
    }

    /// The report printed after the container exits; every byte a terminal could act on escaped.
    public func report() -> String {
        let denied = entries.filter { !$0.logged }, logged = entries.filter(\.logged)
        guard !entries.isEmpty else { return "policyc audit: the policy denied nothing the container did.\n" }
        let calls = denied.reduce(0) { $0 + $1.calls }
        var text = denied.isEmpty ? "policyc audit: the policy denied nothing the container did.\n"
            : "policyc audit: the policy would have denied \(denied.count) syscall\(denied.count == 1 ? "" : "s") "
            + "(\(calls) call\(calls == 1 ? "" : "s")); in audit mode they ran.\n"
        if !logged.isEmpty { text += "policyc audit: \(logged.reduce(0) { $0 + $1.calls }) call(s) matched log rules (logged and allowed).\n" }
        for e in sortedEntries {
            let arch = e.arch?.rawValue ?? "arch 0x" + String(e.key.auditArch, radix: 16)
            let what = e.logged ? "logged and allowed" : "would be \(e.action)"
            text += "  \(e.name) (\(arch)): \(e.calls) call\(e.calls == 1 ? "" : "s"), \(what), decided by \(TerminalText.escaped(e.decidedBy))\n"
            text += samples(e)
        }
        return text
    }

    /// Up to three argument lists, the values of each argument in the order first seen.
    private func samples(_ e: Entry) -> String {
        let rows = min(3, e.values.map(\.count).max() ?? 0)
        var text = e.values.isEmpty && e.calls > 0 ? "      \(e.name)()\n" : ""
        for row in 0..<rows {
            text += "      \(e.name)(" + e.values.map { $0.isEmpty ? "" : $0[min(row, $0.count - 1)] }.joined(separator: ", ") + ")\n"
        }
        // Every string kept, not only the first rows: a fourth path must not hide behind three.
        let kinds = SyscallTable.arguments(of: e.name) ?? []
        for (i, values) in e.values.enumerated() where i < kinds.count && kinds[i] == .string && values.count > rows {
            text += "      arg\(i), all \(values.count + e.dropped[i]) distinct: " + values.joined(separator: ", ")
                + (e.dropped[i] > 0 ? ", and \(e.dropped[i]) more beyond the \(Self.distinctValuesKept) kept" : "") + "\n"
        }
        let more = e.values.map(\.count).reduce(0, +) - rows * e.values.count
        let dropped = e.dropped.reduce(0, +)
        if rows > 0, more > 0 || dropped > 0 {
            text += "      (distinct values per argument: " + e.values.indices.map { "\($0): \(e.values[$0].count + e.dropped[$0])" }.joined(separator: ", ")
                + (dropped > 0 ? "; \(dropped) beyond the \(Self.distinctValuesKept) kept" : "") + ")\n"
        }
        return text
    }

    /// A policy extending the audited one (by `parent`) that allows what ran: learned argument
    /// conditions, refused families added to `network.families`; nil when nothing was denied.
    public func suggestion(extending parent: String) -> String? {
        Suggester(filter).suggest(Array(observed), extending: parent)?.text
    }
}

/// The audit of one run: the log, and the record file each call is written to as it comes.
public final class AuditSink: @unchecked Sendable {
    public private(set) var log: AuditLog
    private let file: RecordFile?
    /// The first error writing the record file; the audit goes on, the run then fails.
    public private(set) var writeError: SystemError?

    public init(log: AuditLog, file: RecordFile?) { (self.log, self.file) = (log, file) }

    /// For ContainerRunner's `onDenied`: capture while the caller waits, record after.
    public func onCall(_ call: SeccompNotification) -> () -> Void {
        let event = AuditLog.capture(call)
        return { self.record(event) }
    }

    func record(_ event: AuditEvent) {
        let line = log.record(event, asRecord: file != nil && writeError == nil)
        guard let file, let line else { return }
        do { try file.append(Array(line.utf8)) } catch { writeError = error }
    }

    /// Writes the summary record at a clean end.
    public func finish(exitStatus: Int32) {
        guard let file, writeError == nil else { return }
        do { try file.append(Array(log.summaryRecord(exitStatus: exitStatus).utf8)) } catch { writeError = error }
    }
}

/// Text for a terminal: bytes it could act on (C0 controls, DEL, C1 controls, invalid UTF-8)
/// as `\xNN`, so that a workload's strings cannot move the cursor, recolour or forge lines.
public enum TerminalText {
    public static func escaped(_ text: String) -> String { escape(Array(text.utf8), quote: false) }

    /// `"…"` with `"` and `\` escaped too.
    public static func quoted(_ bytes: [UInt8]) -> String { "\"" + escape(bytes, quote: true) + "\"" }

    static func escape(_ bytes: [UInt8], quote: Bool) -> String {
        var out = ""
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let width = b < 0x80 ? 1 : b >> 5 == 0b110 ? 2 : b >> 4 == 0b1110 ? 3 : b >> 3 == 0b11110 ? 4 : 0
            if width > 1, i + width <= bytes.count, let s = String(validating: bytes[i..<i + width], as: UTF8.self),
               let scalar = s.unicodeScalars.first, !(0x80...0x9F).contains(scalar.value) {
                out += s
                i += width
                continue
            }
            if b >= 0x20 && b < 0x7F && width == 1 {
                if quote && (b == 0x22 || b == 0x5C) { out += "\\" }
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += "\\x" + String(b, radix: 16).leftPadded(2)
            }
            i += 1
        }
        return out
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
