import Yams

/// The `container` section (spec 5), used by `policyc run`.
struct ContainerParser {
    let reader: NodeReader

    static let keys = ["hostname", "namespaces", "rootfs", "mounts", "resources", "rlimits", "user", "env", "cwd", "devices"]
    static let namespaces = ["user", "pid", "mount", "uts", "ipc", "net", "cgroup", "time"]
    static let rlimits = [
        "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
        "rss", "rtprio", "rttime", "sigpending", "stack",
    ]

    func parse(_ node: Node) -> ContainerSpec {
        var spec = ContainerSpec()
        guard let entries = reader.mapping(node, "container", allowed: Self.keys) else { return spec }
        for (key, _, value) in entries {
            switch key {
            case "hostname": spec.hostname = reader.string(value, "container.hostname")?.value
            case "namespaces":
                let names = reader.strings(value, "container.namespaces") ?? []
                for name in names where !Self.namespaces.contains(name.value) {
                    reader.diagnostics.error(name.location, Suggest.unknown("namespace", name.value, among: Self.namespaces))
                }
                spec.namespaces = names.map(\.value)
            case "rootfs": spec.rootfs = reader.string(value, "container.rootfs")?.value
            case "mounts": spec.mounts = (reader.sequence(value, "container.mounts") ?? []).compactMap(parseMount)
            case "resources": parseResources(value, into: &spec)
            case "rlimits":
                guard let limits = reader.mapping(value, "container.rlimits", allowed: Self.rlimits) else { break }
                spec.rlimits = Dictionary(limits.compactMap { name, _, v in parseRlimit(v, name).map { (name, $0) } },
                                          uniquingKeysWith: { a, _ in a })
            case "user":
                guard let ids = reader.mapping(value, "container.user", allowed: ["uid", "gid"]) else { break }
                for (name, _, v) in ids {
                    let id = reader.number(v, "container.user.\(name)", max: UInt64(UInt32.max - 1)).map { UInt32($0.value) }
                    if name == "uid" { spec.uid = id } else { spec.gid = id }
                }
            case "env":
                guard case .mapping(let map) = value else {
                    reader.error(value, "container.env must be a mapping of NAME: value")
                    break
                }
                spec.env = map.compactMap { k, v in
                    guard let name = reader.string(k, "an environment name"), let text = reader.string(v, "an environment value") else { return nil }
                    return (name.value, text.value)
                }
            case "devices": spec.devices = (reader.sequence(value, "container.devices") ?? []).compactMap(parseDevice)
            case "cwd":
                if let cwd = reader.string(value, "container.cwd") {
                    if cwd.value.hasPrefix("/") { spec.cwd = cwd.value } else { reader.error(value, "container.cwd must be an absolute path") }
                }
            default: break
            }
        }
        return spec
    }

    private func parseMount(_ node: Node) -> MountSpec? {
        guard let entries = reader.mapping(node, "a mount", allowed: ["type", "source", "destination", "options"]) else { return nil }
        var type = "bind", source: String?, destination: String?, options: [String] = []
        for (key, _, value) in entries {
            switch key {
            case "type": type = reader.string(value, "mount type")?.value ?? type
            case "source": source = reader.string(value, "mount source")?.value
            case "destination": destination = reader.string(value, "mount destination")?.value
            default: options = (reader.strings(value, "mount options") ?? []).map(\.value)
            }
        }
        guard let destination, destination.hasPrefix("/") else {
            reader.error(node, "a mount needs an absolute 'destination'")
            return nil
        }
        return MountSpec(type: type, source: source, destination: destination, options: options)
    }

    /// A limit: a number of 0 or more, or `unlimited`.
    private func parseRlimit(_ node: Node, _ name: String) -> UInt64? {
        if case .scalar(let s) = node, s.string == "unlimited" { return .max }
        if case .scalar(let s) = node, s.string.hasPrefix("-") {
            reader.error(node, "rlimit \(name) must be 0 or more, or unlimited, found '\(s.string.prefix(40))'")
            return nil
        }
        return reader.number(node, "rlimit \(name)").map(\.value)
    }

