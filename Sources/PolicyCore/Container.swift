/// What a container is given besides its filter: the policy's `container` section, as the
/// launch and the OCI outputs read it. Pure data, so that the launcher needs nothing more of
/// the compiler than these types.
public struct MountSpec: Sendable {
    public var type: String
    public var source: String?
    public var destination: String
    public var options: [String]

    public init(type: String, source: String?, destination: String, options: [String]) {
        self.type = type
        self.source = source
        self.destination = destination
        self.options = options
    }
}

/// A device the container may use (`container.devices`): OCI `linux.devices` with the
/// `linux.resources.devices` rule that allows it.
public struct DeviceSpec: Sendable, Equatable {
    public var path: String
    /// "c" or "b".
    public var type: String
    public var major: UInt32
    public var minor: UInt32
    public var fileMode: UInt32
    public var uid: UInt32?
    public var gid: UInt32?
    /// A subset of "rwm".
    public var access: String

    public init(path: String, type: String, major: UInt32, minor: UInt32, fileMode: UInt32 = 0o666, uid: UInt32? = nil, gid: UInt32? = nil, access: String = "rwm") {
        self.path = path
        self.type = type
        self.major = major
        self.minor = minor
        self.fileMode = fileMode
        self.uid = uid
        self.gid = gid
        self.access = access
    }
}

public struct ContainerSpec: Sendable {
    public var hostname: String?
    public var namespaces: [String]?
    public var rootfs: String?
    public var mounts: [MountSpec]?
    public var memory: UInt64?
    public var pids: Int?
    public var cpus: Double?
    public var rlimits: [String: UInt64]?
    public var uid: UInt32?
    public var gid: UInt32?
    public var env: [(String, String)]?
    public var cwd: String?
    public var devices: [DeviceSpec]?

    public init() {}

    public func overlaid(by other: ContainerSpec) -> ContainerSpec {
        var m = self
        m.hostname = other.hostname ?? hostname
        m.namespaces = other.namespaces ?? namespaces
        m.rootfs = other.rootfs ?? rootfs
        m.mounts = other.mounts ?? mounts
        m.memory = other.memory ?? memory
        m.pids = other.pids ?? pids
        m.cpus = other.cpus ?? cpus
        m.rlimits = other.rlimits ?? rlimits
        m.uid = other.uid ?? uid
        m.gid = other.gid ?? gid
        m.env = other.env ?? env
        m.cwd = other.cwd ?? cwd
        m.devices = other.devices ?? devices
        return m
    }
}
