import PolicyCompiler
import PolicyModel
import SystemLayer

/// Launches a container under a compiled policy and supervises it until it exits.
public struct ContainerRunner {
    public let filter: CompiledFilter
    public let options: RunOptions
    public let host: HostFacts

    public init(filter: CompiledFilter, options: RunOptions, host: HostFacts = .current()) {
        self.filter = filter
        self.options = options
        self.host = host
    }

    public struct RunError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The container's exit status (128 + signal when killed).
    public func run(tty: Bool = false) throws -> Int32 {
        let terminal = tty ? try PseudoTerminal() : nil
        var options = self.options
        options.terminalFD = terminal?.slave
        let planner = LaunchPlanner(filter: filter, options: options, host: host)
        let flags = try planner.cloneFlags()
        let steps = try planner.plan()
        let container = filter.policy.container
        let wantsLimits = container.memory != nil || container.pids != nil || container.cpus != nil
        let cgroup = wantsLimits && !host.rootless ? ContainerCgroup(name: "policyc-\(ProcessControl.pid())") : nil
        if wantsLimits && host.rootless {
            System.writeStderr("policyc: warning: running rootless; cgroup limits (memory, pids, cpus) are not applied\n")
        }
        if cgroup != nil { ContainerCgroup.removeStale() }
        // Started first, so that the cgroup goes even if policyc is killed with SIGKILL.
        if let cgroup { _ = try ProcessControl.spawnCleaner(cgroupDirs: cgroup.directories) }
        let child = try LaunchedChild(cloneFlags: flags, steps: steps)
        do {
            if planner.usesUserNamespace { try writeIDMaps(child.pid) }
            try cgroup?.create(limits: container, pid: child.pid)
        } catch {
            ProcessControl.kill(child.pid, 9)
            _ = ProcessControl.wait(child.pid)
            cgroup?.remove()
            throw RunError(description: "setting up the container failed: \(error)")
        }
        terminal?.closeSlave()
        ProcessControl.forwardSignals(to: child.pid)
        if let failure = child.release() {
            _ = ProcessControl.wait(child.pid)
            cgroup?.remove()
            throw RunError(description: "container setup failed at step '\(failure.step)': \(failure)")
        }
        terminal?.relay()
        let status = ProcessControl.wait(child.pid)
        if let cgroup {
            if status == .signaled(9), cgroup.oomKilled {
                System.writeStderr("policyc: the container was killed by the kernel's OOM killer (memory limit \(container.memory ?? 0) bytes)\n")
            }
            cgroup.remove()
        }
        return status.code
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
