import PolicyCore
import SystemLayer

/// The container's cgroup: v2 (unified) when /sys/fs/cgroup is cgroup2, else the v1
/// controllers (memory, pids, cpu). Created before exec, removed after exit.
public struct ContainerCgroup: Sendable {
    public enum Layout: Equatable, Sendable { case unified, v1 }

    public let layout: Layout
    /// v1: the controller of each directory; empty on v2.
    public let controllers: [String]
    public let directories: [String]
    let name: String

    /// The v1 controllers policyc sets limits in; `devices` is always used.
    static let v1Controllers = ["memory", "pids", "cpu", "devices"]

    public static func detectLayout() -> Layout {
        System.exists("/sys/fs/cgroup/cgroup.controllers") ? .unified : .v1
    }

    /// On v1, only the controllers whose limits `container` sets.
    public init(name: String, limits container: ContainerSpec, layout: Layout = detectLayout()) {
        self.name = name
        self.layout = layout
        switch layout {
        case .unified:
            controllers = []
            directories = ["/sys/fs/cgroup/\(name)"]
        case .v1:
            let used = Set(Self.settings(container, layout: .v1).map(\.0) + ["devices"])
            controllers = Self.v1Controllers.filter { used.contains($0) && System.exists("/sys/fs/cgroup/" + $0) }
            directories = controllers.map { "/sys/fs/cgroup/\($0)/\(name)" }
        }
    }

    /// (file, value) pairs for the limits, per directory.
    public static func settings(_ container: ContainerSpec, layout: Layout) -> [(String, String, String)] {
        var out: [(String, String, String)] = []
        switch layout {
        case .unified:
            if let m = container.memory { out += [("", "memory.max", String(m)), ("", "memory.swap.max", "0")] }
            if let p = container.pids { out.append(("", "pids.max", String(p))) }
            if let c = container.cpus { out.append(("", "cpu.max", "\(Int((c * 100_000).rounded())) 100000")) }
        case .v1:
            if let m = container.memory { out.append(("memory", "memory.limit_in_bytes", String(m))) }
            if let p = container.pids { out.append(("pids", "pids.max", String(p))) }
            if let c = container.cpus { out += [("cpu", "cpu.cfs_period_us", "100000"), ("cpu", "cpu.cfs_quota_us", String(Int((c * 100_000).rounded())))] }
        }
        return out
    }

    func directory(for controller: String) -> String? {
        layout == .unified ? directories.first : controllers.firstIndex(of: controller).map { directories[$0] }
    }

    /// Makes the directories and writes the limits; the container joins later, itself.
    public func create(limits container: ContainerSpec) throws(SystemError) {
        if layout == .unified {
            // Controllers must be enabled for children of the root cgroup.
            try? System.writeFile("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids +cpu")
        }
        // Made exclusively: a name in use is never shared (EEXIST).
        for dir in directories { try System.makeDirectory(dir, exclusive: true) }
        if layout == .v1 { try limitDevices(container) } else { try filterDevices(container) }
        for (controller, file, value) in Self.settings(container, layout: layout) {
            guard let dir = directory(for: controller) else {
                throw SystemError("cgroup controller \(controller) not mounted", 2)
            }
            if file == "memory.swap.max", !System.exists("\(dir)/\(file)") { continue }
            try System.writeFile("\(dir)/\(file)", value)
        }
    }

    /// The devices controller: nothing but the allowed devices may be opened or made.
    func limitDevices(_ container: ContainerSpec) throws(SystemError) {
        guard let dir = directory(for: "devices") else { throw SystemError("cgroup controller devices not mounted (the container's devices cannot be limited)", 2) }
        let (deny, allow) = Self.deviceControllerLines(container)
        try System.writeFile("\(dir)/devices.deny", deny)
        for line in allow { try System.writeFile("\(dir)/devices.allow", line) }
    }

    /// v2 has no devices controller: a device program attached to the cgroup does its work.
    func filterDevices(_ container: ContainerSpec) throws(SystemError) {
        guard let dir = directories.first else { return }
        try Self.attachDeviceFilter(container, to: dir)
    }

    public static func attachDeviceFilter(_ container: ContainerSpec, to directory: String) throws(SystemError) {
        try System.attachDeviceProgram(DeviceProgram.bytes(DeviceRules.allowed(container)), toCgroup: directory)
    }

    /// A fresh name: random, so that two policyc (in different pid namespaces, say) never
    /// meet in one cgroup; `--name` gives one of the caller's.
    public static func uniqueName(_ requested: String? = nil) -> String {
        "policyc-" + (requested ?? System.randomHex(bytes: 8))
    }

    /// Moves `pid` in from outside (for a child in a user namespace, which may not write the
    /// host's cgroup files): v1's `tasks` takes the single thread, v2's cgroup.procs the process.
    public func join(pid: Int32) throws(SystemError) {
        for file in joinFiles { try System.writeFile(file, String(pid)) }
    }

    /// Where the child writes "0" to join: v1's `tasks` moves only the writing thread, which
    /// spares the global lock that `cgroup.procs` takes (see launch.c).
    public var joinFiles: [String] {
        directories.map { $0 + (layout == .unified ? "/cgroup.procs" : "/tasks") }
    }

    /// The v2 directory to clone straight into (CLONE_INTO_CGROUP); nil on v1.
    public func openForClone() throws(SystemError) -> Int32? {
        guard layout == .unified, let dir = directories.first else { return nil }
        return try System.openDirectory(dir)
    }

    /// Whether the kernel's OOM killer acted inside this cgroup.
    public var oomKilled: Bool {
        let file = layout == .unified ? directories.first.map { "\($0)/memory.events" } : directory(for: "memory").map { "\($0)/memory.oom_control" }
        guard let file, let text = System.readSmallFile(file) else { return false }
        return text.split(separator: "\n").contains { line in
            line.hasPrefix("oom_kill ") && line.split(separator: " ").last.flatMap { Int($0) }.map { $0 > 0 } == true
        }
    }

    /// Where the cgroups of every run live: the cleaner sweeps them for leftovers.
    public static func bases(layout: Layout = detectLayout()) -> [String] {
        layout == .unified ? ["/sys/fs/cgroup"] : v1Controllers.map { "/sys/fs/cgroup/\($0)" }
    }

    /// Kills what is left and removes the directories.
    public func remove() {
        for dir in directories {
            if layout == .unified { try? System.writeFile("\(dir)/cgroup.kill", "1") }
            for _ in 0..<200 {
                if System.removeDirectory(dir) { break }
                Self.killMembers(of: dir)
                System.sleep(milliseconds: 5)
            }
        }
    }

    /// Ends whatever the container left running (without a pid namespace, a background
    /// process), so that nothing of it outlives policyc's return, cgroup removed or not.
    public func killLeftovers() {
        for dir in directories {
            if layout == .unified { try? System.writeFile("\(dir)/cgroup.kill", "1") } else { Self.killMembers(of: dir) }
        }
    }

    static func killMembers(of dir: String) {
        guard let procs = System.readSmallFile("\(dir)/cgroup.procs") else { return }
        for pid in procs.split(separator: "\n").compactMap({ Int32($0) }) { ProcessControl.kill(pid, 9) }
    }
}
