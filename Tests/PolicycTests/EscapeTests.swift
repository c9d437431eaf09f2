import Foundation
import Launcher
import Testing

/// `policyc run` attacked as the CVEs of runc and crun attacked their containers (CI runs as
/// root). Each test fails on a policyc that lets the attack through.
@Suite(.serialized) struct EscapeTests {
    /// A busybox rootfs in a fresh directory, shaped by `prepare` (the caller removes it).
    func rootfs(_ prepare: (String) throws -> Void = { _ in }) throws -> String {
        let dir = try temporaryDirectory()
        try makeBusyboxRootfs(dir + "/rootfs")
        try prepare(dir + "/rootfs")
        return dir
    }

    func policy(_ body: String, in dir: String) throws -> String {
        let path = dir + "/attack.yaml"
        try Data("policyc: v1\nname: attack\nextends: [default]\n\(body)".utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func mknod(_ path: String, _ type: String, _ major: Int, _ minor: Int) throws {
        let (status, out) = try runTool("/usr/bin/mknod", ["-m", "666", path, type, "\(major)", "\(minor)"])
        #expect(status == 0, "\(out)")
    }

    /// A shell command line run by /bin/sh, so that descriptors past 2 can be handed down.
    func shell(_ line: String) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", line]
        process.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        return try runCapturing(process)
    }

    func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    // MARK: 1. devices

    /// mknod of a block device (a host loop device) is refused by the device cgroup, and a
    /// 0666 block or kmsg node shipped in the image opens nothing (the rootfs is nodev).
    @Test(arguments: ["default", "strict"])
    func deviceNodesReachNoHostDevice(_ name: String) throws {
        let dir = try rootfs { r in
            try mknod(r + "/blk", "b", 7, 0)
            try mknod(r + "/kmsg", "c", 1, 11)
            // Where strict's Landlock rule lets it run.
            try FileManager.default.createDirectory(atPath: r + "/usr/bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: r + "/usr/bin/busybox")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["run", "--policy", Paths.policies + "/\(name).yaml", "--lsm-optional", "--rootfs", dir + "/rootfs", "--"]
        for node in ["/blk", "/kmsg"] {
            let (status, _, err) = try runPolicyc(base + ["/usr/bin/busybox", "dd", "if=\(node)", "of=/dev/null", "bs=512", "count=1"])
            #expect(status != 0 && err.contains("can't open '\(node)': Permission denied"), "\(name): \(node) opened: \(err)")
        }
        guard name == "default" else { return }
        let script = "busybox mknod /b b 7 0; echo mknod=$?; busybox mknod /dev/n c 1 3 && echo x > /dev/n; echo n=$?; echo x > /dev/null; echo null=$?"
        let (_, out, err) = try runPolicyc(base + ["/bin/sh", "-c", script])
        #expect(out.contains("mknod=1") && err.contains("Operation not permitted"), "\(out)\(err)")
        #expect(out.contains("n=1") && err.contains("can't create /dev/n: Permission denied") && out.contains("null=0"), "\(out)\(err)")
    }

    /// A device the policy names exists with exactly the access it grants (fuse opened for
    /// reading, not for writing); the host's others (kvm, kmsg) are absent.
    @Test func containerDevicesGrantWhatTheyName() throws {
        let dir = try rootfs()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try policy("container:\n  devices: [{path: /dev/fuse, type: c, major: 10, minor: 229, access: r, fileMode: 0o644}]\n", in: dir)
        let script = "busybox true < /dev/fuse; echo read=$?; busybox true > /dev/fuse; echo write=$?; busybox ls /dev/kvm /dev/kmsg; echo absent=$?"
        let (status, out, err) = try runPolicyc(["run", "--policy", path, "--rootfs", dir + "/rootfs", "--", "/bin/sh", "-c", script])
        #expect(status == 0, "\(err)")
        #expect(out.contains("read=0") && out.contains("write=1") && err.contains("can't create /dev/fuse: Operation not permitted") && out.contains("absent=1"), "\(out)\(err)")
    }

    // MARK: every shipped policy, every mode

    enum Mode: String, CaseIterable, Sendable { case plain, initProcess, tty, noPidNamespace, rootless }

    struct PolicyMode: CustomStringConvertible, Sendable {
        var policy: String
        var mode: Mode
        var description: String { "\(policy) \(mode.rawValue)" }
    }

    static let policyModes = ["default", "strict", "webserver", "batch"].flatMap { p in Mode.allCases.map { PolicyMode(policy: p, mode: $0) } }

    /// Tests/Fixtures/attacker/attacker.c built once (libc-free, static) for every test that runs
    /// it: the binary's path, and gcc's status and output.
    static let attacker = buildLibcFree("attacker/attacker.c", name: "attacker")

    /// A copy of the attacker at `path`.
    func installAttacker(_ path: String) throws {
        try #require(Self.attacker.status == 0, "\(Self.attacker.log)")
        try FileManager.default.copyItem(atPath: Self.attacker.path, toPath: path)
    }

    /// The attacker sees what it should where nothing stops it: run on the host under a parent
    /// holding the secret, with fd 7 open, as root.
    @Test func attackerDetectsWhatItLooksFor() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try installAttacker(dir + "/attacker")
        let (_, out, err) = try shell("POLICYC_SECRET=hunter2 /bin/sh -c '\(dir)/attacker; true' 7</")
        #expect(out == "fd=leaked\ncgroup=writable\nsecret=leaked\ntty=none\n", "\(out)\(err)")
    }

    /// The attacks a workload can try from inside under any policy — a descriptor the caller
    /// left open, the host's cgroup limits, policyc's (or its init's) environment, the caller's
    /// terminal — fail under every shipped policy, with --init, with --tty, without a pid
    /// namespace and rootless, on a rootfs holding what each policy names. Rootless, a policy
    /// naming a container user other than root cannot start (only root is mapped), and says so.
    @Test(arguments: policyModes)
    func attacksFailUnderEveryPolicyAndMode(_ c: PolicyMode) throws {
        let dir = try rootfs { r in
            for d in ["usr/bin", "usr/sbin", "etc", "var/www", "var/log/nginx", "var/cache/nginx", "run", "tmp", "data/in", "data/out"] {
                try FileManager.default.createDirectory(atPath: r + "/" + d, withIntermediateDirectories: true)
            }
            try installAttacker(r + "/usr/bin/attacker")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        // As documented: a rootfs used in a user namespace belongs to the mapped range, or
        // rootless to the caller.
        let userNamespace = c.policy == "batch"
        let mapping = IDMapping.forRoot()
        let owner = c.mode == .rootless ? "nobody:nogroup" : userNamespace ? "\(mapping.uidBase):\(mapping.gidBase)" : nil
        if let owner {
            let (status, out) = try runTool("/bin/chown", ["-R", owner, dir + "/rootfs"])
            #expect(status == 0, "\(out)")
        }
        var policy = Paths.policies + "/\(c.policy).yaml"
        if c.mode == .noPidNamespace {
            policy = dir + "/nopid.yaml"
            let namespaces = userNamespace ? "[user, mount, uts, ipc, net]" : "[mount, uts, ipc, net]"
            try Data("policyc: v1\nname: nopid\nextends: [\(c.policy)]\ncontainer:\n  namespaces: \(namespaces)\n".utf8).write(to: URL(fileURLWithPath: policy))
        }
        var binary = Paths.binary
        if c.mode == .rootless {
            binary = try installPolicyc(into: dir)
        }
        let flags = ["--lsm-optional", "--rootfs", dir + "/rootfs"] + (c.mode == .initProcess ? ["--init"] : []) + (c.mode == .tty ? ["--tty"] : [])
        var line = "POLICYC_SECRET=hunter2 exec \(binary) run --policy \(policy) \(flags.joined(separator: " ")) -- /usr/bin/attacker 7</"
        if c.mode == .rootless { line = "exec /usr/sbin/runuser -u nobody -- /bin/sh -c \(quoted("cd /tmp && " + line))" }
        let (status, out, err) = try shell(line)
        if userNamespace && c.mode == .noPidNamespace {
            #expect(status == 1 && err.contains("needs a pid namespace too"), "\(c): \(err)")
            return
        }
        if c.mode == .rootless && ["strict", "batch"].contains(c.policy) {
            #expect(status == 1 && err.contains("not mapped in the container's user namespace"), "\(c): \(err)")
            return
        }
        #expect(status == 0, "\(c): \(err)")
        let words = out.split(whereSeparator: \.isWhitespace).map(String.init)
        #expect(words == ["fd=closed", "cgroup=ro", "secret=absent", c.mode == .tty ? "tty=own" : "tty=none"], "\(c): \(out)\(err)")
    }

    // MARK: 2. descriptors (CVE-2024-21626)

    @Test func leakedDescriptorDoesNotReachTheContainer() throws {
        let dir = try rootfs()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inside = "cd /proc/self/fd/7 && busybox touch escaped; busybox ls /proc/self/fd | busybox tr '\\n' ' '; pwd"
        let (_, out, err) = try shell("exec \(Paths.binary) run --rootfs \(dir)/rootfs -- /bin/sh -c \(quoted(inside)) 7<\(dir)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/escaped"), "wrote through the inherited descriptor")
        #expect(out == "0 1 2 3 /\n", "\(out)\(err)")
        // --preserve-fds N keeps 3 … 2+N, as runc's does, and nothing past them.
        let kept = "busybox cat <&3; busybox ls /proc/self/fd/4 2>&1"
        let (_, out2, err2) = try shell("exec \(Paths.binary) run --preserve-fds 1 --rootfs \(dir)/rootfs -- /bin/sh -c \(quoted(kept)) 3</etc/hostname 4<\(dir)")
        let hostname = try String(contentsOfFile: "/etc/hostname", encoding: .utf8)
        #expect(out2.hasPrefix(hostname) && out2.contains("No such file"), "\(out2)\(err2)")
    }

    // MARK: 3. terminal

    /// TIOCSTI into the caller's terminal: without a session of its own the container typed a
    /// command that the caller's shell read after policyc ended.
    @Test func containerCannotTypeIntoTheCallersTerminal() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inject = #"for (split //, "echo INJECTED\n") { ioctl(STDIN, 0x5412, $_) or do { print "sti: $!\n"; last } }"#
        let script = """
            \(Paths.binary) run -- /usr/bin/perl -e \(quoted(inject)); cut -d' ' -f7 /proc/self/stat
            read -t 1 line; echo "got=$line"
            """
        try Data(script.utf8).write(to: URL(fileURLWithPath: dir + "/sti.sh"))
        let (_, out) = try runTool("/usr/bin/script", ["-qec", "bash \(dir)/sti.sh", "/dev/null"])
        #expect(out.contains("sti: Operation not permitted") && out.contains("got=\r") && !out.contains("got=echo"), "\(out)")
        // The control: the same ioctl from outside a container reaches the terminal.
        try Data(script.replacingOccurrences(of: "\(Paths.binary) run -- ", with: "").utf8).write(to: URL(fileURLWithPath: dir + "/sti.sh"))
        let (_, control) = try runTool("/usr/bin/script", ["-qec", "bash \(dir)/sti.sh", "/dev/null"])
        // (The ioctl succeeds; whether the shell's read wins the race with script's EOF varies.)
        #expect(control.contains("INJECTED") && !control.contains("sti:"), "\(control)")
    }

    // MARK: 4. read-only at every depth

    /// Without a net namespace /sys is the host's: its cgroup tree stays read-only, so the
    /// container neither raises its own limit nor moves itself to the root cgroup.
    @Test func hostCgroupTreeIsReadOnlyWithoutANetNamespace() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try policy("container:\n  namespaces: [pid, mount, uts, ipc]\n  resources: {pids: 50}\n", in: dir)
        let script = """
            c=$(grep :pids: /proc/self/cgroup | cut -d: -f3); echo 1000 > /sys/fs/cgroup/pids$c/pids.max; echo raise=$?
            echo $$ > /sys/fs/cgroup/memory/cgroup.procs; echo move=$?; cat /sys/fs/cgroup/pids$c/pids.max
            grep ' /sys' /proc/self/mountinfo | grep -vc ' ro,'; echo end
            """
        let (status, out, err) = try runPolicyc(["run", "--policy", path, "--", "/bin/sh", "-c", script], cwd: "/tmp")
        #expect(status == 0, "\(err)")
        #expect(out == "raise=2\nmove=2\n50\n0\nend\n", "\(out)\(err)")
    }

