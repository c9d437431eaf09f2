import Foundation
import PolicyCompiler
import PolicyModel
import Testing

/// Paths of the repository and of the corpus copied into Tests/Fixtures, from this file's location.
enum Paths {
    static let root: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let corpus = root + "/Tests/Fixtures/corpus"
    static let seccompCorpus = corpus + "/seccomp"
    static let policies = root + "/Policies"
    static let profiles = root + "/Profiles"
    static var binary: String { root + "/.build/debug/policyc" }
    /// What `policyc` hands every command but a cached run to, beside it.
    static var fullBinary: String { root + "/.build/debug/policyc-full" }

    static let corpusProfiles = ["moby-default.json", "containers-common.json", "moby-example.json", "moby-conditional-include.json"]
}

/// Deterministic pseudo-random numbers (SplitMix64) so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Loads policy text or a file and compiles it, returning diagnostics too.
func compile(text: String, label: String = "test.yaml", includeDirs: [String] = []) -> (CompiledFilter?, DiagnosticBag) {
    let bag = DiagnosticBag()
    let loader = PolicyLoader(includeDirs: includeDirs, shipped: ShippedPolicies.all, diagnostics: bag)
    let filter = loader.load(text: text, label: label).flatMap { CompiledFilter.compile($0, diagnostics: bag) }
    return (filter, bag)
}

func compile(path: String, includeDirs: [String] = []) -> (CompiledFilter?, DiagnosticBag) {
    let bag = DiagnosticBag()
    let loader = PolicyLoader(includeDirs: includeDirs, shipped: ShippedPolicies.all, diagnostics: bag)
    let filter = loader.load(path: path).flatMap { CompiledFilter.compile($0, diagnostics: bag) }
    return (filter, bag)
}

/// Argument vectors worth trying against a condition: zero, all ones, the values the
/// policy compares with and their neighbours in both halves, plus random ones.
func sampleArguments(for ir: FilterIR, nr: UInt32, abi: ArchIR, rng: inout SplitMix, count: Int = 24) -> [[UInt64]] {
    var interesting: Set<UInt64> = [0, 1, .max, 0xFFFF_FFFF, 0x1_0000_0000]
    func collect(_ e: BoolExpr) {
        switch e {
        case .cmp(let c):
            for v in [c.value, c.mask ?? 0] {
                interesting.formUnion([v, v &+ 1, v &- 1, v ^ 0xFFFF_FFFF_0000_0000, v & 0xFFFF_FFFF, v | 0x8000_0000_0000_0000])
            }
        case .and(let xs), .or(let xs): xs.forEach(collect)
        case .not(let x): collect(x)
        }
    }
    for rule in abi.rules[nr] ?? [] { if let c = rule.condition { collect(c) } }
    let pool = interesting.sorted()
    var vectors: [[UInt64]] = [[0, 0, 0, 0, 0, 0]]
    for _ in 0..<count {
        vectors.append((0..<6).map { _ in Bool.random(using: &rng) ? pool.randomElement(using: &rng)! : rng.next() })
    }
    return vectors
}

/// Copies policyc and policyc-full into `dir` (mode 0755), as an installation elsewhere; the
/// path of the copy of policyc.
@discardableResult
func installPolicyc(into dir: String) throws -> String {
    for binary in [Paths.binary, Paths.fullBinary] {
        let copy = dir + "/" + URL(fileURLWithPath: binary).lastPathComponent
        try FileManager.default.copyItem(atPath: binary, toPath: copy)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy)
    }
    return dir + "/policyc"
}

/// Runs the policyc binary; returns exit status, stdout and stderr.
func runPolicyc(_ arguments: [String], cwd: String? = nil, environment: [String: String] = [:]) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Paths.binary)
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    return try runCapturing(process)
}

/// Runs `process` to its end; its status, stdout and stderr.
func runCapturing(_ process: Process) throws -> (Int32, String, String) {
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let watchdog = killAfter(seconds: 120, pid: process.processIdentifier)
    defer { watchdog.cancel() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// A hung policyc fails its test (killed: status 9) instead of holding up the whole run.
func killAfter(seconds: Double, pid: Int32) -> DispatchWorkItem {
    let item = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
    return item
}

/// `text` written as `name` in a new temporary directory (the caller removes it).
func policyFile(_ text: String, named name: String) throws -> (dir: String, path: String) {
    let dir = try temporaryDirectory()
    try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
    return (dir, dir + "/" + name)
}

func temporaryDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "policyc-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Runs a program, returning its status and its output and errors together.
func runTool(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A libc-free static program from Tests/Fixtures (raw syscalls, Tools/init/raw_syscall.h),
/// built with gcc: its path, and gcc's status and output.
func buildLibcFree(_ source: String, name: String) -> (path: String, status: Int32, log: String) {
    let path = NSTemporaryDirectory() + "policyc-\(name)-\(getpid())"
    let flags = ["-Os", "-static", "-nostdlib", "-nostartfiles", "-ffreestanding", "-fno-tree-loop-distribute-patterns", "-fno-stack-protector",
                 "-fno-asynchronous-unwind-tables", "-fno-pie", "-no-pie", "-Wall", "-Werror", "-I", Paths.root + "/Tools/init"]
    let (status, log) = (try? runTool("/usr/bin/gcc", flags + ["-o", path, Paths.root + "/Tests/Fixtures/" + source])) ?? (-1, "gcc did not start")
    return (path, status, log)
}
