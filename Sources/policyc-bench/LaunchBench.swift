import Foundation
import SystemLayer

/// Start-to-exit of /bin/true from a static busybox rootfs with pid, mount, uts, ipc and net
/// namespaces and Docker's seccomp profile: policyc run (with v1/v2 memory and pids limits)
/// against runc run (same limits, from `policyc bundle`) and bwrap (no cgroups: it has none),
/// each spawned directly (posix_spawn, no shell or Foundation in between), in every order in turn,
/// medians and paired ratios.
enum LaunchBench {
    static let rounds = 120

    static func time(_ argv: [String], files: [Int32: String] = [:]) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        let status = ProcessControl.spawnAndWait(argv, files: files)
        if status != .exited(0) { FileHandle.standardError.write(Data("failed (\(status)): \(argv.joined(separator: " "))\n".utf8)) }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    static func shell(_ command: String) -> Double { time(["/bin/sh", "-c", command]) }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    /// Every order of `items`.
    static func permutations(_ items: [Int]) -> [[Int]] {
        guard items.count > 1 else { return [items] }
        return items.flatMap { first in permutations(items.filter { $0 != first }).map { [first] + $0 } }
    }

    /// The benchmark's container: a busybox rootfs, the policy, its filter for bwrap.
    struct Container {
        let work: String, rootfs: String, policy: String
        var bwrap: [String] {
            ["/usr/bin/bwrap", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-ipc", "--bind", rootfs, "/",
             "--proc", "/proc", "--dev", "/dev", "--seccomp", "9", "/bin/true"]
        }
        var filter: [Int32: String] { [9: work + "/bench.bpf"] }

        init(root: String, policyc: String) {
            work = NSTemporaryDirectory() + "policyc-bench-\(getpid())"
            rootfs = work + "/bundle/rootfs"
            policy = work + "/bench.yaml"
            try? FileManager.default.createDirectory(atPath: rootfs + "/bin", withIntermediateDirectories: true)
            for dir in ["proc", "dev", "sys", "tmp"] { try? FileManager.default.createDirectory(atPath: rootfs + "/" + dir, withIntermediateDirectories: true) }
            try? FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
            try? FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/true", withDestinationPath: "busybox")
            try? Data("""
                policyc: v1
                name: bench
                extends: [\(root)/Tests/Fixtures/corpus/seccomp/moby-default.json]
                container:
                  namespaces: [pid, mount, uts, ipc, net]
                  resources: { memory: 256Mi, pids: 128 }
                """.utf8).write(to: URL(fileURLWithPath: policy))
            _ = shell("\(policyc) compile \(policy) --format bpf -o \(work)/bench.bpf")
        }

        func run(_ policyc: String) -> [String] { [policyc, "run", "--policy", policy, "--rootfs", rootfs, "--", "/bin/true"] }

        func remove() { try? FileManager.default.removeItem(atPath: work) }
    }

    /// `policyc-bench ab A B`: two installations of policyc (directories holding policyc and
    /// policyc-full) and bwrap, in every order in turn, paired ratios: how a change to the
    /// launch is judged, since the machine's speed drifts more than most changes move it.
    static func compare(root: String, a: String, b: String, rounds: Int = 300) {
        let bench = Container(root: root, policyc: a + "/policyc")
        defer { bench.remove() }
        setenv("POLICYC_CACHE_DIR", bench.work + "/cache", 1)
        let commands: [(argv: [String], files: [Int32: String])] = [(bench.run(a + "/policyc"), [:]), (bench.run(b + "/policyc"), [:]), (bench.bwrap, bench.filter)]
        var times = [[Double]](repeating: [], count: 3)
        let orders = permutations(Array(0..<3))
        for i in 0..<(rounds + 3) {
            var took = [Double](repeating: 0, count: 3)
            for c in orders[i % orders.count] { took[c] = time(commands[c].argv, files: commands[c].files) }
            if i >= 3 { for c in 0..<3 { times[c].append(took[c]) } }
        }
        let ratio = { (x: Int, y: Int) in median(zip(times[x], times[y]).map { $0 / $1 }) }
        print(String(format: "A %.2f ms, B %.2f ms, bwrap %.2f ms (medians of %d); paired: A/bwrap %.3f, B/bwrap %.3f, B/A %.3f",
                     median(times[0]), median(times[1]), median(times[2]), rounds, ratio(0, 2), ratio(1, 2), ratio(1, 0)))
    }

    static func run(root: String) {
        let policyc = root + "/bin/policyc"
        guard FileManager.default.isExecutableFile(atPath: policyc),
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") else {
            print("launch benchmark skipped: needs bin/policyc, runc and bwrap (make bench installs them)")
            return
        }
        let bench = Container(root: root, policyc: policyc)
        defer { bench.remove() }
        let (work, rootfs, policy) = (bench.work, bench.rootfs, bench.policy)
        _ = shell("\(policyc) bundle \(policy) --rootfs rootfs -o \(work)/bundle -- /bin/true")
        // Round i's commands (runc's container name is new each round).
        let commands = { (i: Int) -> [(argv: [String], files: [Int32: String])] in [
            (bench.run(policyc), [:]),
            ([policyc, "run", "--no-cache", "--policy", policy, "--rootfs", rootfs, "--", "/bin/true"], [:]),
            (["/usr/sbin/runc", "run", "--bundle", work + "/bundle", "bench-\(getpid())-\(i)"], [:]),
            (bench.bwrap, bench.filter),
        ] }
        var times = [[Double]](repeating: [], count: 4)
        // A private profile cache, warmed by the first rounds; --no-cache shows what a first run costs.
        setenv("POLICYC_CACHE_DIR", work + "/cache", 1)
        // The kernel tears a container down partly after its launcher has exited (the network
        // namespace above all), at the cost of whatever starts next: each round takes the next
        // of the 24 orders, so that every launcher follows every other equally often.
        let orders = permutations(Array(0..<4))
        for i in 0..<(rounds + 3) {
            let round = commands(i)
            var took = [Double](repeating: 0, count: 4)
            for c in orders[i % orders.count] { took[c] = time(round[c].argv, files: round[c].files) }
            if i < 3 { continue }  // warm-up
            for c in 0..<4 { times[c].append(took[c]) }
        }
        let (ours, uncached, runc, bw) = (times[0], times[1], times[2], times[3])
        let toRunc = zip(ours, runc).map { $0 / $1 }, toBwrap = zip(ours, bw).map { $0 / $1 }
        print("launch /bin/true (busybox rootfs, pid+mount+uts+ipc+net namespaces, Docker's seccomp), \(rounds) rounds, each launcher after every other in turn:")
        print(String(format: "  policyc run  median %6.2f ms   (memory+pids cgroup; compiled profile from the cache)", median(ours)))
        print(String(format: "  policyc run  median %6.2f ms   (the same with --no-cache: parse and compile every time)", median(uncached)))
        print(String(format: "  runc run     median %6.2f ms   (memory+pids cgroup)", median(runc)))
        print(String(format: "  bwrap        median %6.2f ms   (no cgroups)", median(bw)))
        print(String(format: "  paired ratio policyc/runc median %.2f (target <= 0.30), policyc/bwrap median %.2f (target <= 1.00)", median(toRunc), median(toBwrap)))
        print("")
        AuditBench.run(root: root, policyc: policyc, work: work)
        ReviewBench.run(root: root, policyc: policyc, work: work)
    }
}