    // MARK: 6. mount targets

    struct MountCase: CustomStringConvertible, Sendable {
        var description: String
        var link: (at: String, to: String)?
        var mount: String
    }

    static let mountCases: [MountCase] = [
        MountCase(description: "symlinked directory", link: ("data", "HOST"), mount: "{type: tmpfs, destination: /data/sub}"),
        MountCase(description: "symlinked file", link: ("etc/resolv.conf", "HOST/file"), mount: "{type: bind, source: /etc/hostname, destination: /etc/resolv.conf}"),
        MountCase(description: "dot-dot destination", link: nil, mount: "{type: tmpfs, destination: /../../../HOST/up}"),
    ]

    /// What a target names is looked up inside the rootfs: the host directory the image's
    /// links (or `..`) point at is never touched, whether the mount then fails or lands inside.
    @Test(arguments: mountCases)
    func mountTargetsStayInTheRootfs(_ c: MountCase) throws {
        let host = try temporaryDirectory()
        let dir = try rootfs { r in
            try FileManager.default.createDirectory(atPath: r + "/etc", withIntermediateDirectories: true)
            if let link = c.link { try FileManager.default.createSymbolicLink(atPath: r + "/" + link.at, withDestinationPath: link.to.replacingOccurrences(of: "HOST", with: host)) }
        }
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: host) }
        let path = try policy("container:\n  mounts: [\(c.mount.replacingOccurrences(of: "HOST", with: String(host.dropFirst())))]\n", in: dir)
        let (status, _, err) = try runPolicyc(["run", "--policy", path, "--rootfs", dir + "/rootfs", "--", "/bin/busybox", "true"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: host).isEmpty, "made on the host: \(err)")
        #expect(status == 0 || err.contains("container setup failed at step 'mount"), "status \(status): \(err)")
    }

    /// A bind over a link to a FIFO neither hangs the setup nor opens the FIFO.
    @Test func mountOverAFIFODoesNotHang() throws {
        let dir = try rootfs { r in
            #expect(mkfifo(r + "/pipe", 0o600) == 0)
            try FileManager.default.createSymbolicLink(atPath: r + "/fifo", withDestinationPath: "/pipe")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try policy("container:\n  mounts: [{type: bind, source: /etc/hostname, destination: /fifo, options: [ro]}]\n", in: dir)
        let (status, out, err) = try runPolicyc(["run", "--policy", path, "--rootfs", dir + "/rootfs", "--", "/bin/busybox", "cat", "/pipe"])
        let hostname = try String(contentsOfFile: "/etc/hostname", encoding: .utf8)
        #expect(status == 0 && out == hostname, "\(out)\(err)")
    }

    // MARK: 7. Landlock

    /// `lib -> /` in the image would turn a rule on /lib into one on /: refused, with a hint.
    @Test func landlockRuleOnASymlinkIsRefused() throws {
        let dir = try rootfs { r in
            try FileManager.default.createSymbolicLink(atPath: r + "/lib", withDestinationPath: "/")
            try FileManager.default.createDirectory(atPath: r + "/secret", withIntermediateDirectories: true)
            try Data("KEY\n".utf8).write(to: URL(fileURLWithPath: r + "/secret/key"))
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try policy("filesystem:\n  read: [/lib]\n  exec: [/bin]\n", in: dir)
        let (status, out, err) = try runPolicyc(["run", "--policy", path, "--rootfs", dir + "/rootfs", "--", "/bin/busybox", "cat", "/secret/key"])
        #expect(status == 1 && !out.contains("KEY"), "\(out)")
        #expect(err.contains("landlock rule for /lib") && err.contains("symbolic link"), "\(err)")
    }

    // MARK: 8. cgroups

    /// Two policyc, each pid 1 of its own pid namespace (the old name policyc-PID was the
    /// same for both): each container keeps its own cgroup and limit.
    @Test func cgroupsOfPolicycInSeparatePidNamespacesAreDistinct() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try policy("container:\n  resources: {pids: 32}\n", in: dir)
        let second = dir + "/second.yaml"
        try Data("policyc: v1\nname: second\nextends: [default]\ncontainer:\n  resources: {pids: 64}\n".utf8).write(to: URL(fileURLWithPath: second))
        let line = "unshare -pf \(Paths.binary) run --policy \(first) -- /bin/sh -c 'cat /sys/fs/cgroup/pids/pids.max; sleep 1; cat /sys/fs/cgroup/pids/pids.max' & sleep 0.3; "
            + "unshare -pf \(Paths.binary) run --policy \(second) -- /bin/cat /sys/fs/cgroup/pids/pids.max; wait"
        let (status, out, err) = try shell(line)
        #expect(status == 0, "\(err)")
        #expect(out == "32\n64\n32\n", "\(out)\(err)")
    }

    /// A setsid'd background process of a container without limits or pid namespace dies
    /// with the container when policyc is killed: every container has a cgroup.
    @Test func orphanDiesWhenPolicycIsKilled() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try policy("container:\n  namespaces: [mount, uts, ipc, net]\n", in: dir)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.binary)
        // Without a pid namespace the orphan's pid is the host's.
        process.arguments = ["run", "--policy", path, "--", "/bin/sh", "-c", "setsid sh -c 'echo orphan=$$; exec sleep 31' & sleep 0.2; echo ready; exec sleep 30"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var output = ""
        while !output.contains("ready") {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            output += String(decoding: data, as: UTF8.self)
        }
        let pid = try #require(output.split(separator: "\n").first { $0.hasPrefix("orphan=") }.flatMap { Int32($0.dropFirst(7)) }, "\(output)")
        func orphanRuns() -> Bool { (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) == "sleep\n" }
        #expect(orphanRuns(), "the background process never ran")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        var gone = false
        for _ in 0..<100 where !gone {
            gone = !orphanRuns()
            if !gone { usleep(50_000) }
        }
        #expect(gone, "the orphan outlived policyc")
        if !gone { kill(pid, SIGKILL) }
    }

    /// When the container's first process ends, what it left running (no pid namespace, a
    /// setsid'd process holding none of policyc's pipes) is killed: checked as soon as policyc
    /// has returned, it is gone, a zombie, or has SIGKILL pending. (policyc kills it before
    /// returning, and its cleaner would as policyc exits; this cannot tell the two apart.)
    @Test func orphanDiesWhenTheContainerEnds() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try policy("container:\n  namespaces: [mount, uts, ipc, net]\n", in: dir)
        let (status, out, err) = try runPolicyc(["run", "--policy", path, "--", "/bin/sh", "-c", "setsid sh -c 'echo orphan=$$; exec sleep 31 >/dev/null 2>&1' & sleep 0.2"])
        let pid = try #require(out.split(separator: "\n").first { $0.hasPrefix("orphan=") }.flatMap { Int32($0.dropFirst(7)) }, "\(out)")
        #expect(status == 0, "\(err)")
        #expect(Self.isDyingOrGone(pid), "the background process outlived policyc's return")
        kill(pid, SIGKILL)
    }

    /// Gone, a zombie, or SIGKILL pending (bit 9 of SigPnd/ShdPnd): ending, whoever is faster.
    static func isDyingOrGone(_ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return true }
        let fields = Dictionary(status.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }, uniquingKeysWith: { a, _ in a })
        if let state = fields["State"], state.hasPrefix("Z") || state.hasPrefix("X") { return true }
        return ["SigPnd", "ShdPnd"].contains { (fields[$0].flatMap { UInt64($0, radix: 16) } ?? 0) & 0x100 != 0 }
    }

    // MARK: 9. user namespace as root

    /// Root inside is an unprivileged id outside: a file it makes on the rootfs is not root's.
    /// As with runc, the rootfs belongs to the mapped range (or container root cannot write it).
    @Test func userNamespaceRootIsNotHostRoot() throws {
        let mapping = IDMapping.forRoot()
        let dir = try rootfs { r in
            let (status, out) = try runTool("/bin/chown", ["-R", "\(mapping.uidBase):\(mapping.gidBase)", r])
            #expect(status == 0, "\(out)")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try policy("container:\n  namespaces: [user, pid, mount, uts, ipc, net, cgroup]\n", in: dir)
        let (status, out, err) = try runPolicyc(["run", "--policy", path, "--rootfs", dir + "/rootfs", "--", "/bin/sh", "-c", "busybox cat /proc/self/uid_map; busybox id -u; busybox touch /made"])
        #expect(status == 0, "\(err)")
        let fields = out.split(whereSeparator: \.isWhitespace)
        #expect(fields.count == 4 && fields[0] == "0" && (UInt32(fields[1]) ?? 0) >= 65536 && fields[3] == "0", "\(out)")
        let owner = try FileManager.default.attributesOfItem(atPath: dir + "/rootfs/made")[.ownerAccountID] as? Int
        #expect(owner.map { $0 >= 65536 } == true && owner.map(String.init) == fields.dropFirst().first.map(String.init), "owned by \(owner ?? -1)")
    }

    /// A rootfs under a directory only the host's root may enter cannot be reached by container
    /// root in a user namespace: the launch fails closed, and says why.
    @Test func unsearchableRootfsUnderUserNamespaceIsExplained() throws {
        let dir = try rootfs { _ in }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try policy("container:\n  namespaces: [user, pid, mount, uts, ipc, net]\n", in: dir)
        #expect(chmod(dir, 0o700) == 0)
        let (status, out, err) = try runPolicyc(["run", "--policy", path, "--rootfs", dir + "/rootfs", "--", "/bin/echo", "ran"])
        #expect(status == 1 && out.isEmpty, "\(status) \(out)")
        #expect(err.contains("cannot search a directory on the way") && err.contains("chown the rootfs"), "\(err)")
    }

    // MARK: 5. policyc's memory, environment and executable

    /// With --init or without, with a pid namespace or without, nothing in the container reads
    /// policyc's (or its init's) environment or memory, or writes policyc's executable.
    @Test(arguments: [(true, true), (true, false), (false, false), (false, true)])
    func policycIsOutOfReach(initProcess: Bool, pidNamespace: Bool) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try policy(pidNamespace ? "" : "container:\n  namespaces: [mount, uts, ipc, net]\n", in: dir)
        let depth = (initProcess ? 1 : 0) + (pidNamespace ? 0 : 1)
        // policyc and its init, where the container can see them: each line a count of
        // what was read (the secret, a byte of memory, a byte of the executable), then comm.
        let script = """
            check() { tr '\\0' '\\n' < /proc/$1/environ 2>/dev/null | grep -c POLICYC_SECRET; dd if=/proc/$1/mem bs=1 count=1 skip=4194304 2>/dev/null | wc -c
              head -c1 /proc/$1/exe 2>/dev/null | wc -c; cat /proc/$1/comm; }
            p=$PPID; n=0; while [ "$p" -gt 0 ] && [ $n -lt \(depth) ]; do check $p; n=$((n+1)); [ "$p" = 1 ] && break; p=$(grep PPid /proc/$p/status | cut -f2); done
            """
        let args = ["run"] + (initProcess ? ["--init"] : []) + ["--policy", path, "--", "/bin/sh", "-c", script]
        let (status, out, err) = try runPolicyc(args, cwd: "/tmp", environment: ["POLICYC_SECRET": "hunter2"])
        #expect(status == 0, "\(err)")
        let lines = out.split(separator: "\n")
        // The runtime is policyc-full where the profile was not in the cache yet.
        let names = lines.filter { Int($0) == nil }.map { $0 == "policyc-full" ? "policyc" : $0 }
        let expected: [Substring] = (initProcess ? ["policyc-init"] : []) + (pidNamespace ? [] : ["policyc"])
        #expect(names == expected && lines.allSatisfy { Int($0) == nil || $0 == "0" }, "\(out)")
    }

    // MARK: 11, 12. host view, loopback

    @Test func hostSecretsAreMaskedAndLoopbackIsUp() throws {
        let (status, out, err) = try runPolicyc(["run", "--", "/bin/sh", "-c", "wc -c < /etc/shadow; wc -c < /etc/gshadow; cat /sys/class/net/lo/flags"], cwd: "/tmp")
        #expect(status == 0, "\(err)")
        #expect(out == "0\n0\n0x9\n", "\(out)")
    }
}

