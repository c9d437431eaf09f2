import PolicyCore

/// Everything `policyc run` takes from a compiled policy: small enough to cache as bytes, so a
/// launch need not parse YAML or generate code again.
public struct RunProfile: Equatable, Sendable {
    public var name: String
    public var namespaces: [String]
    public var container: ContainerSpec
    public var noNewPrivileges: Bool
    /// Landlock's filesystem intent; nil when the policy states none.
    public var filesystem: PathRules?
    public var tcpBind: [UInt16]
    public var tcpConnect: [UInt16]
    public var landlockMinimumAbi: Int?
    public var landlockRequired: Bool?
    public var apparmorRequested: Bool
    public var apparmorProfile: String
    public var selinuxRequested: Bool
    public var selinuxContext: String
    public var seccompFilter: [UInt8]
    public var seccompFlags: UInt32
    /// The verdict `seccompFilter` gives execve on this machine's architecture whatever its
    /// arguments, when it denies it: no command could start (the compiler's answer, kept so
    /// that the launch needs no BPF interpreter).
    public var execveDenial: String?
    /// The filter of `--init`'s pid 1 for this machine's architecture.
    public var initFilter: [UInt8]
    public var capabilities: CapabilitySets

    public struct PathRules: Equatable, Sendable {
        public var read: [String], write: [String], exec: [String]
        /// Masked in the container (Landlock cannot take part of a granted tree back).
        public var deny: [String]

        public init(read: [String], write: [String], exec: [String], deny: [String] = []) {
            self.read = read
            self.write = write
            self.exec = exec
            self.deny = deny
        }
    }

    /// Every field, as the compiler fills them (`RunProfile(filter)` in Launcher).
    public init(name: String, namespaces: [String], container: ContainerSpec, noNewPrivileges: Bool, filesystem: PathRules?,
                tcpBind: [UInt16], tcpConnect: [UInt16], landlockMinimumAbi: Int?, landlockRequired: Bool?,
                apparmorRequested: Bool, apparmorProfile: String, selinuxRequested: Bool, selinuxContext: String,
                seccompFilter: [UInt8], seccompFlags: UInt32, execveDenial: String?, initFilter: [UInt8], capabilities: CapabilitySets) {
        (self.name, self.namespaces, self.container, self.noNewPrivileges) = (name, namespaces, container, noNewPrivileges)
        (self.filesystem, self.tcpBind, self.tcpConnect) = (filesystem, tcpBind, tcpConnect)
        (self.landlockMinimumAbi, self.landlockRequired) = (landlockMinimumAbi, landlockRequired)
        (self.apparmorRequested, self.apparmorProfile) = (apparmorRequested, apparmorProfile)
        (self.selinuxRequested, self.selinuxContext) = (selinuxRequested, selinuxContext)
        (self.seccompFilter, self.seccompFlags, self.execveDenial, self.initFilter) = (seccompFilter, seccompFlags, execveDenial, initFilter)
        self.capabilities = capabilities
    }
}

// MARK: bytes

extension RunProfile {
    /// Equal when their bytes are: the container spec's environment is a list of tuples.
    public static func == (a: RunProfile, b: RunProfile) -> Bool { a.encoded() == b.encoded() }

