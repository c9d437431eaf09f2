/// The syscalls of one architecture: name, number and the release that added each.
public struct SyscallTable: Sendable {
    public struct Entry: Sendable, Hashable {
        public let name: String
        public let number: UInt32
        public let added: KernelVersion
    }

    public let arch: Arch
    public let entries: [Entry]
    private let byName: [String: Entry]
    private let byNumber: [UInt32: Entry]

    init(arch: Arch, raw: String) {
        self.arch = arch
        var entries: [Entry] = []
        entries.reserveCapacity(512)
        // A hand-rolled scan: this runs at every start of policyc, before anything else.
        var raw = raw
        raw.withUTF8 { bytes in
            var i = 0
            func field() -> Range<Int> {
                let start = i
                while i < bytes.count, bytes[i] != 32, bytes[i] != 10 { i += 1 }
                return start..<i
            }
            func number(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + Int(bytes[$1] - 48) } }
            while i < bytes.count {
                let name = field(); i += 1
                let nr = field(); i += 1
                let version = field(); i += 1
                let dot = version.firstIndex { bytes[$0] == 46 }!
                entries.append(Entry(name: String(decoding: UnsafeBufferPointer(rebasing: bytes[name]), as: UTF8.self),
                                     number: UInt32(number(nr)),
                                     added: KernelVersion(major: number(version.lowerBound..<dot), minor: number((dot + 1)..<version.upperBound))))
            }
        }
        self.entries = entries
        byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        byNumber = Dictionary(entries.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func number(of name: String) -> UInt32? { byName[name]?.number }
    public func entry(named name: String) -> Entry? { byName[name] }
    public func entry(number: UInt32) -> Entry? { byNumber[number] }
    public func name(of number: UInt32) -> String? { byNumber[number]?.name }

    // One lazily parsed table per architecture: most runs need only the native ones.
    private static let x86_64Table = SyscallTable(arch: .x86_64, raw: rawTables[.x86_64]!)
    private static let x86Table = SyscallTable(arch: .x86, raw: rawTables[.x86]!)
    private static let x32Table = SyscallTable(arch: .x32, raw: rawTables[.x32]!)
    private static let aarch64Table = SyscallTable(arch: .aarch64, raw: rawTables[.aarch64]!)
    private static let armTable = SyscallTable(arch: .arm, raw: rawTables[.arm]!)
    private static let riscv64Table = SyscallTable(arch: .riscv64, raw: rawTables[.riscv64]!)

    public static func forArch(_ arch: Arch) -> SyscallTable {
        switch arch {
        case .x86_64: return x86_64Table
        case .x86: return x86Table
        case .x32: return x32Table
        case .aarch64: return aarch64Table
        case .arm: return armTable
        case .riscv64: return riscv64Table
        }
    }

    /// Every syscall name any table knows.
    public static let allNames: Set<String> = {
        var names = Set<String>(minimumCapacity: 1024)
        for raw in rawTables.values {
            for line in raw.utf8.split(separator: 10) {
                names.insert(String(decoding: line.prefix { $0 != 32 }, as: UTF8.self))
            }
        }
        return names
    }()
}

extension SyscallTable {
    /// The kinds of a syscall's arguments, one letter each: `s` a C string the kernel reads (a
    /// path, a name), `p` another pointer, `n` a number.
    public enum ArgumentKind: Character, Sendable {
        case string = "s", pointer = "p", number = "n"
    }

    private static let signatures: [String: [ArgumentKind]] = {
        var map: [String: [ArgumentKind]] = [:]
        for line in rawArity.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2 { map[String(fields[0])] = fields[1].compactMap(ArgumentKind.init(rawValue:)) }
        }
        return map
    }()

    /// The syscall's arguments (its SYSCALL_DEFINEn), when the kernel sources define it.
    public static func arguments(of name: String) -> [ArgumentKind]? { signatures[name] }
}