/// The same attacks against Debian's runc, given the bundle `policyc bundle` writes for the
/// same policy: the comparison in Docs/run.md is measured here, not remembered.
@Suite(.serialized) struct RuncEscapeTests {
    /// A bundle of `policy` around a busybox rootfs shaped by `prepare`; runc runs `script`.
    func runcRun(policy: String = Paths.policies + "/default.yaml", script: String, prepare: (String) throws -> Void = { _ in },
                 shellPrefix: String = "", redirect: String = "", bundleFlags: [String] = []) throws -> (Int32, String) {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try makeBusyboxRootfs(dir + "/rootfs")
        for sub in ["proc", "dev", "sys", "tmp"] { try FileManager.default.createDirectory(atPath: dir + "/rootfs/" + sub, withIntermediateDirectories: true) }
        try prepare(dir + "/rootfs")
        let (status, _, err) = try runPolicyc(["bundle", policy, "--rootfs", "rootfs", "-o", dir] + bundleFlags + ["--", "/bin/busybox", "sh", "-c", script])
        #expect(status == 0, "\(err)")
        let id = "policyc-escape-\(getpid())"
        defer { _ = try? runTool("/usr/sbin/runc", ["delete", "-f", id]) }
        return try runTool("/bin/sh", ["-c", "cd \(dir) && \(shellPrefix)/usr/sbin/runc run \(id) \(redirect)"])
    }

