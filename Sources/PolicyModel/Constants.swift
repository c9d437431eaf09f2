/// Kernel constants for `when` expressions and errno names, per architecture where they differ.
public enum Constants {
    private static func parse(_ raw: String) -> [String: UInt64] {
        var map: [String: UInt64] = [:]
        for line in raw.split(separator: "\n") {
            let fields = line.split(separator: " ")
            map[String(fields[0])] = UInt64(fields[1])!
        }
        return map
    }

    private static let common = parse(rawCommon)
    private static let overrides: [Arch: [String: UInt64]] = rawOverrides.mapValues(parse)

    /// Every constant name, for suggestions.
    public static let allNames: [String] = common.keys.sorted()

    public static func value(of name: String, on arch: Arch) -> UInt64? {
        if x86_64Only.contains(name), arch != .x86_64 { return nil }
        if x86Only.contains(name), ![.x86_64, .x86, .x32].contains(arch) { return nil }
        return overrides[arch]?[name] ?? common[name]
    }

    public static func isKnown(_ name: String) -> Bool { common[name] != nil }

    public static let errnoNames: [String: UInt16] = {
        var map: [String: UInt16] = [:]
        for name in errnoNameSet {
            guard let value = common[name] else { continue }
            map[name] = UInt16(value)
        }
        return map
    }()

    /// The canonical name of an errno value (EAGAIN over EWOULDBLOCK, EDEADLK over EDEADLOCK).
    public static func errnoName(_ value: UInt16) -> String? { canonicalErrnoNames[value] }

    private static let canonicalErrnoNames: [UInt16: String] = {
        let aliases: Set<String> = ["EWOULDBLOCK", "EDEADLOCK", "ENOTSUP"]
        var names: [UInt16: String] = [:]
        for (name, value) in errnoNames {
            guard let current = names[value] else { names[value] = name; continue }
            if (aliases.contains(name) ? 1 : 0, name) < (aliases.contains(current) ? 1 : 0, current) { names[value] = name }
        }
        return names
    }()
}
