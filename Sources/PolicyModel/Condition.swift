/// The `when` language (spec 2.4): parsed once, resolved per architecture.

public enum CmpOp: String, Hashable, Sendable, CaseIterable {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="

    public var negated: CmpOp {
        switch self {
        case .eq: return .ne
        case .ne: return .eq
        case .lt: return .ge
        case .le: return .gt
        case .gt: return .le
        case .ge: return .lt
        }
    }

    public func holds(_ a: UInt64, _ b: UInt64) -> Bool {
        switch self {
        case .eq: return a == b
        case .ne: return a != b
        case .lt: return a < b
        case .le: return a <= b
        case .gt: return a > b
        case .ge: return a >= b
        }
    }
}

/// A number, a named constant or an OR of values, before constants are resolved.
public indirect enum ValueExpr: Hashable, Sendable {
    case number(UInt64)
    case constant(String, column: Int)
    case or(ValueExpr, ValueExpr)

    public func resolve(on arch: Arch) -> UInt64? {
        switch self {
        case .number(let n): return n
        case .constant(let name, _): return Constants.value(of: name, on: arch)
        case .or(let a, let b):
            guard let x = a.resolve(on: arch), let y = b.resolve(on: arch) else { return nil }
            return x | y
        }
    }

    public var constants: [(String, Int)] {
        switch self {
        case .number: return []
        case .constant(let name, let column): return [(name, column)]
        case .or(let a, let b): return a.constants + b.constants
        }
    }
}

public indirect enum CondExpr: Hashable, Sendable {
    case or([CondExpr])
    case and([CondExpr])
    case not(CondExpr)
    case cmp(arg: Int, mask: ValueExpr?, op: CmpOp, value: ValueExpr)
    case member(arg: Int, mask: ValueExpr?, values: [ValueExpr], negated: Bool)

    /// Every constant named, with its column in the source text.
    public var constants: [(String, Int)] {
        switch self {
        case .or(let xs), .and(let xs): return xs.flatMap(\.constants)
        case .not(let x): return x.constants
        case .cmp(_, let mask, _, let value): return (mask?.constants ?? []) + value.constants
        case .member(_, let mask, let values, _): return (mask?.constants ?? []) + values.flatMap(\.constants)
        }
    }

    /// The condition with constants replaced by this architecture's values; nil names the constant
    /// that has no value there.
    public func resolve(on arch: Arch) -> Result<BoolExpr, UnresolvedConstant> {
        do { return .success(try resolved(on: arch)) } catch { return .failure(error) }
    }

    private func resolved(on arch: Arch) throws(UnresolvedConstant) -> BoolExpr {
        func value(_ v: ValueExpr) throws(UnresolvedConstant) -> UInt64 {
            guard let resolved = v.resolve(on: arch) else {
                throw UnresolvedConstant(name: v.constants.first { Constants.value(of: $0.0, on: arch) == nil }?.0 ?? "?")
            }
            return resolved
        }
        switch self {
        case .or(let xs):
            var parts: [BoolExpr] = []
            for x in xs { parts.append(try x.resolved(on: arch)) }
            return .or(parts)
        case .and(let xs):
            var parts: [BoolExpr] = []
            for x in xs { parts.append(try x.resolved(on: arch)) }
            return .and(parts)
        case .not(let x): return .not(try x.resolved(on: arch))
        case .cmp(let arg, let mask, let op, let v):
            return .cmp(ArgCmp(arg: arg, mask: try mask.map { m throws(UnresolvedConstant) in try value(m) }, op: op, value: try value(v)))
        case .member(let arg, let mask, let values, let negated):
            let m = try mask.map { m throws(UnresolvedConstant) in try value(m) }
            var parts: [BoolExpr] = []
            for v in values {
                parts.append(.cmp(ArgCmp(arg: arg, mask: m, op: negated ? .ne : .eq, value: try value(v))))
            }
            return negated ? .and(parts) : .or(parts)
        }
    }
}

public struct UnresolvedConstant: Error, Hashable { public let name: String }

/// One comparison on a syscall argument: `(argN & mask) op value`, unsigned 64-bit.
public struct ArgCmp: Hashable, Sendable, CustomStringConvertible {
    public var arg: Int
    public var mask: UInt64?
    public var op: CmpOp
    public var value: UInt64