    /// runc opens its exec fifo and lists /proc/self/fd after loading the filter: the bundle of
    /// a policy that denies those calls still starts, and the policy still holds after them.
    @Test(arguments: ["default", "strict"])
    func shippedBundleStartsUnderRunc(name: String) throws {
        let (status, out) = try runcRun(policy: Paths.policies + "/\(name).yaml", script: "echo started; echo x > /tmp/new; echo create=$?",
                                        bundleFlags: ["--lsm-optional"])
        #expect(status == 0 && out.contains("started"), "\(out)")
        // strict opens nothing for writing (its rootfs is read-only under default too).
        if name == "strict" { #expect(out.contains("create=1") && out.contains("Operation not permitted"), "\(out)") }
    }

    /// The same on a policy for x86_64 and x86: the call runc makes is allowed on both ABIs, on
    /// x86 as its 32-bit arguments read (one JSON rule set), and the warning points at the rule.
    @Test func bundleForTwoABIsStartsUnderRunc() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let policy = dir + "/x86.yaml"
        try Data("policyc: v1\nname: x86\nseccomp:\n  defaultAction: allow\n  architectures: [x86_64, x86]\n  syscalls:\n    - names: [openat]\n      action: errno(EACCES)\n".utf8)
            .write(to: URL(fileURLWithPath: policy))
        let (_, _, err) = try runPolicyc(["bundle", policy, "--rootfs", dir, "-o", dir + "/b"])
        #expect(err.contains("x86.yaml:7:7: warning: the bundle's filter allows openat"), "\(err)")
        let (status, out) = try runcRun(policy: policy, script: "echo started; busybox cat /etc/hostname; echo read=$?")
        #expect(status == 0 && out.contains("started") && out.contains("read=1") && out.contains("Permission denied"), "\(out)")
    }

