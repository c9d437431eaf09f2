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
        for line in raw.split(separator: "\n") {
            let fields = line.split(separator: " ")
            entries.append(Entry(name: String(fields[0]), number: UInt32(fields[1])!,
                                 added: KernelVersion(String(fields[2]))!))
        }
        self.entries = entries
        byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        byNumber = Dictionary(entries.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func number(of name: String) -> UInt32? { byName[name]?.number }
    public func entry(named name: String) -> Entry? { byName[name] }
    public func entry(number: UInt32) -> Entry? { byNumber[number] }
    public func name(of number: UInt32) -> String? { byNumber[number]?.name }

    private static let tables: [Arch: SyscallTable] = Dictionary(uniqueKeysWithValues:
        Arch.allCases.map { ($0, SyscallTable(arch: $0, raw: rawTables[$0]!)) })

    public static func forArch(_ arch: Arch) -> SyscallTable { tables[arch]! }

    /// Every syscall name any table knows.
    public static let allNames: Set<String> = Set(tables.values.flatMap { $0.entries.map(\.name) })
}