    static let magic: [UInt8] = Array("policyc run profile 4\n".utf8)

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.raw(Self.magic)
        w.string(name)
        w.strings(namespaces)
        w.container(container)
        w.bool(noNewPrivileges)
        w.optional(filesystem) { w, rules in w.strings(rules.read); w.strings(rules.write); w.strings(rules.exec); w.strings(rules.deny) }
        w.array(tcpBind) { w, port in w.u64(UInt64(port)) }
        w.array(tcpConnect) { w, port in w.u64(UInt64(port)) }
        w.optional(landlockMinimumAbi) { w, abi in w.u64(UInt64(abi)) }
        w.optional(landlockRequired) { w, required in w.bool(required) }
        w.bool(apparmorRequested)
        w.string(apparmorProfile)
        w.bool(selinuxRequested)
        w.string(selinuxContext)
        w.bytes(seccompFilter)
        w.u64(UInt64(seccompFlags))
        w.optional(execveDenial) { $0.string($1) }
        w.bytes(initFilter)
        for mask in [capabilities.bounding, capabilities.effective, capabilities.permitted, capabilities.inheritable, capabilities.ambient] { w.u64(mask) }
        return w.bytes
    }

    /// nil when `bytes` is not a whole profile of this version.
    public init?(decoding bytes: ArraySlice<UInt8>) {
        var r = ByteReader(bytes)
        var filesystem: PathRules?, minimumAbi: Int?, required: Bool?, execveDenial: String?
        guard r.raw(Self.magic.count) == Self.magic[...],
              let name = r.string(), let namespaces = r.strings(), let container = r.container(),
              let noNewPrivileges = r.bool(),
              r.field(&filesystem, { r -> PathRules? in
                  guard let read = r.strings(), let write = r.strings(), let exec = r.strings(), let deny = r.strings() else { return nil }
                  return PathRules(read: read, write: write, exec: exec, deny: deny)
              }),
              let tcpBind = r.array({ r in r.u64().flatMap { UInt16(exactly: $0) } }),
              let tcpConnect = r.array({ r in r.u64().flatMap { UInt16(exactly: $0) } }),
              r.field(&minimumAbi, { r in r.u64().flatMap { Int(exactly: $0) } }),
              r.field(&required, { r in r.bool() }),
              let apparmorRequested = r.bool(), let apparmorProfile = r.string(),
              let selinuxRequested = r.bool(), let selinuxContext = r.string(),
              let filter = r.bytes(), let flags = r.u64().flatMap({ UInt32(exactly: $0) }),
              r.field(&execveDenial, { $0.string() }), let initFilter = r.bytes(),
              let bounding = r.u64(), let effective = r.u64(), let permitted = r.u64(), let inheritable = r.u64(), let ambient = r.u64(),
              r.atEnd else { return nil }
        self.name = name
        self.namespaces = namespaces
        self.container = container
        self.noNewPrivileges = noNewPrivileges
        self.filesystem = filesystem
        self.tcpBind = tcpBind
        self.tcpConnect = tcpConnect
        self.landlockMinimumAbi = minimumAbi
        self.landlockRequired = required
        self.apparmorRequested = apparmorRequested
        self.apparmorProfile = apparmorProfile
        self.selinuxRequested = selinuxRequested
        self.selinuxContext = selinuxContext
        self.seccompFilter = filter
        self.seccompFlags = flags
        self.execveDenial = execveDenial
        self.initFilter = initFilter
        self.capabilities = CapabilitySets(bounding: bounding, effective: effective, permitted: permitted, inheritable: inheritable, ambient: ambient)
    }
}

/// Length-prefixed little-endian fields; optionals and arrays carry a tag or a count.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ b: [UInt8]) { bytes += b }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
    mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    mutating func bytes(_ b: [UInt8]) { u64(UInt64(b.count)); bytes += b }
    mutating func string(_ s: String) { bytes(Array(s.utf8)) }
    mutating func strings(_ list: [String]) { array(list) { $0.string($1) } }

    mutating func array<T>(_ items: [T], _ each: (inout ByteWriter, T) -> Void) {
        u64(UInt64(items.count))
        for item in items { each(&self, item) }
    }

    mutating func optional<T>(_ value: T?, _ some: (inout ByteWriter, T) -> Void) {
        bool(value != nil)
        if let value { some(&self, value) }
    }

    mutating func container(_ c: ContainerSpec) {
        optional(c.hostname) { $0.string($1) }
        optional(c.namespaces) { $0.strings($1) }
        optional(c.rootfs) { $0.string($1) }
        optional(c.mounts) { w, mounts in
            w.array(mounts) { w, m in
                w.string(m.type); w.optional(m.source) { $0.string($1) }; w.string(m.destination); w.strings(m.options)
            }
        }
        optional(c.memory) { $0.u64($1) }
        optional(c.pids) { $0.u64(UInt64(bitPattern: Int64($1))) }
        optional(c.cpus) { $0.u64($1.bitPattern) }
        optional(c.rlimits) { w, limits in w.array(limits.sorted { $0.key < $1.key }) { $0.string($1.key); $0.u64($1.value) } }
        optional(c.uid) { $0.u64(UInt64($1)) }
        optional(c.gid) { $0.u64(UInt64($1)) }
        optional(c.env) { w, env in w.array(env) { $0.string($1.0); $0.string($1.1) } }
        optional(c.cwd) { $0.string($1) }
        optional(c.devices) { w, devices in
            w.array(devices) { w, d in
                w.string(d.path); w.string(d.type); w.u64(UInt64(d.major)); w.u64(UInt64(d.minor)); w.u64(UInt64(d.fileMode))
                w.optional(d.uid) { $0.u64(UInt64($1)) }; w.optional(d.gid) { $0.u64(UInt64($1)) }; w.string(d.access)
            }
        }
    }
}