    @Test func runcRefusesHostDevices() throws {
        let script = "busybox dd if=/blk of=/dev/null bs=512 count=1; echo blk=$?; busybox mknod /tmp/b b 7 0; busybox dd if=/tmp/b of=/dev/null bs=512 count=1; echo made=$?"
        let (_, out) = try runcRun(script: script) { r in
            let (status, out) = try runTool("/usr/bin/mknod", ["-m", "666", r + "/blk", "b", "7", "0"])
            #expect(status == 0, "\(out)")
        }
        // runc lets mknod through (its rules allow "b *:* m") and refuses the open.
        #expect(out.contains("blk=1") && out.contains("made=1") && out.contains("Operation not permitted"), "\(out)")
    }

    @Test func runcClosesInheritedDescriptors() throws {
        let (_, out) = try runcRun(script: "cd /proc/self/fd/7 && echo ESCAPED; busybox ls /proc/self/fd | busybox tr '\\n' ' '", redirect: "7</")
        #expect(!out.contains("ESCAPED") && out.contains("0 1 2 3 "), "\(out)")
    }

    @Test func runcGivesANewSessionWithoutTerminal() throws {
        let (_, out) = try runcRun(script: "busybox cut -d' ' -f6,7 /proc/self/stat; busybox cat /dev/tty")
        // runc may warn on the same stream first (cgroups, when other containers start beside it).
        #expect(out.split(separator: "\n").contains("1 0") && out.contains("No such device or address"), "\(out)")
    }

