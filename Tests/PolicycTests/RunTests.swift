import Foundation
import Launcher
import PolicyCompiler
import PolicyModel
import SystemLayer
import Testing

/// `policyc run`: the launch order without root, then real containers checked from inside.
@Suite(.serialized) struct RunTests {
    static let fakeHost = HostFacts(landlockABI: 7, enabledLSMs: [], rootless: false, uid: 0, gid: 0,
                                    isDirectory: { ["/tmp", "/proc/acpi", "/sys/firmware"].contains($0) },
                                    symlinkTarget: { $0 == "/bin" ? "usr/bin" : nil },
                                    exists: { ["/usr", "/etc", "/bin"].contains($0) },
                                    isExecutable: { $0 == "/usr/bin/env" })

    /// The kind of each step, to compare orders.
    static func kind(_ step: LaunchStep) -> String {
        switch step {
        case .mount, .mkdir, .symlink, .touch, .mask, .mknod, .openRoot, .setAttributes: return "mounts"
        case .pivotRoot: return "pivot_root"
        case .chdir: return "chdir"
        case .sethostname: return "hostname"
        case .setrlimit: return "rlimits"
        case .dropBoundingCapabilities: return "bounding"
        case .setgroupsEmpty: return "setgroups"
        case .setgid: return "setgid"
        case .keepCapabilities: return "keepcaps"
        case .setuid: return "setuid"
        case .capset: return "capset"
        case .raiseAmbient: return "ambient"
        case .noNewPrivileges: return "no_new_privs"
        case .landlockCreate, .landlockPath, .landlockPort, .landlockRestrict: return "landlock"
        case .writeFile: return "lsm"
        case .seccomp: return "seccomp"
        case .exec: return "exec"
        case .initProcess: return "init"
        case .terminal: return "terminal"
        case .joinCgroup: return "join cgroup"
        case .unshare: return "unshare"
        case .awaitParent: return "wait"
        case .closeInheritedDescriptors: return "close fds"
        case .newSession: return "setsid"
        case .loopbackUp: return "lo up"
        case .dumpable(let on): return on ? "dumpable" : "not dumpable"
        }
    }