/// Reads what `ByteWriter` wrote; every read is nil past the end or on a malformed field.
struct ByteReader {
    private var rest: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { rest = bytes }

    var atEnd: Bool { rest.isEmpty }

    mutating func raw(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, rest.count >= count else { return nil }
        defer { rest = rest.dropFirst(count) }
        return rest.prefix(count)
    }

    mutating func u64() -> UInt64? {
        raw(8).map { $0.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
    }

    mutating func bool() -> Bool? {
        guard let b = raw(1)?.first, b <= 1 else { return nil }
        return b == 1
    }

    mutating func bytes() -> [UInt8]? {
        guard let n = u64(), n <= UInt64(rest.count) else { return nil }
        return raw(Int(n)).map(Array.init)
    }

    mutating func string() -> String? { bytes().map { String(decoding: $0, as: UTF8.self) } }
    mutating func strings() -> [String]? { array { $0.string() } }

    mutating func array<T>(_ each: (inout ByteReader) -> T?) -> [T]? {
        guard let n = u64(), n <= UInt64(rest.count) else { return nil }
        var items: [T] = []
        for _ in 0..<n {
            guard let item = each(&self) else { return nil }
            items.append(item)
        }
        return items
    }

    /// Reads an optional value into `slot` (nil when absent); false when malformed. Into a
    /// slot, not as a T??: a nested optional's metadata is instantiated at run time, by name,
    /// which cost a launch a tenth of a millisecond.
    mutating func field<T>(_ slot: inout T?, _ some: (inout ByteReader) -> T?) -> Bool {
        guard let present = bool() else { return false }
        guard present else { slot = nil; return true }
        guard let value = some(&self) else { return false }
        slot = value
        return true
    }

    mutating func container() -> ContainerSpec? {
        var c = ContainerSpec()
        let id = { (r: inout ByteReader) in r.u64().flatMap { UInt32(exactly: $0) } }
        guard field(&c.hostname, { $0.string() }), field(&c.namespaces, { $0.strings() }), field(&c.rootfs, { $0.string() }),
              field(&c.mounts, { r in
                  r.array { r -> MountSpec? in
                      var source: String?
                      guard let type = r.string(), r.field(&source, { $0.string() }), let destination = r.string(),
                            let options = r.strings() else { return nil }
                      return MountSpec(type: type, source: source, destination: destination, options: options)
                  }
              }),
              field(&c.memory, { $0.u64() }),
              field(&c.pids, { r in r.u64().map { Int(Int64(bitPattern: $0)) } }),
              field(&c.cpus, { r in r.u64().map { Double(bitPattern: $0) } }),
              field(&c.rlimits, { r in
                  r.array { r -> (String, UInt64)? in
                      guard let key = r.string(), let value = r.u64() else { return nil }
                      return (key, value)
                  }.map { Dictionary($0, uniquingKeysWith: { a, _ in a }) }
              }),
              field(&c.uid, id), field(&c.gid, id),
              field(&c.env, { r in
                  r.array { r -> (String, String)? in
                      guard let key = r.string(), let value = r.string() else { return nil }
                      return (key, value)
                  }
              }),
              field(&c.cwd, { $0.string() }),
              field(&c.devices, { r in
                  r.array { r -> DeviceSpec? in
                      var uid: UInt32?, gid: UInt32?
                      guard let path = r.string(), let type = r.string(), let major = id(&r), let minor = id(&r), let mode = id(&r),
                            r.field(&uid, id), r.field(&gid, id), let access = r.string() else { return nil }
                      return DeviceSpec(path: path, type: type, major: major, minor: minor, fileMode: mode, uid: uid, gid: gid, access: access)
                  }
              }) else { return nil }
        return c
    }
}
