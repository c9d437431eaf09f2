/// What the filter does with a syscall.
public enum Action: Hashable, Sendable, CustomStringConvertible {
    case allow
    case log
    case errno(UInt16)
    case killProcess
    case killThread
    case trap
    case trace(UInt16)
    case notify

    /// `SECCOMP_RET_*` with its data.
    public var seccompRet: UInt32 {
        switch self {
        case .killProcess: return 0x8000_0000
        case .killThread: return 0x0000_0000
        case .trap: return 0x0003_0000
        case .errno(let e): return 0x0005_0000 | UInt32(e)
        case .notify: return 0x7FC0_0000
        case .trace(let t): return 0x7FF0_0000 | UInt32(t)
        case .log: return 0x7FFC_0000
        case .allow: return 0x7FFF_0000
        }
    }

    /// The action a `SECCOMP_RET_*` value stands for, as the kernel reads it.
    public init(seccompRet value: UInt32) {
        let data = UInt16(value & 0xFFFF)
        switch value & 0xFFFF_0000 {
        case 0x8000_0000: self = .killProcess
        case 0x0003_0000: self = .trap
        case 0x0005_0000: self = .errno(data)
        case 0x7FC0_0000: self = .notify
        case 0x7FF0_0000: self = .trace(data)
        case 0x7FFC_0000: self = .log
        case 0x7FFF_0000: self = .allow
        default: self = value & 0xFFFF_0000 > 0x7FFF_0000 ? .allow : .killThread
        }
    }

    public var description: String {
        switch self {
        case .allow: return "allow"
        case .log: return "log"
        case .errno(let e): return "errno(\(Constants.errnoName(e) ?? String(e)))"
        case .killProcess: return "kill-process"
        case .killThread: return "kill-thread"
        case .trap: return "trap"
        case .trace(let t): return "trace(\(t))"
        case .notify: return "notify"
        }
    }

    /// OCI `SCMP_ACT_*` name and the `errnoRet` it carries.
    public var ociName: (String, UInt16?) {
        switch self {
        case .allow: return ("SCMP_ACT_ALLOW", nil)
        case .log: return ("SCMP_ACT_LOG", nil)
        case .errno(let e): return ("SCMP_ACT_ERRNO", e)
        case .killProcess: return ("SCMP_ACT_KILL_PROCESS", nil)
        case .killThread: return ("SCMP_ACT_KILL_THREAD", nil)
        case .trap: return ("SCMP_ACT_TRAP", nil)
        case .trace(let t): return ("SCMP_ACT_TRACE", t)
        case .notify: return ("SCMP_ACT_NOTIFY", nil)
        }
    }

    public static let spellings = [
        "allow", "log", "errno(NAME)", "kill-process", "kill-thread", "trap", "trace(N)", "notify",
        "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY",
    ]

    public enum ParseError: Error, Equatable {
        case unknownAction(String)
        case badArgument(String)
    }

    /// Parses `allow`, `errno(EPERM)`, `trace(7)`, `SCMP_ACT_ERRNO` (with `errnoRet`), ...
    /// `defaultErrno` is what a bare `SCMP_ACT_ERRNO`/`errno` returns.
    public static func parse(_ text: String, errnoRet: UInt16? = nil, defaultErrno: UInt16 = 1) throws(ParseError) -> Action {
        let trimmed = text.trimmingSpaces
        if let open = trimmed.firstIndex(of: "("), trimmed.hasSuffix(")") {
            let head = trimmed[..<open].trimmingSpaces.lowercased()
            let argument = trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)].trimmingSpaces
            switch head {
            case "errno": return .errno(try errnoValue(argument))
            case "trace": return .trace(try number16(argument))
            default: throw .unknownAction(trimmed)
            }
        }
        switch trimmed {
        case "allow", "SCMP_ACT_ALLOW": return .allow
        case "log", "SCMP_ACT_LOG": return .log
        case "errno", "SCMP_ACT_ERRNO": return .errno(errnoRet ?? defaultErrno)
        case "kill-process", "SCMP_ACT_KILL_PROCESS": return .killProcess
        case "kill-thread", "kill", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return .killThread
        case "trap", "SCMP_ACT_TRAP": return .trap
        case "trace": return .trace(errnoRet ?? 0)
        // runc gives a bare SCMP_ACT_TRACE EPERM as its data, like a bare SCMP_ACT_ERRNO.
        case "SCMP_ACT_TRACE": return .trace(errnoRet ?? 1)
        case "notify", "SCMP_ACT_NOTIFY": return .notify
        default: throw .unknownAction(trimmed)
        }
    }

    public static func errnoValue(_ text: String) throws(ParseError) -> UInt16 {
        if let value = Constants.errnoNames[text] { return value }
        if let value = UInt16(text), value <= 4095 { return value }
        throw .badArgument(text)
    }

    private static func number16(_ text: String) throws(ParseError) -> UInt16 {
        guard let value = UInt16(text) else { throw .badArgument(text) }
        return value
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