    static let deviceKeys = ["path", "type", "major", "minor", "fileMode", "uid", "gid", "access"]

    /// `{path: /dev/fuse, type: c, major: 10, minor: 229}`, as OCI's linux.devices.
    private func parseDevice(_ node: Node) -> DeviceSpec? {
        guard let entries = reader.mapping(node, "a device", allowed: Self.deviceKeys) else { return nil }
        var path: String?, type: String?, major: UInt32?, minor: UInt32?, mode: UInt32 = 0o666, uid: UInt32?, gid: UInt32?, access = "rwm"
        var valid = true
        for (key, _, value) in entries {
            let id = { reader.number(value, "device \(key)", max: UInt64(UInt32.max - 1)).map { UInt32($0.value) } }
            switch key {
            case "path":
                guard let text = reader.string(value, "device path") else { valid = false; break }
                if text.value.hasPrefix("/dev/"), !text.value.split(separator: "/").contains("..") { path = text.value } else {
                    reader.error(value, "a device path must lie under /dev/, found '\(text.value.prefix(60))'")
                    valid = false
                }
            case "type":
                guard let text = reader.string(value, "device type") else { valid = false; break }
                if ["c", "b"].contains(text.value) { type = text.value } else {
                    reader.error(value, Suggest.unknown("device type", text.value, among: ["c", "b"]) + " (c: character, b: block)")
                    valid = false
                }
            case "major": major = reader.number(value, "device major", max: 4095).map { UInt32($0.value) }
            case "minor": minor = reader.number(value, "device minor", max: (1 << 20) - 1).map { UInt32($0.value) }
            case "fileMode": mode = reader.number(value, "device fileMode", max: 0o777).map { UInt32($0.value) } ?? mode
            case "uid": uid = id()
            case "gid": gid = id()
            default:
                guard let text = reader.string(value, "device access") else { valid = false; break }
                if !text.value.isEmpty, text.value.allSatisfy({ "rwm".contains($0) }) { access = text.value } else {
                    reader.error(value, "device access must be letters of rwm, found '\(text.value.prefix(20))'")
                    valid = false
                }
            }
        }
        guard let path, let type, let major, let minor, valid else {
            if valid { reader.error(node, "a device needs path, type, major and minor") }
            return nil
        }
        return DeviceSpec(path: path, type: type, major: major, minor: minor, fileMode: mode, uid: uid, gid: gid, access: access)
    }

    private func parseResources(_ node: Node, into spec: inout ContainerSpec) {
        guard let entries = reader.mapping(node, "container.resources", allowed: ["memory", "pids", "cpus"]) else { return }
        for (key, _, value) in entries {
            switch key {
            case "memory":
                if let text = reader.string(value, "memory") {
                    if let bytes = Self.parseSize(text.value) { spec.memory = bytes } else {
                        reader.error(value, "memory must be a size such as 256Mi, 1G or 1048576, found '\(text.value.prefix(40))'")
                    }
                }
            case "pids": spec.pids = reader.int(value, "pids", range: 1...4_194_304)
            default:
                if let text = reader.string(value, "cpus") {
                    // The kernel's CFS quota is at least 1 ms per 100 ms period.
                    if let cpus = Double(text.value), cpus >= 0.01, cpus <= 1024 { spec.cpus = cpus } else {
                        reader.error(value, "cpus must be a number of CPUs from 0.01 to 1024, found '\(text.value.prefix(40))'")
                    }
                }
            }
        }
    }

    /// `256Mi`, `1G`, `512k`, `1048576`.
    static func parseSize(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40),
            ("k", 1000), ("K", 1000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let n = UInt64(text.dropLast(suffix.count)), n > 0 else { return nil }
            let (product, overflow) = n.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
        return UInt64(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
