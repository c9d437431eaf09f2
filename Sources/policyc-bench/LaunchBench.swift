import Foundation
import SystemLayer

/// Start-to-exit of /bin/true from a static busybox rootfs with pid, mount, uts, ipc and net
/// namespaces and Docker's seccomp profile: policyc run (with v1/v2 memory and pids limits)
/// against runc run (same limits, from `policyc bundle`) and bwrap (no cgroups: it has none),
/// each spawned directly (posix_spawn, no shell or Foundation in between), interleaved, medians
/// and paired ratios.
enum LaunchBench {
    static let rounds = 100

    static func time(_ argv: [String], files: [Int32: String] = [:]) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        let status = ProcessControl.spawnAndWait(argv, files: files)
        if status != .exited(0) { FileHandle.standardError.write(Data("failed (\(status)): \(argv.joined(separator: " "))\n".utf8)) }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    static func shell(_ command: String) -> Double { time(["/bin/sh", "-c", command]) }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    static func run(root: String) {
        let policyc = root + "/bin/policyc"
        guard FileManager.default.isExecutableFile(atPath: policyc),
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap") else {
            print("launch benchmark skipped: needs bin/policyc, runc and bwrap (make bench installs them)")
            return
        }
        let work = NSTemporaryDirectory() + "policyc-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let rootfs = work + "/bundle/rootfs"
        try? FileManager.default.createDirectory(atPath: rootfs + "/bin", withIntermediateDirectories: true)
        for dir in ["proc", "dev", "sys", "tmp"] { try? FileManager.default.createDirectory(atPath: rootfs + "/" + dir, withIntermediateDirectories: true) }
        try? FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        try? FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/true", withDestinationPath: "busybox")
        let policy = work + "/bench.yaml"
        try? Data("""
            policyc: v1
            name: bench
            extends: [\(root)/Tests/Fixtures/corpus/seccomp/moby-default.json]
            container:
              namespaces: [pid, mount, uts, ipc, net]
              resources: { memory: 256Mi, pids: 128 }
            """.utf8).write(to: URL(fileURLWithPath: policy))
        _ = shell("\(policyc) compile \(policy) --format bpf -o \(work)/bench.bpf")
        _ = shell("\(policyc) bundle \(policy) --rootfs rootfs -o \(work)/bundle -- /bin/true")
        let bwrap = ["/usr/bin/bwrap", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-ipc", "--bind", rootfs, "/",
                     "--proc", "/proc", "--dev", "/dev", "--seccomp", "9", "/bin/true"]
        var ours: [Double] = [], runc: [Double] = [], bw: [Double] = [], uncached: [Double] = []
        var toRunc: [Double] = [], toBwrap: [Double] = []
        // A private profile cache, warmed by the first rounds; --no-cache shows what a first run costs.
        setenv("POLICYC_CACHE_DIR", work + "/cache", 1)
        for i in 0..<(rounds + 3) {
            let a = time([policyc, "run", "--policy", policy, "--rootfs", rootfs, "--", "/bin/true"])
            let d = time([policyc, "run", "--no-cache", "--policy", policy, "--rootfs", rootfs, "--", "/bin/true"])
            let b = time(["/usr/sbin/runc", "run", "--bundle", work + "/bundle", "bench-\(getpid())-\(i)"])
            let c = time(bwrap, files: [9: work + "/bench.bpf"])
            if i < 3 { continue }  // warm-up
            ours.append(a); runc.append(b); bw.append(c); uncached.append(d)
            toRunc.append(a / b); toBwrap.append(a / c)
        }
        print("launch /bin/true (busybox rootfs, pid+mount+uts+ipc+net namespaces, Docker's seccomp), \(rounds) interleaved rounds:")
        print(String(format: "  policyc run  median %6.2f ms   (memory+pids cgroup; compiled profile from the cache)", median(ours)))
        print(String(format: "  policyc run  median %6.2f ms   (the same with --no-cache: parse and compile every time)", median(uncached)))
        print(String(format: "  runc run     median %6.2f ms   (memory+pids cgroup)", median(runc)))
        print(String(format: "  bwrap        median %6.2f ms   (no cgroups)", median(bw)))
        print(String(format: "  paired ratio policyc/runc median %.2f (target <= 0.30), policyc/bwrap median %.2f (target <= 1.00)", median(toRunc), median(toBwrap)))
    }
}
