import ArgumentParser
import Foundation
import PolicyCompiler
import PolicyModel
import SystemLayer

/// `policyc suggest RECORD.jsonl…`: the smallest policy over the audited one that allows what
/// the recorded runs did, checked by replaying every recorded call through it.
struct SuggestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggest",
        abstract: "Suggest a policy allowing what audit records (run --audit-report) show, from many runs and hosts.")

    @OptionGroup var options: PolicyOptions
    @Argument(help: "JSON Lines records of policyc run --audit --audit-report.") var records: [String]
    @Option(help: "The audited policy (default: the one the records' summary names).") var policy: String?
    @Option(name: .shortAndLong, help: "Where to write the suggestion (default: standard output); extends: then names the policy relative to it.") var output = "-"

    func validate() throws {
        if records.isEmpty { throw ValidationError("give one or more audit records (policyc run --audit --audit-report FILE)") }
    }

    func run() throws {
        if output != "-", !System.isDirectory(URL(fileURLWithPath: Self.absolute(output)).deletingLastPathComponent().path) {
            System.writeStderr("policyc: cannot write \(output): No such file or directory\n")
            throw ExitCode(1)
        }
        var calls: [ObservedCall] = []
        var named: String?
        for path in records {
            let (found, policyFile) = try Self.read(path)
            calls += found
            named = named ?? policyFile
        }
        guard let audited = policy ?? named else {
            System.writeStderr("policyc: the records name no policy (no summary record): give --policy\n")
            throw ExitCode(1)
        }
        let filter = try options.compile(audited)
        guard let suggestion = Suggester(filter).suggest(calls, extending: Self.reference(to: audited, from: output)) else {
            System.writeStderr("policyc: \(audited) already allows every recorded call; nothing to suggest\n")
            return
        }
        try selfCheck(suggestion, calls: calls)
        try writeOutput(Array(suggestion.text.utf8), to: output)
        System.writeStderr("policyc suggest: \(calls.count) recorded calls, all allowed by the suggestion; it newly allows:\n"
                           + suggestion.newlyAllowed.map { "  \($0)\n" }.joined())
    }

    /// Compiles the suggestion where it will live and replays every recorded call through it.
    func selfCheck(_ suggestion: Suggester.Suggestion, calls: [ObservedCall]) throws {
        let label = output == "-" ? (System.currentDirectory() ?? ".") + "/suggested.yaml" : Self.absolute(output)
        let diagnostics = DiagnosticBag()
        let loader = PolicyLoader(includeDirs: options.includeDirs, shipped: ShippedPolicies.all, diagnostics: diagnostics)
        guard let policy = loader.load(text: suggestion.text, label: label, directory: URL(fileURLWithPath: label).deletingLastPathComponent().path),
              let filter = CompiledFilter.compile(policy, diagnostics: diagnostics),
              !diagnostics.hasErrors else {
            report(diagnostics.items)
            System.writeStderr("policyc: the suggestion does not compile (a bug):\n\(suggestion.text)")
            throw ExitCode(1)
        }
        let refused = calls.filter { call in
            let action = filter.ir.verdict(auditArch: call.arch.auditArch, nr: call.nr, args: call.args).0
            return action != .allow && action != .log
        }
        guard refused.isEmpty else {
            System.writeStderr("policyc: the suggestion still refuses \(refused.count) recorded calls (a bug), e.g. \(refused[0])\n")
            throw ExitCode(1)
        }
    }

    /// The calls of one record file, and the policy its summary names.
    static func read(_ path: String) throws -> ([ObservedCall], String?) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            System.writeStderr("policyc: cannot read \(path)\n")
            throw ExitCode(1)
        }
        var calls: [ObservedCall] = [], policy: String?
        for (number, line) in text.split(separator: "\n").enumerated() {
            guard let record = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                System.writeStderr("policyc: \(path):\(number + 1): not a JSON record\n")
                throw ExitCode(1)
            }
            if record["type"] as? String == "summary" { policy = record["file"] as? String; continue }
            guard record["type"] as? String == "call", record["outcome"] as? String != "logged and allowed" else { continue }
            guard let arch = (record["arch"] as? String).flatMap(Arch.init(rawValue:)), let nr = record["nr"] as? Int,
                  let args = record["args"] as? [[String: Any]] else {
                System.writeStderr("policyc: \(path):\(number + 1): a call record without arch, nr or args\n")
                throw ExitCode(1)
            }
            var raw = args.compactMap { ($0["raw"] as? String).flatMap { UInt64($0.dropFirst(2), radix: 16) } }
            raw += Array(repeating: 0, count: max(0, 6 - raw.count))
            calls.append(ObservedCall(arch: arch, nr: UInt32(nr) | (arch == .x32 ? Arch.x32SyscallBit : 0), args: Array(raw.prefix(6))))
        }
        return (calls, policy)
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: (System.currentDirectory() ?? "/") + "/")).standardizedFileURL.path
    }

    /// How the suggestion names the audited policy: relative to the file it is written to, so
    /// that the two can move together; absolute on standard output.
    static func reference(to policy: String, from output: String) -> String {
        let target = absolute(policy)
        guard output != "-" else { return target }
        let from = URL(fileURLWithPath: absolute(output)).deletingLastPathComponent().pathComponents
        let to = URL(fileURLWithPath: target).pathComponents
        let common = zip(from, to).prefix { $0 == $1 }.count
        let up = Array(repeating: "..", count: from.count - common)
        let path = (up + to[common...]).joined(separator: "/")
        return path.hasPrefix(".") ? path : "./" + path
    }
}