    @Test func launchSequenceIsInTheDocumentedOrder() throws {
        let filter = try #require(compile(path: Paths.policies + "/webserver.yaml").0)
        var limits = ContainerSpec()
        limits.pids = 10
        var options = RunOptions(command: ["env"], lsmOptional: true)
        options.cgroup = ContainerCgroup(name: "x", limits: limits, layout: .v1)
        let planner = LaunchPlanner(filter: filter, options: options, host: Self.fakeHost)
        var order: [String] = []
        for step in try planner.plan() where order.last != Self.kind(step) { order.append(Self.kind(step)) }
        // Nothing of policyc's (memory, descriptors, session) reaches the setup; webserver has
        // a network namespace, whose loopback comes up.
        #expect(order == ["not dumpable", "close fds", "lo up", "mounts", "wait", "join cgroup", "unshare", "mounts", "pivot_root", "chdir", "hostname", "rlimits", "setsid", "bounding", "setgroups", "setgid",
                          "keepcaps", "setuid", "capset", "no_new_privs", "landlock", "seccomp", "exec"])
        guard case .exec(let path, let argv, _) = try planner.plan().last else { Issue.record("no exec"); return }
        #expect(path == "/usr/bin/env" && argv == ["env"])
        // On v2 the cgroup is made before clone3 puts the child in it: no wait; the join stays
        // for kernels without clone3. /sys/fs/cgroup inside is the container's cgroup, read-only.
        options.cgroup = ContainerCgroup(name: "x", limits: limits, layout: .unified)
        let v2 = try LaunchPlanner(filter: filter, options: options, host: Self.fakeHost).plan()
        #expect(!v2.contains(.awaitParent) && v2.contains(.joinCgroup("/sys/fs/cgroup/x/cgroup.procs")))
        #expect(v2.contains(.mount(source: "/sys/fs/cgroup/x", target: "/tmp/sys/fs/cgroup", fstype: nil, flags: 4096 | 16384, data: nil, optional: false)))
        #expect(v2.contains(.setAttributes("/tmp/sys/fs/cgroup", set: 0x7, clear: 0)))
        // The cgroup namespace is unshared after the join, not cloned.
        #expect(planner.cloneFlags() == 0x0002_0000 | 0x2000_0000 | 0x0400_0000 | 0x0800_0000 | 0x4000_0000)
        #expect(try planner.plan().first(where: { Self.kind($0) == "unshare" }) == .unshare(flags: 0x0200_0000))
    }

    @Test func cgroupSettingsForBothLayouts() {
        var spec = ContainerSpec()
        spec.memory = 256 << 20
        spec.pids = 64
        spec.cpus = 0.5
        let v2 = ContainerCgroup.settings(spec, layout: .unified).map { "\($0.1)=\($0.2)" }
        #expect(v2 == ["memory.max=268435456", "memory.swap.max=0", "pids.max=64", "cpu.max=50000 100000"])
        let v1 = ContainerCgroup.settings(spec, layout: .v1).map { "\($0.0)/\($0.1)=\($0.2)" }
        #expect(v1 == ["memory/memory.limit_in_bytes=268435456", "pids/pids.max=64", "cpu/cpu.cfs_period_us=100000", "cpu/cpu.cfs_quota_us=50000"])
        #expect(ContainerCgroup(name: "x", limits: spec, layout: .unified).directories == ["/sys/fs/cgroup/x"])
        spec.cpus = nil
        #expect(ContainerCgroup(name: "x", limits: spec, layout: .v1).directories == ["/sys/fs/cgroup/memory/x", "/sys/fs/cgroup/pids/x", "/sys/fs/cgroup/devices/x"])
        // The device rules need a cgroup even when the policy sets no limit.
        #expect(ContainerCgroup(name: "x", limits: ContainerSpec(), layout: .v1).directories == ["/sys/fs/cgroup/devices/x"])
    }

    /// A filter that denies execve compiles (with a warning): a container never starts under
    /// it, and `run` refuses it before any clone.
    @Test func filterDenyingExecveIsFlagged() throws {
        let (compiled, bag) = compile(text: "policyc: v1\nname: nothing\n")
        #expect(compiled != nil)
        #expect(bag.items.contains { $0.message.contains("answers execve with errno(EPERM)") })
        let profile = RunProfile(try #require(compiled))
        #expect(throws: PlanError.self) { try LaunchPlanner(profile: profile, options: RunOptions(command: ["true"]), host: RunTests.fakeHost).plan() }
    }

    @Test func missingLandlockOrLSMFailsClosed() throws {
        var host = Self.fakeHost
        host.landlockABI = 2
        let webserver = try #require(compile(path: Paths.policies + "/webserver.yaml").0)
        // webserver asks for AppArmor and SELinux, which this host lacks.
        #expect(throws: PlanError.self) { try LaunchPlanner(filter: webserver, options: RunOptions(command: ["env"]), host: host).plan() }
        let degraded = LaunchPlanner(filter: webserver, options: RunOptions(command: ["env"], lsmOptional: true), host: host)
        // Landlock below the minimum ABI but required: false: runs with what there is.
        let steps = try degraded.plan()
        #expect(steps.contains(LaunchStep.landlockRestrict))
        let strictText = "policyc: v1\nname: s\nextends: [default]\nfilesystem: {read: [/usr]}\nlandlock: {minimumAbi: 4}\n"
        let strict = try #require(compile(text: strictText).0)
        #expect(throws: PlanError.self) { try LaunchPlanner(filter: strict, options: RunOptions(command: ["env"]), host: host).plan() }
    }

    // MARK: real containers (CI runs as root)

    func runContainer(_ arguments: [String], as user: String? = nil) throws -> (Int32, String, String) {
        if let user {
            return try runPolicycAs(user, arguments)
        }
        return try runPolicyc(arguments, cwd: "/tmp")
    }

    @Test func insideTheDefaultContainer() throws {
        let script = "echo pid=$$; ls /proc | grep -c '^[0-9]'; cat /proc/sys/kernel/hostname; stat -c '%F %a %t:%T %n' /dev/null /dev/urandom; grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status; busybox unshare -n true; echo unshare=$?; wc -c < /proc/timer_list; echo x > /proc/sys/kernel/domainname; echo rosys=$?"
        let (status, out, err) = try runContainer(["run", "--", "/bin/sh", "-c", script])
        #expect(status == 0, "\(err)")
        for line in ["pid=1\n", "policyc\n", "character special file 666 1:3 /dev/null\n", "character special file 666 1:9 /dev/urandom\n", "CapEff:\t00000000a80425fb", "CapBnd:\t00000000a80425fb", "CapAmb:\t0000000000000000",
                     "Seccomp:\t2", "NoNewPrivs:\t1", "unshare=1", "rosys=2"] {
            #expect(out.contains(line), "\(line) in\n\(out)\n\(err)")
        }
        let lines = out.split(separator: "\n")
        #expect(Int(lines[1]) ?? 99 <= 4, "host processes visible: \(lines[1])")
        #expect(lines.contains("0"), "masked /proc/timer_list not empty:\n\(out)")
        #expect(err.contains("Operation not permitted"), "\(err)")
    }

    @Test func busyboxRootfsIsTheRoot() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try makeBusyboxRootfs(dir)
        let (status, out, err) = try runContainer(["run", "--rootfs", dir, "--", "/bin/sh", "-c", "busybox ls /; busybox ls /usr 2>&1; busybox hostname"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("bin\ndev\nproc\nsys\n"), "\(out)")
        #expect(out.contains("No such file or directory"), "\(out)")
    }

    @Test func ociBundleGivesRootfsAndCommand() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try makeBusyboxRootfs(dir + "/rootfs")
        let (written, _, werr) = try runPolicyc(["bundle", Paths.policies + "/default.yaml", "--rootfs", "rootfs", "-o", dir, "--",
                                                 "/bin/busybox", "sh", "-c", "busybox ls /; echo in-bundle"])
        #expect(written == 0, "\(werr)")
        let (status, out, err) = try runContainer(["run", "--bundle", dir])
        #expect(status == 0, "\(err)")
        #expect(out.contains("in-bundle") && !out.contains("usr\n"), "\(out)")
    }

    @Test func exitStatusAndForwardedSignals() throws {
        let (status, _, _) = try runContainer(["run", "--", "/bin/sh", "-c", "exit 7"])
        #expect(status == 7)
        #expect(try statusAfterSIGTERM(["run", "--", "/bin/sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done"]) == 42)
    }

    /// With --init the command is not pid 1: a signal it sends itself kills it, orphans are
    /// reaped, and SIGTERM reaches a command that has no handler.
    @Test func initReapsAndForwards() throws {
        let (status, out, err) = try runContainer(["run", "--init", "--", "/bin/sh", "-c", "echo pid=$$; (sleep 0.1 &); kill -TERM $$; sleep 5"])
        #expect(status == 128 + 15, "\(out) \(err)")
        #expect(!out.contains("pid=1\n") && out.contains("pid=2"), "\(out)")
        // SIGTERM as soon as the command runs: the init holds it from before its exec (a pid 1
        // without a handler would have it dropped); repeated, since losing it was a race.
        for _ in 0..<10 {
            #expect(try statusAfterSIGTERM(["run", "--init", "--", "/bin/sh", "-c", "echo ready; exec sleep 30"]) == 128 + 15)
        }
    }

    @Test func ttyGivesATerminal() throws {
        let (status, out, err) = try runContainer(["run", "--tty", "--", "/bin/sh", "-c", "test -t 0 && test -t 1 && echo tty-ok; stty size; echo done"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("tty-ok") && out.contains("done"), "\(out)")
        let (plain, _, _) = try runContainer(["run", "--", "/bin/sh", "-c", "test -t 0 || echo no-tty"])
        #expect(plain == 0)
    }

    static let limited = """
        policyc: v1
        name: limited
        extends: [default]
        container:
          resources: { memory: 32Mi, pids: 24 }

        """

    func limitedPolicy() throws -> (String, String) {
        try policyFile(Self.limited, named: "limited.yaml")
    }

    /// A container name of this test's own (`--name`), so that other suites' containers
    /// running meanwhile do not count.
    func testName() -> String { "test-" + UUID().uuidString.prefix(8).lowercased() }

    /// The cgroup directories of container `name` that still exist.
    func leftoverCgroups(_ name: String) -> [String] {
        ["memory", "pids", "cpu", "devices", "unified", ""].map { "/sys/fs/cgroup/\($0)/policyc-\(name)" }
            .filter { FileManager.default.fileExists(atPath: $0) }
    }

    @Test func memoryLimitEndsInAnOOMKill() throws {
        let (dir, policy) = try limitedPolicy()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = testName()
        let (status, _, err) = try runContainer(["run", "--name", name, "--policy", policy, "--", "/bin/sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"])
        #expect(status == 137, "\(err)")
        #expect(err.contains("OOM killer"), "\(err)")
        #expect(leftoverCgroups(name).isEmpty)
    }

    /// The child joins its cgroup, then gets a cgroup namespace rooted there: inside, its cgroup
    /// is "/", and /sys/fs/cgroup shows its limits, read-only.
    @Test func containerSeesItsOwnCgroupAsRoot() throws {
        let (dir, policy) = try limitedPolicy()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = testName()
        let limits = "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max"
        let script = "cat /proc/self/cgroup; \(limits); echo x > /sys/fs/cgroup/pids/pids.max || echo read-only"
        let (status, out, err) = try runContainer(["run", "--name", name, "--policy", policy, "--", "/bin/sh", "-c", script])
        #expect(status == 0, "\(err)")
        #expect(out.contains("\n24\n33554432\n") && out.hasSuffix("read-only\n"), "the limits at /sys/fs/cgroup:\n\(out)\(err)")
        let lines = out.split(separator: "\n")
        let controllers = lines.filter { $0.contains(":memory:") || $0.contains(":pids:") || $0.hasPrefix("0::") }
        #expect(!controllers.isEmpty && controllers.allSatisfy { $0.hasSuffix(":/") }, "\(out)")
        #expect(!out.contains("policyc-"), "the host's cgroup path shows inside:\n\(out)")
        #expect(leftoverCgroups(name).isEmpty)
    }

    /// `time` in container.namespaces: a new time namespace (clone3), not the host's.
    @Test func timeNamespaceWhenAsked() throws {
        let (dir, policy) = try policyFile("policyc: v1\nname: timens\nextends: [default]\ncontainer:\n  namespaces: [pid, mount, uts, ipc, net, cgroup, time]\n", named: "t.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/time")
        let (status, out, err) = try runContainer(["run", "--policy", policy, "--", "/bin/sh", "-c", "ls -l /proc/self/ns/time; cat /proc/uptime"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("time:[") && !out.contains(host), "host \(host), inside:\n\(out)")
    }

    @Test func pidsLimitStopsAForkBomb() throws {
        let (dir, policy) = try limitedPolicy()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = testName()
        let (status, out, err) = try runContainer(["run", "--name", name, "--policy", policy, "--", "/bin/sh", "-c", "n=0; for i in $(seq 1 100); do sleep 1 & n=$((n+1)); done; echo started=$n"])
        #expect(status != 0 || !out.contains("started=100"), "\(out) \(err)")
        #expect(err.contains("fork"), "\(err)")
        #expect(leftoverCgroups(name).isEmpty)
    }

    /// Without no_new_privs an unprivileged process may not load a filter: it goes in while the
    /// container still has CAP_SYS_ADMIN, and the user it runs as is under it all the same.
    @Test func filterHoldsWithoutNoNewPrivilegesForANonRootUser() throws {
        let (dir, policy) = try policyFile("policyc: v1\nname: nnp\nextends: [default]\nnoNewPrivileges: false\ncontainer:\n  user: {uid: 65534, gid: 65534}\n", named: "nnp.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, out, err) = try runContainer(["run", "--policy", policy, "--", "/bin/sh", "-c", "grep -E '^(Uid|Seccomp|NoNewPrivs)' /proc/self/status; busybox unshare -U true; echo unshare=$?"])
        #expect(status == 0, "\(err)")
        for line in ["Uid:\t65534\t65534", "Seccomp:\t2", "NoNewPrivs:\t0", "unshare=1"] {
            #expect(out.contains(line), "\(line) in\n\(out)\n\(err)")
        }
    }

    @Test func landlockDeniesWritesOutsideWritePaths() throws {
        let (dir, policy) = try policyFile("policyc: v1\nname: ll\nextends: [default]\nfilesystem:\n  read: [/usr, /etc]\n  write: [/tmp]\n  exec: [/usr/bin]\n", named: "ll.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, out, err) = try runContainer(["run", "--policy", policy, "--", "/bin/sh", "-c", "echo a > /tmp/a && echo tmp-ok; echo b > /dev/shm/b; echo shm=$?"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("tmp-ok") && out.contains("shm=2") && err.contains("Permission denied"), "\(out) \(err)")
    }

    /// A child that fails a step before it waits is dead by the time it is let go: the
    /// write to its closed sync pipe may not kill policyc with SIGPIPE (which once ended a run
    /// silently with status 141), and the step it reported is what release() returns.
    @Test func childThatFailedBeforeWaitingIsReported() throws {
        let child = try LaunchedChild(cloneFlags: 0, steps: [.writeFile("/nonexistent/policyc-test", value: "1"), .awaitParent, .exec(path: "/bin/true", argv: ["true"], env: [])])
        var info = siginfo_t()
        #expect(waitid(P_PID, id_t(child.pid), &info, WEXITED | WNOWAIT) == 0)
        let failure = try #require(child.release(), "a failed step reported as an exec")
        #expect(failure.step.contains("/nonexistent/policyc-test") && failure.errno == ENOENT, "\(failure)")
        #expect(ProcessControl.wait(child.pid) == .exited(127))
    }

    @Test func nothingIsLeftAfterPolicycIsKilled() throws {
        let (dir, policy) = try limitedPolicy()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let marker = "policyc-kill-\(getpid())", name = testName()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.binary)
        process.arguments = ["run", "--name", name, "--policy", policy, "--", "/bin/sh", "-c", "echo ready; exec sleep 30 \(marker)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        _ = pipe.fileHandleForReading.availableData
        #expect(!leftoverCgroups(name).isEmpty)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        var clean = false
        for _ in 0..<100 where !clean {
            clean = leftoverCgroups(name).isEmpty
            if !clean { usleep(50_000) }
        }
        #expect(clean, "\(leftoverCgroups(name))")
        let (_, ps) = try runTool("/bin/ps", ["-eo", "args"])
        #expect(!ps.contains(marker), "\(ps)")
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains("/tmp/proc"), "container mounts leaked into the host")
    }

    /// A cgroup of an earlier run whose policyc and cleaner both died goes with the next
    /// run's cleaner once it is over a minute old; a fresh one (a run still setting up) stays.
    @Test func staleCgroupsOfDeadRunsAreSwept() throws {
        let (dir, policy) = try limitedPolicy()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stale = "/sys/fs/cgroup/pids/" + ContainerCgroup.uniqueName()
        let fresh = "/sys/fs/cgroup/pids/" + ContainerCgroup.uniqueName()
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: false)
        defer { rmdir(fresh); rmdir(stale) }
        let (touched, _) = try runTool("/usr/bin/touch", ["-d", "10 minutes ago", stale])
        #expect(touched == 0)
        let (status, _, err) = try runContainer(["run", "--policy", policy, "--", "/bin/true"])
        #expect(status == 0, "\(err)")
        var swept = false
        for _ in 0..<100 where !swept {
            swept = !FileManager.default.fileExists(atPath: stale)
            if !swept { usleep(20_000) }
        }
        #expect(swept, "\(stale) is still there")
        #expect(FileManager.default.fileExists(atPath: fresh))
    }

    /// The nodes policyc makes have their exact modes whatever the caller's umask (they are
    /// made under umask 0), and the container still gets the caller's umask.
    @Test func deviceNodesHaveTheirModeWhateverTheUmask() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try makeBusyboxRootfs(dir + "/rootfs")
        let inside = "busybox stat -c %a /dev/null /dev/zero /dev/tty; umask"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "umask 077; exec \(Paths.binary) run --rootfs \(dir)/rootfs -- /bin/sh -c '\(inside)'"]
        let (status, out, err) = try runCapturing(process)
        #expect(status == 0, "\(err)")
        #expect(out == "666\n666\n666\n0077\n", "\(out)")
    }

    @Test func rootlessAsNobody() throws {
        let (status, out, err) = try runContainer(["run", "--", "/bin/sh", "-c", "id -u; cat /proc/self/uid_map"], as: "nobody")
        #expect(status == 0, "\(err)")
        #expect(out.hasPrefix("0\n") && out.contains("65534"), "\(out)")
        #expect(err.contains("cgroup limits") && err.contains("not applied"), "\(err)")
    }
}

/// Starts policyc, waits for the container's first output, sends policyc SIGTERM.
func statusAfterSIGTERM(_ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Paths.binary)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    _ = pipe.fileHandleForReading.availableData
    process.terminate()
    process.waitUntilExit()
    return process.terminationStatus
}

/// A root filesystem of one static busybox, with `sh` linked to it.
func makeBusyboxRootfs(_ dir: String) throws {
    try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: dir + "/bin/busybox")
    try FileManager.default.createSymbolicLink(atPath: dir + "/bin/sh", withDestinationPath: "busybox")
}

/// Runs policyc as another user (runuser, from util-linux), from a copy that user can reach
/// wherever the checkout lives.
func runPolicycAs(_ user: String, _ arguments: [String]) throws -> (Int32, String, String) {
    let dir = NSTemporaryDirectory() + "policyc-as-\(user)-\(getpid())"
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try installPolicyc(into: dir)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
    process.arguments = ["-u", user, "--", dir + "/policyc"] + arguments
    process.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
    return try runCapturing(process)
}