    @Test func runcKeepsTheCgroupTreeReadOnlyWithoutANetNamespace() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let policy = dir + "/nonet.yaml"
        try Data("policyc: v1\nname: nonet\nextends: [default]\ncontainer:\n  namespaces: [pid, mount, uts, ipc]\n  resources: {pids: 50}\n".utf8).write(to: URL(fileURLWithPath: policy))
        let script = "echo 1 > /sys/fs/cgroup/pids/pids.max; echo raise=$?; echo $$ > /sys/fs/cgroup/memory/cgroup.procs; echo move=$?; busybox grep ' /sys' /proc/self/mountinfo | busybox grep -vc ' ro,'"
        let (_, out) = try runcRun(policy: policy, script: script)
        #expect(out.contains("raise=1") && out.contains("move=1") && out.hasSuffix("0\n"), "\(out)")
    }
}

/// `filesystem.deny` inside a granted path: Landlock only grants, so policyc run masks the
/// denied paths (an empty file or directory), with or without AppArmor.
@Suite struct DenyInsideGrantTests {
    @Test func deniedPathsInsideAGrantAreMasked() throws {
        let (dir, policy) = try policyFile("""
            policyc: v1
            name: deny
            extends: [default]
            filesystem:
              read: [/]
              write: [/tmp]
              exec: [/usr]
              deny: [/etc/passwd, /usr/share/doc]
            """, named: "deny.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, out, err) = try runPolicyc(["run", "--policy", policy, "--", "/bin/sh", "-c",
                                                  "wc -c < /etc/passwd; ls -A /usr/share/doc | wc -l; wc -c < /etc/hostname | tr -d '\\n'; echo"])
        let lines = out.split(separator: "\n")
        #expect(status == 0 && lines.count == 3 && lines[0] == "0" && lines[1] == "0" && lines[2] != "0", "\(out)\(err)")
    }
}