    /// A masked equality ignores value bits outside the mask, as libseccomp's
    /// SCMP_CMP_MASKED_EQ does ("the masked argument equals the masked datum"). An order
    /// compares the masked argument with the whole value: `(arg0 & 0xff) < 0x100` always holds.
    public init(arg: Int, mask: UInt64?, op: CmpOp, value: UInt64) {
        self.arg = arg
        self.mask = mask
        self.op = op
        self.value = (op == .eq || op == .ne) ? mask.map { value & $0 } ?? value : value
    }

    public func holds(_ args: [UInt64]) -> Bool {
        op.holds(args[arg] & (mask ?? .max), value)
    }

    /// The comparison as a 32-bit ABI sees it: only the low halves count.
    public var narrowed: ArgCmp {
        ArgCmp(arg: arg, mask: mask.map { $0 & 0xFFFF_FFFF }, op: op, value: value & 0xFFFF_FFFF)
    }

    public var description: String {
        let lhs = mask.map { "(arg\(arg) & \(hex($0)))" } ?? "arg\(arg)"
        return "\(lhs) \(op.rawValue) \(hex(value))"
    }
}

func hex(_ v: UInt64) -> String { v < 10 ? String(v) : "0x" + String(v, radix: 16) }

/// A resolved condition.
public indirect enum BoolExpr: Hashable, Sendable, CustomStringConvertible {
    case cmp(ArgCmp)
    case and([BoolExpr])
    case or([BoolExpr])
    case not(BoolExpr)

    public static let alwaysTrue = BoolExpr.and([])

    public func holds(_ args: [UInt64]) -> Bool {
        switch self {
        case .cmp(let c): return c.holds(args)
        case .and(let xs): return xs.allSatisfy { $0.holds(args) }
        case .or(let xs): return xs.contains { $0.holds(args) }
        case .not(let x): return !x.holds(args)
        }
    }

    public func map(_ transform: (ArgCmp) -> ArgCmp) -> BoolExpr {
        switch self {
        case .cmp(let c): return .cmp(transform(c))
        case .and(let xs): return .and(xs.map { $0.map(transform) })
        case .or(let xs): return .or(xs.map { $0.map(transform) })
        case .not(let x): return .not(x.map(transform))
        }
    }

    public static func conjunction(_ parts: [BoolExpr]) -> BoolExpr {
        parts.count == 1 ? parts[0] : .and(parts)
    }

    public var description: String {
        switch self {
        case .cmp(let c): return c.description
        case .and(let xs): return xs.isEmpty ? "true" : xs.map { "(\($0))" }.joined(separator: " && ")
        case .or(let xs): return xs.isEmpty ? "false" : xs.map { "(\($0))" }.joined(separator: " || ")
        case .not(let x): return "!(\(x))"
        }
    }
}

// MARK: - Parsing

public struct ExprError: Error, Hashable, Sendable {
    /// 0-based offset in the text.
    public let offset: Int
    public let message: String
}

enum Token: Hashable {
    case ident(String)
    case number(UInt64)
    case punct(String)
    case end
}

struct Lexer {
    private(set) var tokens: [(Token, Int)] = []

    init(_ text: String) throws(ExprError) {
        let chars = Array(text.utf8)
        var i = 0
        let twoChar: Set<String> = ["||", "&&", "==", "!=", "<=", ">="]
        while i < chars.count {
            let c = chars[i]
            if c == 32 || c == 9 || c == 10 || c == 13 { i += 1; continue }
            let start = i
            if isIdentStart(c) {
                while i < chars.count, isIdentStart(chars[i]) || isDigit(chars[i]) { i += 1 }
                tokens.append((.ident(String(decoding: chars[start..<i], as: UTF8.self)), start))
            } else if isDigit(c) || (c == UInt8(ascii: "-") && i + 1 < chars.count && isDigit(chars[i + 1])) {
                i += 1
                while i < chars.count, isIdentStart(chars[i]) || isDigit(chars[i]) { i += 1 }
                let literal = String(decoding: chars[start..<i], as: UTF8.self)
                guard let value = parseNumber(literal) else {
                    throw ExprError(offset: start, message: "bad number '\(literal)' (expected decimal, 0x hex or 0o octal within 64 bits)")
                }
                tokens.append((.number(value), start))
            } else {
                if i + 1 < chars.count, twoChar.contains(String(decoding: chars[i...i + 1], as: UTF8.self)) {
                    tokens.append((.punct(String(decoding: chars[i...i + 1], as: UTF8.self)), start))
                    i += 2
                } else if "()[],&|!<>".utf8.contains(c) {
                    tokens.append((.punct(String(UnicodeScalar(c))), start))
                    i += 1
                } else {
                    throw ExprError(offset: start, message: "unexpected character '\(String(UnicodeScalar(c)))'")
                }
            }
        }
        tokens.append((.end, chars.count))
    }

