import PolicyCore

/// A device node the launch makes: runc's defaults and the policy's `container.devices`.
struct DeviceNode: Equatable {
    var path: String
    var type: String
    var major: UInt32
    var minor: UInt32
    var mode: UInt32
    var uid: UInt32?
    var gid: UInt32?

    init(path: String, type: String, major: UInt32, minor: UInt32, mode: UInt32, uid: UInt32?, gid: UInt32?) {
        self.path = path
        self.type = type
        self.major = major
        self.minor = minor
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }

    init?(_ device: DeviceSpec) {
        guard device.type == "c" || device.type == "b" else { return nil }
        self.init(path: device.path, type: device.type, major: device.major, minor: device.minor, mode: device.fileMode, uid: device.uid, gid: device.gid)
    }

    /// S_IFCHR or S_IFBLK.
    var typeBits: UInt32 { type == "b" ? 0o060000 : 0o020000 }

    /// "uid:gid" for mknod's chown, nil when root's.
    var owner: String? { uid == nil && gid == nil ? nil : "\(uid ?? 0):\(gid ?? 0)" }
}

extension ContainerCgroup {
    /// The v1 `devices` controller's lines: deny everything, then allow each rule.
    static func deviceControllerLines(_ container: ContainerSpec) -> (deny: String, allow: [String]) {
        ("a", DeviceRules.allowed(container).map(\.cgroupLine))
    }
}
