// `make bench`: filter size and instructions executed per syscall for Docker's and Podman's
// default profiles, policyc next to libseccomp (default and binary-tree output), and compile
// wall time. Figures, not pass/fail: timing belongs here, not in unit tests.
import Foundation
import LibseccompBackend
import PolicyCompiler
import PolicyModel

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let corpus = ProcessInfo.processInfo.environment["POLICYC_CORPUS"] ?? root + "/Tests/Fixtures/corpus/seccomp"
let profiles = ["moby-default.json", "containers-common.json"]
let arches: [Arch] = [.x86_64, .x86, .x32]

func load(_ path: String) -> CompiledFilter {
    let bag = DiagnosticBag()
    guard let policy = PolicyLoader(diagnostics: bag).load(path: path),
          let filter = CompiledFilter.compile(policy, diagnostics: bag) else {
        bag.errors.forEach { print($0) }
        exit(1)
    }
    return filter
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

func cell(_ s: FilterStats) -> String {
    String(format: "%5d %6.2f %4d", s.length, s.mean, s.max)
}

// `policyc-bench ab DIR_A DIR_B` compares two installations' launches (see LaunchBench.compare).
if CommandLine.arguments.count == 4, CommandLine.arguments[1] == "ab" {
    LaunchBench.compare(root: root, a: CommandLine.arguments[2], b: CommandLine.arguments[3])
    exit(0)
}
// `policyc-bench launch` runs only the launch benchmark.
let launchOnly = CommandLine.arguments.dropFirst().first == "launch"
if !launchOnly {
print("libseccomp \(LibseccompBackend.version); syscall tables: Linux \(SyscallTable.tablesKernel)")
print("instructions executed per syscall, over every syscall in the architecture's table (arguments 0)\n")
var targetMet = true
for name in profiles {
    let path = corpus + "/" + name
    var times: [Double] = []
    var filter = load(path)
    for _ in 0..<20 {
        let start = DispatchTime.now().uptimeNanoseconds
        filter = load(path)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    let linear = try LibseccompBackend.compile(filter.ir, optimization: .linear)
    let tree = try LibseccompBackend.compile(filter.ir, optimization: .binaryTree)
    print("\(name): compile (load + lower + generate) median \(String(format: "%.2f", median(times))) ms over 20 runs")
    print("  arch     | policyc: len  mean  max | libseccomp tree: len  mean  max | libseccomp default: len  mean  max")
    for arch in arches {
        let ours = FilterStats.measure(filter.program, arch: arch)
        let t = FilterStats.measure(tree, arch: arch), l = FilterStats.measure(linear, arch: arch)
        print("  \(arch.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) |      \(cell(ours)) |              \(cell(t)) |                 \(cell(l))   policyc's longest: \(ours.slowest.prefix(4).joined(separator: ", "))")
        if name == "moby-default.json", arch == .x86_64, !(ours.mean <= 11 && ours.max <= 13) { targetMet = false }
    }
    print("")
}
print("target (Docker's default on x86_64: mean <= 11, max <= 13): \(targetMet ? "met" : "NOT met")")
print("")
}
LaunchBench.run(root: root)