    private func isIdentStart(_ c: UInt8) -> Bool {
        (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
}

/// Decimal, `0x` hex, `0o` (or leading-0) octal, `-N` as two's complement.
public func parseNumber(_ literal: String) -> UInt64? {
    var text = Substring(literal)
    let negative = text.hasPrefix("-")
    if negative { text = text.dropFirst() }
    let value: UInt64?
    if text.hasPrefix("0x") || text.hasPrefix("0X") {
        value = UInt64(text.dropFirst(2), radix: 16)
    } else if text.hasPrefix("0o") || text.hasPrefix("0O") {
        value = UInt64(text.dropFirst(2), radix: 8)
    } else if text.count > 1, text.hasPrefix("0") {
        value = UInt64(text.dropFirst(), radix: 8)
    } else {
        value = UInt64(text, radix: 10)
    }
    guard let magnitude = value, !text.isEmpty else { return nil }
    if negative {
        guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
        return magnitude == 0 ? 0 : UInt64.max - magnitude + 1
    }
    return magnitude
}

/// Recursive descent over the grammar of spec 2.4.
public struct ConditionParser {
    private var tokens: [(Token, Int)]
    private var position = 0
    private var depth = 0
    /// Deeper nesting is an error, not a stack overflow in the parser or the passes after it.
    public static let maxDepth = 100

    public static func parse(_ text: String) throws(ExprError) -> CondExpr {
        var parser = ConditionParser(tokens: try Lexer(text).tokens)
        let expr = try parser.parseOr()
        guard case .end = parser.peek else { throw parser.unexpected("'&&', '||' or the end") }
        return expr
    }

    private init(tokens: [(Token, Int)]) { self.tokens = tokens }

    private var peek: Token { tokens[position].0 }
    private var offset: Int { tokens[position].1 }
    private mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    private func describe(_ token: Token) -> String {
        switch token {
        case .ident(let s): return "'\(s)'"
        case .number(let n): return "'\(n)'"
        case .punct(let p): return "'\(p)'"
        case .end: return "the end of the condition"
        }
    }

    private func unexpected(_ expected: String) -> ExprError {
        ExprError(offset: offset, message: "expected \(expected), found \(describe(peek))")
    }

    private mutating func expect(_ punct: String) throws(ExprError) {
        guard peek == .punct(punct) else { throw unexpected("'\(punct)'") }
        advance()
    }

    mutating func parseOr() throws(ExprError) -> CondExpr {
        var parts = [try parseAnd()]
        while peek == .punct("||") { advance(); parts.append(try parseAnd()) }
        return parts.count == 1 ? parts[0] : .or(parts)
    }

    mutating func parseAnd() throws(ExprError) -> CondExpr {
        var parts = [try parseUnary()]
        while peek == .punct("&&") { advance(); parts.append(try parseUnary()) }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    /// One level further into `!` or parentheses.
    private mutating func enter() throws(ExprError) {
        depth += 1
        guard depth <= Self.maxDepth else {
            throw ExprError(offset: offset, message: "the condition nests deeper than \(Self.maxDepth) levels of '!' and parentheses")
        }
    }

    mutating func parseUnary() throws(ExprError) -> CondExpr {
        if peek == .punct("!") {
            try enter()
            defer { depth -= 1 }
            advance()
            return .not(try parseUnary())
        }
        if peek == .punct("("), !startsMaskedOperand {
            try enter()
            defer { depth -= 1 }
            advance()
            let inner = try parseOr()
            try expect(")")
            return inner
        }
        return try parseComparison()
    }

    /// `( argN & ...` begins a masked operand, any other `(` a nested condition.
    private var startsMaskedOperand: Bool {
        guard position + 2 < tokens.count, case .ident(let name) = tokens[position + 1].0 else { return false }
        return argIndex(name) != nil && tokens[position + 2].0 == .punct("&")
    }

    private func argIndex(_ name: String) -> Int? {
        guard name.count == 4, name.hasPrefix("arg"), let n = Int(name.dropFirst(3)), (0...5).contains(n) else { return nil }
        return n
    }

    private mutating func parseOperand() throws(ExprError) -> (Int, ValueExpr?) {
        if peek == .punct("(") {
            advance()
            let arg = try parseArg()
            try expect("&")
            let mask = try parseValue()
            try expect(")")
            return (arg, mask)
        }
        return (try parseArg(), nil)
    }

    private mutating func parseArg() throws(ExprError) -> Int {
        guard case .ident(let name) = peek else { throw unexpected("an argument arg0 to arg5") }
        guard let index = argIndex(name) else {
            if name.hasPrefix("arg") {
                throw ExprError(offset: offset, message: "'\(name)' is not an argument; syscalls have arg0 to arg5")
            }
            throw unexpected("an argument arg0 to arg5")
        }
        advance()
        return index
    }

    private mutating func parseComparison() throws(ExprError) -> CondExpr {
        let (arg, mask) = try parseOperand()
        switch peek {
        case .punct(let p):
            guard let op = CmpOp(rawValue: p) else { throw unexpected("a comparison (==, !=, <, <=, >, >=, in, not in)") }
            advance()
            return .cmp(arg: arg, mask: mask, op: op, value: try parseValue())
        case .ident("in"):
            advance()
            return .member(arg: arg, mask: mask, values: try parseList(), negated: false)
        case .ident("not"):
            advance()
            guard peek == .ident("in") else { throw unexpected("'in' after 'not'") }
            advance()
            return .member(arg: arg, mask: mask, values: try parseList(), negated: true)
        default:
            throw unexpected("a comparison (==, !=, <, <=, >, >=, in, not in)")
        }
    }

    private mutating func parseList() throws(ExprError) -> [ValueExpr] {
        try expect("[")
        var values = [try parseValue()]
        while peek == .punct(",") { advance(); values.append(try parseValue()) }
        try expect("]")
        return values
    }

    mutating func parseValue() throws(ExprError) -> ValueExpr {
        var value = try parseValueAtom()
        while peek == .punct("|") { advance(); value = .or(value, try parseValueAtom()) }
        return value
    }

    private mutating func parseValueAtom() throws(ExprError) -> ValueExpr {
        switch peek {
        case .number(let n):
            advance()
            return .number(n)
        case .ident(let name) where argIndex(name) == nil && name != "in" && name != "not":
            let column = offset
            advance()
            return .constant(name, column: column)
        case .punct("("):
            try enter()
            defer { depth -= 1 }
            advance()
            let inner = try parseValue()
            try expect(")")
            return inner
        default:
            throw unexpected("a number or a constant")
        }
    }

    /// `name(v, v, ...)`: a syscall with up to six argument values, as `tests:` and `explain` write it.
    public static func parseCall(_ text: String) throws(ExprError) -> (name: String, args: [ValueExpr]) {
        var parser = ConditionParser(tokens: try Lexer(text).tokens)
        guard case .ident(let name) = parser.peek else { throw parser.unexpected("a syscall name") }
        parser.advance()
        var args: [ValueExpr] = []
        if parser.peek == .punct("(") {
            parser.advance()
            if parser.peek != .punct(")") {
                args.append(try parser.parseValue())
                while parser.peek == .punct(",") { parser.advance(); args.append(try parser.parseValue()) }
            }
            try parser.expect(")")
        }
        guard case .end = parser.peek else { throw parser.unexpected("the end of the call") }
        guard args.count <= 6 else { throw ExprError(offset: 0, message: "a syscall takes at most 6 arguments, found \(args.count)") }
        return (name, args)
    }
}
