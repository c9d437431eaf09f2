/// Which devices a container may open or create: everything is denied, then runc's usual
/// character devices and the policy's `container.devices` are allowed. The same rules go to the
/// v1 devices controller, the v2 device program, and the OCI `linux.resources.devices`.
public struct DeviceRule: Equatable, Sendable {
    /// "c" or "b".
    public var type: String
    /// nil: any.
    public var major: UInt32?
    public var minor: UInt32?
    /// Letters of "rwm".
    public var access: String

    public init(type: String, major: UInt32?, minor: UInt32?, access: String) {
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access
    }

    /// "c 1:3 rwm", as devices.allow takes it.
    public var cgroupLine: String { "\(type) \(major.map { "\($0)" } ?? "*"):\(minor.map { "\($0)" } ?? "*") \(access)" }
}

public enum DeviceRules {
    /// null, zero, full, random, urandom, tty, console, ptmx and the pty slaves (136:*).
    public static let usual: [DeviceRule] = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2)].map {
        DeviceRule(type: "c", major: $0.0, minor: $0.1, access: "rwm")
    } + [DeviceRule(type: "c", major: 136, minor: nil, access: "rwm")]

    public static func allowed(_ container: ContainerSpec) -> [DeviceRule] {
        usual + (container.devices ?? []).map { DeviceRule(type: $0.type, major: $0.major, minor: $0.minor, access: $0.access) }
    }
}
