import Foundation
import SystemLayer

/// The cost of auditing: Tests/Fixtures/workloads/known-calls.c makes 100 000 getppid calls
/// that the policy denies, run under `policyc run --audit` (with and without a record file) and
/// plainly (the filter answers them without policyc); the difference per call is what one
/// reported call costs. Allowed calls cost the filter only (no notification).
enum AuditBench {
    static let calls = 100_000.0

    static func run(root: String, policyc: String, work: String) {
        let rootfs = work + "/audit-rootfs"
        try? FileManager.default.createDirectory(atPath: rootfs, withIntermediateDirectories: true)
        let flags = ["-Os", "-static", "-nostdlib", "-nostartfiles", "-ffreestanding", "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
                     "-fno-pie", "-no-pie", "-I", root + "/Tools/init", "-o", rootfs + "/known-calls", root + "/Tests/Fixtures/workloads/known-calls.c"]
        guard ProcessControl.spawnAndWait(["/usr/bin/gcc"] + flags) == .exited(0) else { print("audit: gcc failed"); return }
        let policy = work + "/audit.yaml"
        try? Data("policyc: v1\nname: audit-bench\nseccomp:\n  defaultAction: allow\n  syscalls:\n    - names: [getppid]\n      action: errno(EPERM)\ncontainer:\n  namespaces: [mount, uts, ipc]\n".utf8)
            .write(to: URL(fileURLWithPath: policy))
        let base = [policyc, "run", "--policy", policy, "--rootfs", rootfs]
        let quiet: [Int32: String] = [2: "/dev/null"]
        var plain: [Double] = [], audit: [Double] = [], recorded: [Double] = []
        for _ in 0..<5 {
            plain.append(LaunchBench.time(base + ["--", "/known-calls", "many"], files: quiet))
            audit.append(LaunchBench.time(base.prefix(2) + ["--audit"] + base.dropFirst(2) + ["--", "/known-calls", "many"], files: quiet))
            recorded.append(LaunchBench.time(base.prefix(2) + ["--audit", "--audit-report", work + "/audit.jsonl"] + base.dropFirst(2) + ["--", "/known-calls", "many"], files: quiet))
        }
        let perCall = { (xs: [Double]) in (LaunchBench.median(xs) - LaunchBench.median(plain)) * 1000 / calls }
        print("audit: 100 000 denied getppid calls (known-calls many), 5 runs each, medians:")
        print(String(format: "  plain run %.0f ms; --audit %.0f ms (%.1f µs per reported call); with --audit-report %.0f ms (%.1f µs, target <= 3)",
                     LaunchBench.median(plain), LaunchBench.median(audit), perCall(audit), LaunchBench.median(recorded), perCall(recorded)))
    }
}

/// `diff`, `lint` and `report` of Docker's default profile (target: each under 50 ms), next to `compile`.
enum ReviewBench {
    static func run(root: String, policyc: String, work: String) {
        let moby = root + "/Tests/Fixtures/corpus/seccomp/moby-default.json"
        let commands: [(String, [String])] = [
            ("compile", [policyc, "compile", moby, "--format", "bpf", "-o", work + "/moby.bpf"]),
            ("diff", [policyc, "diff", moby, root + "/Policies/default.yaml"]),
            ("lint", [policyc, "lint", moby, "--severity", "error"]),
            ("report", [policyc, "report", moby, "-o", work + "/review"]),
        ]
        var line = "review of Docker's default profile, median of 9 runs (target: diff, lint, report each < 50 ms):"
        for (name, argv) in commands {
            // Output goes to /dev/null (spawnAndWait): `files` would open it read-only, and a
            // command that cannot write its output fails.
            let times = (0..<9).map { _ in LaunchBench.time(argv) }
            line += String(format: "  %@ %.1f ms", name, LaunchBench.median(times))
        }
        print(line)
    }
}
