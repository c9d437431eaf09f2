import PolicyCompiler
import PolicyModel

/// NAME.seccomp.json is only written when runc, reading it through libseccomp 2.5.4, builds a
/// filter that answers as NAME.bpf does. libseccomp 2.5.4 mis-compiles some sets of rules that
/// share leading comparisons (a 32-bit ABI's `chown` with `arg2 < X && arg3 != Y` and
/// `arg2 < X && arg3 >= Z` loses the rule), and those shapes are not all known: so the JSON is
/// built the way runc builds it and compared with NAME.bpf on every syscall libseccomp knows,
/// with the argument values the policy's comparisons make interesting.
public enum RuncReading {
    /// The JSON, once it is known to mean what NAME.bpf means; else a located error.
    public static func checkedJSON(_ filter: CompiledFilter) throws(SeccompJSONEmitter.EmitError) -> JSONValue {
        try SeccompJSONEmitter(readable(filter)).object()
    }

    /// `filter`, with the syscalls whose rules libseccomp mis-compiles written as equalities
    /// only in its JSON (libseccomp's trouble is with ranges and `!=` on rules sharing leading
    /// comparisons), once runc reading that JSON builds NAME.bpf's verdicts; else a located error.
    public static func readable(_ filter: CompiledFilter) throws(SeccompJSONEmitter.EmitError) -> CompiledFilter {
        var filter = filter
        var misCompiled: SeccompJSONEmitter.EmitError?
        while true {
            let program: BPFProgram
            do throws(SeccompJSONEmitter.EmitError) {
                let json = try SeccompJSONEmitter(filter).object()
                do { program = try LibseccompBackend.compileLikeRunc(LibseccompBackend.OCIProfile(json), giveUpAfter: deadline) } catch {
                    throw SeccompJSONEmitter.EmitError.notExpressible("runc (libseccomp \(LibseccompBackend.version)) refuses this profile: \(error)", at: firstRule(filter.ir))
                }
            } catch {
                // What the equalities could not say is no reason to report: the mis-compilation is.
                throw misCompiled ?? error
            }
            guard let (name, difference) = firstDifference(filter, runc: program, cause: nil) else { return filter }
            misCompiled = misCompiled ?? difference
            guard let name, filter.equalitiesOnlyInJSON.insert(name).inserted else { throw misCompiled! }
        }
    }

    /// A `linux.seccomp` object (NAME.seccomp.json, or a SeccompProfile's spec) that runc builds
    /// into NAME.bpf's verdicts; else a located error.
    /// `cause` says why a difference arises, when it is not libseccomp's.
    public static func check(_ json: JSONValue, means filter: CompiledFilter, cause: String? = nil) throws(SeccompJSONEmitter.EmitError) {
        let program: BPFProgram
        do { program = try LibseccompBackend.compileLikeRunc(LibseccompBackend.OCIProfile(json), giveUpAfter: deadline) } catch {
            throw .notExpressible("runc (libseccomp \(LibseccompBackend.version)) refuses this profile: \(error)", at: firstRule(filter.ir))
        }
        if let (_, difference) = firstDifference(filter, runc: program, cause: cause) { throw difference }
    }

    /// libseccomp builds the largest shipped and corpus profiles in well under a second; a
    /// profile that takes it longer than this is an error (runc init would spend as long
    /// before every container start), with room for a loaded machine to build what was
    /// accepted (`checkDeadline`).
    public static let deadline = 5

    /// What a check of an accepted profile allows libseccomp (four times `deadline`).
    public static let checkDeadline = 20

    /// The first rule written in the policy, where a refusal is reported.
    static func firstRule(_ ir: FilterIR) -> SourceLocation? {
        ir.arches.flatMap { $0.rules.values.flatMap { $0.map(\.origin) } }.min { ($0.line, $0.column) < ($1.line, $1.column) }
    }

