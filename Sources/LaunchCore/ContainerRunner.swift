import PolicyCore
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
    /// profile holding an audit program) every syscall the policy denies or logs is handed to
    /// it and then allowed; what it returns runs once the call is let go.
    public func run(tty: Bool = false, onDenied: ((SeccompNotification) -> () -> Void)? = nil) throws -> Int32 {
        // Nothing in the container (without a pid namespace it can see policyc) may read
        // policyc's memory through /proc. Rootless, policyc stays dumpable until it has written
        // the child's id maps: a non-dumpable clone's /proc files are root's, not the caller's.
        if !host.rootless { ProcessControl.makeNotDumpable() }
        // A signal that comes before the child is known is held for it, not fatal to policyc.
        ProcessControl.forwardSignals(to: 0)
        let terminal = tty ? try PseudoTerminal() : nil
        let cgroup = cgroup(for: profile.container)
        var options = self.options
        options.terminalFD = terminal?.slave
        options.audit = onDenied != nil
        options.cgroup = cgroup
        let initBinary = options.initProcess ? try Self.sealedInit() : nil
        defer { initBinary.map(System.close) }
        options.initBinaryFD = initBinary
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
        var cleaner: ProcessControl.Cleaner?
        if madeFirst, let cgroup { cleaner = try setUp(cgroup, limits: profile.container) }
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
            if !madeFirst, let cgroup { cleaner = try setUp(cgroup, limits: profile.container) }
            cleaner?.holdMountNamespace(of: child.pid)
            if planner.usesUserNamespace {
                try cgroup?.join(pid: child.pid)
                try writeIDMaps(child.pid)
            }
            ProcessControl.makeNotDumpable()
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
            // Nothing of the container outlives policyc's return. A name the caller chose is
            // free again by then; one of policyc's own goes with the cleaner, which wakes as
            // policyc exits (removing a v1 cgroup costs the caller a tenth of a millisecond).
            if options.name != nil { cgroup.remove() } else { cgroup.killLeftovers() }
        }
        return status.code
    }

    /// The container's cgroup, limits or not: it holds the device rules, and whatever is left
    /// in it goes when policyc does. nil rootless (no cgroup of the caller's to delegate).
    func cgroup(for container: ContainerSpec) -> ContainerCgroup? {
        if host.rootless {
            if container.memory != nil || container.pids != nil || container.cpus != nil {
                System.writeStderr("policyc: warning: running rootless; cgroup limits (memory, pids, cpus) are not applied\n")
            }
            return nil
        }
        return ContainerCgroup(name: ContainerCgroup.uniqueName(options.name), limits: container)
    }

    /// Tools/init/init.c's bytes in a sealed memfd: what `--init` execs as pid 1, so that
    /// nothing of policyc (memory, environment, executable) is reachable from it.
    static func sealedInit() throws -> Int32 {
        guard InitBinary.arch == System.machine() else {
            throw RunError(description: "--init: policyc's init is built for \(InitBinary.arch), not \(System.machine())")
        }
        return try System.sealedMemfd(name: "policyc-init", bytes: InitBinary.bytes)
    }

    /// Starts the cleaner first, so that the cgroup goes even if policyc is killed, then makes
    /// the cgroup with its limits.
    func setUp(_ cgroup: ContainerCgroup, limits container: ContainerSpec) throws -> ProcessControl.Cleaner {
        let cleaner = try ProcessControl.spawnCleaner(cgroupDirs: cgroup.directories, staleBases: ContainerCgroup.bases(layout: cgroup.layout))
        do {
            try cgroup.create(limits: container)
        } catch {
            cgroup.remove()
            throw RunError(description: "setting up the container's cgroup failed: \(error)")
        }
        return cleaner
    }

    /// Root inside maps to the caller's own id when rootless (setgroups denied first); run by
    /// root, the container's ids 0-65535 map to an unprivileged range (IDMapping), never to
    /// the host's root.
    func writeIDMaps(_ pid: Int32) throws(SystemError) {
        if host.rootless {
            try System.writeFile("/proc/\(pid)/setgroups", "deny")
            try System.writeFile("/proc/\(pid)/uid_map", "0 \(host.uid) 1")
            try System.writeFile("/proc/\(pid)/gid_map", "0 \(host.gid) 1")
        } else {
            let mapping = IDMapping.forRoot()
            try System.writeFile("/proc/\(pid)/uid_map", "0 \(mapping.uidBase) \(mapping.count)")
            try System.writeFile("/proc/\(pid)/gid_map", "0 \(mapping.gidBase) \(mapping.count)")
        }
    }
}
