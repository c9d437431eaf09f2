import ArgumentParser
import Foundation
import PolicyCompiler
import PolicyModel
import PolicySemantics
import SystemLayer

/// `policyc lint POLICY…`: what is risky, dead or contradictory, located at the line.
struct LintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Find risky allowances, dead rules and contradictions between layers (ids in Docs/lint.md); exit 1 on findings at or above --severity.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, sarif }

    @OptionGroup var options: PolicyOptions
    @Argument(help: "Policies or Docker/OCI profiles.") var policies: [String]
    @Option(help: "text, json or sarif (SARIF 2.1.0, for GitHub code scanning).") var format: Format = .text
    @Option(help: "The least severity that makes the exit status 1: note, warning or error.") var severity: String = "warning"

    func validate() throws {
        if policies.isEmpty { throw ValidationError("give one or more policies to lint") }
        if Finding.Severity(rawValue: severity) == nil { throw ValidationError("--severity takes note, warning or error") }
    }

    func run() throws {
        var findings: [Finding] = []
        var silenced = 0
        for path in policies {
            let filter = try options.compile(path)
            let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false)
            for f in Linter(policy: filter.policy, ir: filter.ir, bounding: filter.capabilities.bounding).findings() {
                if f.location.file == filter.policy.file, f.isSilenced(in: lines) { silenced += 1 } else { findings.append(f) }
            }
        }
        let text: String
        switch format {
        case .text:
            text = findings.map { f in "\(f.location): \(f.severity.rawValue): [\(f.id) \(Linter.rules.first { $0.id == f.id }!.name)] \(f.message)\n" }.joined()
                + "policyc lint: \(findings.count) finding\(findings.count == 1 ? "" : "s")" + (silenced > 0 ? ", \(silenced) silenced" : "") + "\n"
        case .json: text = JSONValue.array(findings.map(Self.json)).render() + "\n"
        case .sarif: text = Self.sarif(findings).render() + "\n"
        }
        try writeOutput(Array(text.utf8), to: "-")
        let threshold = Finding.Severity(rawValue: severity)!
        if findings.contains(where: { $0.severity >= threshold }) { throw ExitCode(1) }
    }

    static func json(_ f: Finding) -> JSONValue {
        .object([("id", .string(f.id)), ("severity", .string(f.severity.rawValue)), ("file", .string(f.location.file)),
                 ("line", .number(UInt64(f.location.line))), ("column", .number(UInt64(f.location.column))), ("message", .string(f.message))])
    }

    static func level(_ s: Finding.Severity) -> String { s == .error ? "error" : s == .warning ? "warning" : "note" }

    /// SARIF 2.1.0: one run, every rule with its help, results with physical locations.
    static func sarif(_ findings: [Finding]) -> JSONValue {
        let rules = Linter.rules.map { r -> JSONValue in
            .object([("id", .string(r.id)), ("name", .string(r.name)), ("shortDescription", .object([("text", .string(r.name))])),
                     ("fullDescription", .object([("text", .string(r.help))])),
                     ("help", .object([("text", .string(r.help + " See " + r.reference)), ("markdown", .string(r.help + " See <" + r.reference + ">."))])),
                     ("defaultConfiguration", .object([("level", .string(level(r.severity)))]))])
        }
        let results = findings.map { f -> JSONValue in
            .object([("ruleId", .string(f.id)), ("ruleIndex", .number(UInt64(Linter.rules.firstIndex { $0.id == f.id }!))),
                     ("level", .string(level(f.severity))), ("message", .object([("text", .string(f.message))])),
                     ("locations", .array([.object([("physicalLocation", .object([
                         ("artifactLocation", .object([("uri", .string(f.location.file))])),
                         ("region", .object([("startLine", .number(UInt64(max(1, f.location.line)))), ("startColumn", .number(UInt64(max(1, f.location.column))))])),
                     ]))])]))])
        }
        return .object([
            ("$schema", .string("https://json.schemastore.org/sarif-2.1.0.json")), ("version", .string("2.1.0")),
            ("runs", .array([.object([
                ("tool", .object([("driver", .object([("name", .string("policyc")), ("informationUri", .string("https://github.com/policyc/policyc")),
                                                      ("version", .string("0.1.0")), ("rules", .array(rules))]))])),
                ("results", .array(results)),
            ])])),
        ])
    }
}