    /// The first call the two filters answer differently: its syscall and the error that says so.
    static func firstDifference(_ filter: CompiledFilter, runc: BPFProgram, cause: String?) -> (String?, SeccompJSONEmitter.EmitError)? {
        let ours = BPFInterpreter(filter.program), theirs = BPFInterpreter(runc)
        for abi in filter.ir.arches {
            for entry in abi.table.entries
            where LibseccompBackend.knows(entry.name, on: abi.arch) && LibseccompBackend.knows(number: entry.number, on: abi.arch) {
                for args in argumentVectors(abi.rules[entry.number] ?? []) {
                    guard let a = try? ours.run(auditArch: abi.arch.auditArch, nr: entry.number, args: args),
                          let b = try? theirs.run(auditArch: abi.arch.auditArch, nr: entry.number, args: args) else {
                        return (nil, .notExpressible("the filter runc would build from this profile cannot be run", at: firstRule(filter.ir)))
                    }
                    guard a.returnValue != b.returnValue else { continue }
                    let shown = args.map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
                    let call = "\(entry.name)(\(shown)) would get \(b.action) instead of \(a.action)"
                    return (entry.name, .notExpressible(cause.map { "'\(entry.name)': \($0): \(call)" }
                                           ?? "'\(entry.name)': libseccomp \(LibseccompBackend.version), as runc uses it, mis-compiles this syscall's rules on \(abi.arch.rawValue): \(call); give \(entry.name) fewer rules sharing leading comparisons, or compile for fewer architectures",
                                           at: abi.rules[entry.number]?.first?.origin))
                }
            }
        }
        return nil
    }

    /// Zero, and per argument the values where a comparison of the policy turns: libseccomp
    /// compares the two 32-bit halves apart, so each half of a value and of a mask is tried
    /// as itself, its neighbours, zero, all ones and with its top bit flipped; alone and
    /// together; deterministic.
    static func argumentVectors(_ rules: [IRRule]) -> [[UInt64]] {
        var values: [Int: Set<UInt64>] = [:]
        // The top bit flipped too: a SeccompProfile's masks lose bit 63 (KubernetesEmitter).
        func halves(_ x: UInt32) -> [UInt32] { [x, x &+ 1, x &- 1, 0, .max, x ^ 0x8000_0000] }
        func collect(_ e: BoolExpr) {
            switch e {
            case .cmp(let c):
                for v in Set([c.value, c.mask ?? 0, c.value & (c.mask ?? .max)]) {
                    for hi in halves(UInt32(v >> 32)) { for lo in halves(UInt32(truncatingIfNeeded: v)) {
                        values[c.arg, default: []].insert(UInt64(hi) << 32 | UInt64(lo))
                    } }
                }
            case .and(let xs), .or(let xs): xs.forEach(collect)
            case .not(let x): collect(x)
            }
        }
        for rule in rules { if let c = rule.condition { collect(c) } }
        var vectors: [[UInt64]] = [[0, 0, 0, 0, 0, 0]]
        guard !values.isEmpty else { return vectors }
        let pools = (0..<6).map { (values[$0] ?? []).union([0, .max]).sorted() }
        for arg in 0..<6 { for v in pools[arg] { var x = [UInt64](repeating: 0, count: 6); x[arg] = v; vectors.append(x) } }
        // Combinations: a fixed walk through the pools, so that every pair of arguments meets.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<256 {
            vectors.append((0..<6).map { arg in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return pools[arg][Int((state >> 33) % UInt64(pools[arg].count))]
            })
        }
        return vectors
    }
}

extension LibseccompBackend.OCIProfile {
    /// The profile runc reads from a `linux.seccomp` object (as rendered, so as parsed).
    public init(_ json: JSONValue) {
        func field(_ object: JSONValue, _ key: String) -> JSONValue? {
            guard case .object(let fields) = object else { return nil }
            return fields.first { $0.0 == key }?.1
        }
        func string(_ v: JSONValue?) -> String { if case .string(let s)? = v { return s }; return "" }
        func number(_ v: JSONValue?) -> UInt64? { if case .number(let n)? = v { return n }; return nil }
        func array(_ v: JSONValue?) -> [JSONValue] { if case .array(let xs)? = v { return xs }; return [] }
        self.init(
            defaultAction: string(field(json, "defaultAction")),
            defaultErrnoRet: number(field(json, "defaultErrnoRet")).map { UInt32($0) },
            architectures: array(field(json, "architectures")).map(string),
            syscalls: array(field(json, "syscalls")).map { entry in
                .init(names: array(field(entry, "names")).map(string), action: string(field(entry, "action")),
                      errnoRet: number(field(entry, "errnoRet")).map { UInt32($0) },
                      args: array(field(entry, "args")).map {
                          .init(index: UInt32(number(field($0, "index")) ?? 0), value: number(field($0, "value")) ?? 0,
                                valueTwo: number(field($0, "valueTwo")) ?? 0, op: string(field($0, "op")))
                      })
            })
    }
}
