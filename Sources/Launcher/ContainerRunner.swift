import PolicyCompiler
import PolicyModel
import SystemLayer

/// Launches a container under a compiled policy and supervises it until it exits.
public struct ContainerRunner {
    public let profile: RunProfile
    public let options: RunOptions
    public let host: HostFacts

    public init(profile: RunProfile, options: RunOptions, host: HostFacts = .current()) {
        self.profile = profile
        self.options = options
        self.host = host
    }

    public struct RunError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The container's exit status (128 + signal when killed). With `onDenied` (`--audit`, the
    /// profile holding an audit program) every syscall the policy denies is handed to it and
    /// then allowed.
    public func run(tty: Bool = false, onDenied: ((SeccompNotification) -> Void)? = nil) throws -> Int32 {
        let terminal = tty ? try PseudoTerminal() : nil
        let cgroup = cgroup(for: profile.container)
        var options = self.options
        options.terminalFD = terminal?.slave
        options.audit = onDenied != nil
        options.cgroup = cgroup
        let child = try start(LaunchPlanner(profile: profile, options: options, host: host), cgroup: cgroup)
        terminal?.closeSlave()
        ProcessControl.forwardSignals(to: child.pid)
        // An audit serves the listener on this thread until the container ends: the terminal
        // is relayed from another meanwhile.
        if onDenied != nil { try terminal?.startRelay() }
        if let failure = onDenied.map({ child.releaseAudited(onCall: $0) }) ?? child.release() {
            abandon(child, cgroup)
            terminal?.finishRelay()
            throw RunError(description: "container setup failed at step '\(failure.step)': \(failure)")
        }
        if onDenied != nil { terminal?.finishRelay() } else { terminal?.relay() }
        return finish(ProcessControl.wait(child.pid), cgroup: cgroup)
    }

    /// Clones the child with its cgroup made: on v2 first, so that clone3 starts the child
    /// inside; on v1 while the child mounts. Then the id maps of a user namespace.
    func start(_ planner: LaunchPlanner, cgroup: ContainerCgroup?) throws -> LaunchedChild {
        let steps = try planner.plan()
        let madeFirst = cgroup?.layout == .unified
        if madeFirst, let cgroup { try setUp(cgroup, limits: profile.container) }
        let child: LaunchedChild
        do {
            let cgroupFD = madeFirst ? try cgroup?.openForClone() : nil
            defer { cgroupFD.map(System.close) }
            child = try LaunchedChild(cloneFlags: planner.cloneFlags(), cgroupFD: cgroupFD, steps: steps)
        } catch {
            if madeFirst { cgroup?.remove() }
            throw error
        }
        do {
            if !madeFirst, let cgroup { try setUp(cgroup, limits: profile.container) }
            if planner.usesUserNamespace { try writeIDMaps(child.pid) }
        } catch {
            abandon(child, cgroup)
            throw RunError(description: "setting up the container failed: \(error)")
        }
        return child
    }

    /// Kills a child that will not run (usually gone already: an audited one may still wait
    /// for its listener to be taken) and removes its cgroup.
    func abandon(_ child: LaunchedChild, _ cgroup: ContainerCgroup?) {
        ProcessControl.kill(child.pid, 9)
        _ = ProcessControl.wait(child.pid)
        cgroup?.remove()
    }

    /// The status to exit with, after reporting an OOM kill and removing the cgroup.
    func finish(_ status: ExitStatus, cgroup: ContainerCgroup?) -> Int32 {
        if let cgroup {
            if status == .signaled(9), cgroup.oomKilled {
                System.writeStderr("policyc: the container was killed by the kernel's OOM killer (memory limit \(profile.container.memory ?? 0) bytes)\n")
            }
            cgroup.remove()
        }
        return status.code
    }

    /// The container's cgroup, or nil when the policy sets no limits or policyc runs rootless.
    func cgroup(for container: ContainerSpec) -> ContainerCgroup? {
        guard container.memory != nil || container.pids != nil || container.cpus != nil else { return nil }
        if host.rootless {
            System.writeStderr("policyc: warning: running rootless; cgroup limits (memory, pids, cpus) are not applied\n")
            return nil
        }
        return ContainerCgroup(name: "policyc-\(ProcessControl.pid())", limits: container)
    }

    /// Starts the cleaner first, so that the cgroup goes even if policyc is killed, then makes
    /// the cgroup with its limits.
    func setUp(_ cgroup: ContainerCgroup, limits container: ContainerSpec) throws {
        _ = try ProcessControl.spawnCleaner(cgroupDirs: cgroup.directories, staleBases: ContainerCgroup.bases(layout: cgroup.layout))
        do {
            try cgroup.create(limits: container)
        } catch {
            cgroup.remove()
            throw RunError(description: "setting up the container's cgroup failed: \(error)")
        }
    }

    /// Root inside maps to the caller: all of root's ids when run as root, the caller's own
    /// id when rootless (setgroups must be denied first).
    func writeIDMaps(_ pid: Int32) throws(SystemError) {
        if host.rootless {
            try System.writeFile("/proc/\(pid)/setgroups", "deny")
            try System.writeFile("/proc/\(pid)/uid_map", "0 \(host.uid) 1")
            try System.writeFile("/proc/\(pid)/gid_map", "0 \(host.gid) 1")
        } else {
            try System.writeFile("/proc/\(pid)/uid_map", "0 0 4294967295")
            try System.writeFile("/proc/\(pid)/gid_map", "0 0 4294967295")
        }
    }
}
