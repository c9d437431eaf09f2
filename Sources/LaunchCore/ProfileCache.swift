import PolicyCore
import SystemLayer

/// Compiled run profiles, so that `policyc run` of an unchanged policy neither parses YAML nor
/// generates code. An entry keeps the exact bytes of every file the policy was read from (and
/// the paths whose absence decided an `extends` search); it is used only when all of them are
/// still the same, for the same policyc binary, working directory and `-I` list. Entries are
/// private files of the effective user in a directory nobody else can write.
public struct ProfileCache: Sendable {
    public let directory: String
    static let maxEntries = 128
    static let maxEntryBytes = 64 << 20
    static let suffix = ".profile"

    public init(directory: String) {
        self.directory = directory
    }

    /// `$POLICYC_CACHE_DIR` (empty: no cache), else /var/cache/policyc for root, else
    /// `$XDG_CACHE_HOME/policyc` or `~/.cache/policyc`.
    public static func standard() -> ProfileCache? {
        if let dir = System.environment("POLICYC_CACHE_DIR") { return dir.isEmpty ? nil : ProfileCache(directory: dir) }
        if System.effectiveUID() == 0 { return ProfileCache(directory: "/var/cache/policyc") }
        if let xdg = System.environment("XDG_CACHE_HOME"), xdg.hasPrefix("/") { return ProfileCache(directory: xdg + "/policyc") }
        if let home = System.environment("HOME"), home.hasPrefix("/") { return ProfileCache(directory: home + "/.cache/policyc") }
        return nil
    }

    public struct Entry: Equatable, Sendable {
        public var profile: RunProfile
        /// The compiler's warnings, as printed when the entry was made.
        public var warnings: String

        public init(profile: RunProfile, warnings: String) {
            self.profile = profile
            self.warnings = warnings
        }
    }

    /// What besides the input files decides the result: the policy named (a path, or a
    /// shipped name), the `-I` list, the working directory (relative paths, labels in
    /// messages) and both executables (policyc-full's compiler and shipped policies make the
    /// entry, policyc reads it), whichever of the two asks.
    public static func key(policy: String, includeDirs: [String]) -> String? {
        guard let cwd = System.currentDirectory() else { return nil }
        var key = "policyc profile cache 2\n"
        for binary in Installation.executables {
            guard let id = System.identity(of: binary) else { key += "absent \(binary)\n"; continue }
            key += "binary \(id.device) \(id.inode) \(id.size) \(id.modifiedSeconds).\(id.modifiedNanoseconds)\n"
        }
        key += "cwd \(cwd)\npolicy \(policy)"
        for dir in includeDirs { key += "\ninclude \(dir)" }
        return key
    }

    func path(for key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return directory + "/" + System.hex((0..<8).reversed().map { UInt8(truncatingIfNeeded: hash >> (8 * UInt64($0))) }) + Self.suffix
    }

    /// The entry for `key` when every input it was made from is unchanged.
    public func lookup(key: String) -> Entry? {
        guard let file = System.readPrivateFile(path(for: key), limit: Self.maxEntryBytes), file.count >= 8,
              Self.digest(file.dropLast(8)) == Array(file.suffix(8)) else { return nil }
        var r = ByteReader(file.dropLast(8))
        guard r.string() == key,
              let inputs = r.array({ r -> PolicyInput? in
                  var contents: [UInt8]?
                  guard let path = r.string(), r.field(&contents, { $0.bytes() }) else { return nil }
                  return PolicyInput(path: path, contents: contents)
              }),
              inputs.allSatisfy(Self.isUnchanged),
              let warnings = r.string(), let profile = r.bytes().flatMap({ RunProfile(decoding: $0[...]) }),
              r.atEnd else { return nil }
        return Entry(profile: profile, warnings: warnings)
    }

    static func isUnchanged(_ input: PolicyInput) -> Bool {
        guard let contents = input.contents else { return !System.exists(input.path) }
        return System.readFile(input.path, limit: contents.count) == contents
    }

    /// Stores an entry; a cache that cannot be written is no error, only slower.
    public func store(key: String, inputs: [PolicyInput], entry: Entry) {
        guard System.makePrivateDirectory(directory) else { return }
        evictOldest()
        var w = ByteWriter()
        w.string(key)
        w.array(inputs) { w, input in
            w.string(input.path)
            w.optional(input.contents) { $0.bytes($1) }
        }
        w.string(entry.warnings)
        w.bytes(entry.profile.encoded())
        try? System.replaceFile(path(for: key), with: w.bytes + Self.digest(w.bytes[...]))
    }

    /// FNV-1a of an entry, stored after it: a damaged entry (a torn write, a flipped bit) is
    /// compiled afresh, never decoded into a filter. Not a defence against a writer, who would
    /// need to be root to reach the private directory.
    static func digest(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return (0..<8).map { UInt8(truncatingIfNeeded: h >> (8 * UInt64($0))) }
    }

    /// Keeps the directory below `maxEntries`, dropping the least recently written.
    func evictOldest() {
        let names = System.directoryEntries(directory).filter { $0.hasSuffix(Self.suffix) }
        guard names.count >= Self.maxEntries else { return }
        let byAge = names.map { (System.identity(of: directory + "/" + $0)?.modifiedSeconds ?? 0, $0) }.sorted { $0 < $1 }
        for (_, name) in byAge.prefix(names.count - Self.maxEntries + 1) { System.removeFile(directory + "/" + name) }
    }
}
