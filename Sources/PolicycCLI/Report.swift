import ArgumentParser
import Foundation
import PolicyCompiler
import PolicyModel
import PolicySemantics
import SystemLayer

/// `policyc report POLICY`: the document a security reviewer signs off. The report is data
/// (report.json, Docs/report.schema.json); report.md and report.html are renderings of it.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a security review of a policy: posture by layer, lint findings, the diff against a baseline and audit evidence, as HTML, Markdown and JSON.")

    @OptionGroup var options: PolicyOptions
    @Argument(help: "The policy or profile.") var policy: String
    @Option(help: "What to compare with: docker (Docker's default profile), default (policyc's), or a file.") var baseline = "docker"
    @Option(help: "Audit records (run --audit-report), repeatable.") var audit: [String] = []
    @Option(name: .shortAndLong, help: "Directory for report.html, report.md and report.json.") var output: String

    func run() throws {
        let filter = try options.compile(policy)
        let base = try baselineFilter()
        let report = ReportData.build(filter, baseline: base, baselineName: baseline, audit: try audit.flatMap { try SuggestCommand.read($0).0 })
        guard System.isDirectory(output) || (try? System.makeDirectory(output)) != nil else {
            System.writeStderr("policyc: cannot write \(output): not a directory\n")
            throw ExitCode(1)
        }
        try writeOutput(Array((report.json.render() + "\n").utf8), to: output + "/report.json")
        try writeOutput(Array(report.markdown.utf8), to: output + "/report.md")
        try writeOutput(Array(report.html.utf8), to: output + "/report.html")
        System.writeStderr("policyc report: \(output)/report.html, report.md, report.json (\(report.findings.count) findings, \(report.baselineChanges.count) changes against \(baseline))\n")
    }

    func baselineFilter() throws -> CompiledFilter {
        switch baseline {
        case "docker":
            let bag = DiagnosticBag()
            let loader = PolicyLoader(includeDirs: options.includeDirs, shipped: ShippedPolicies.all, diagnostics: bag)
            guard let p = loader.load(text: ShippedPolicies.baselines["docker"]!, label: "docker-default.json"),
                  let f = CompiledFilter.compile(p, diagnostics: DiagnosticBag()) else { throw ExitCode(1) }
            return f
        case "default": return try options.compile(nil as String?)
        default: return try options.compile(baseline)
        }
    }
}

extension PolicyOptions {
    func compile(_ path: String?) throws -> CompiledFilter { try compileRecordingInputs(path).filter }
}

/// The review's facts, gathered once.
struct ReportData {
    struct GroupPosture { var name: String, allowed: [String], conditioned: [String], denied: [String] }

    var policy: Policy
    var arch: Arch
    var layers: [(String, [(String, String)])]
    var groups: [GroupPosture]
    var findings: [Finding]
    var baselineName: String
    var baselineChanges: [SeccompDifference]
    var audit: [(syscall: String, arch: String, calls: Int, verdict: String)]

    static func build(_ f: CompiledFilter, baseline: CompiledFilter, baselineName: String, audit: [ObservedCall]) -> ReportData {
        let p = f.policy
        let arch = f.ir.archIR(.native) != nil ? Arch.native : (f.ir.arches.first?.arch ?? .native)
        var posture: [String: String] = [:]   // syscall → allowed | conditioned | denied
        if let abi = f.ir.archIR(arch) {
            for entry in abi.table.entries {
                let part = Semantics.partition([f.ir], arch: arch, nr: entry.number)
                let allowed = part.regions.filter { $0.outcomes[0].action == .allow || $0.outcomes[0].action == .log }.count
                posture[entry.name] = allowed == 0 ? "denied" : allowed == part.regions.count ? "allowed" : "conditioned"
            }
        }
        let groups = SyscallGroups.all.filter { !$0.name.hasPrefix("@default") }.map { g -> GroupPosture in
            let names = (SyscallGroups.expand(g.name) ?? []).filter { posture[$0] != nil }
            return GroupPosture(name: g.name, allowed: names.filter { posture[$0] == "allowed" }, conditioned: names.filter { posture[$0] == "conditioned" },
                                denied: names.filter { posture[$0] == "denied" })
        }.filter { !($0.allowed.isEmpty && $0.conditioned.isEmpty && $0.denied.isEmpty) }
        let c = p.container
        let caps = f.capabilities
        var layers: [(String, [(String, String)])] = [
            ("Isolation", [("namespaces", OCIFragmentEmitter.defaultNamespaces(p).joined(separator: ", ")), ("rootfs", c.rootfs ?? "host (read-only)"),
                           ("user", "uid \(c.uid ?? 0), gid \(c.gid ?? 0)"), ("noNewPrivileges", String(p.noNewPrivileges ?? true))]),
            ("Capabilities", [("bounding", CapabilitySets.names(caps.bounding).joined(separator: ", ")), ("effective", CapabilitySets.names(caps.effective).joined(separator: ", ")),
                              ("ambient", CapabilitySets.names(caps.ambient).joined(separator: ", "))]),
            ("Seccomp", [("default action", f.ir.defaultAction.description), ("architectures", f.ir.arches.map(\.arch.rawValue).joined(separator: ", ")),
                         ("syscalls on \(arch.rawValue)", "\(posture.values.filter { $0 == "allowed" }.count) allowed, \(posture.values.filter { $0 == "conditioned" }.count) conditioned, \(posture.values.filter { $0 == "denied" }.count) denied")]),
            ("Resources", [("memory", c.memory.map { "\($0 >> 20) MiB" } ?? "none"), ("pids", c.pids.map(String.init) ?? "none"), ("cpus", c.cpus.map { String($0) } ?? "none")]),
            ("Paths", [("masked", ContainerDefaults.maskedPaths.joined(separator: ", ")), ("read-only", ContainerDefaults.readonlyPaths.joined(separator: ", "))]),
        ]
        var lsm: [(String, String)] = []
        if p.apparmor != nil { lsm.append(("AppArmor", OCIFragmentEmitter(f).apparmorProfile)) }
        if p.selinux != nil { lsm.append(("SELinux", SELinuxLabel(policy: p).context)) }
        if !lsm.isEmpty { layers.append(("LSM labels", lsm)) }
        var landlock: [(String, String)] = []
        if let fs = p.filesystem {
            landlock += [("read", fs.read.map(\.value).joined(separator: ", ")), ("write", fs.write.map(\.value).joined(separator: ", ")),
                         ("exec", fs.exec.map(\.value).joined(separator: ", "))]
        }
        if let n = p.network {
            landlock += [("families", n.families?.map(\.value).joined(separator: ", ") ?? "all"),
                         ("tcp bind", n.tcpBind.map { String($0.value) }.joined(separator: ", ")), ("tcp connect", n.tcpConnect.map { String($0.value) }.joined(separator: ", "))]
        }
        if !landlock.isEmpty { layers.append(("Landlock and network", landlock)) }
        var seen: [String: (String, String, Int, String)] = [:]
        for call in audit {
            guard let name = SyscallTable.forArch(call.arch).name(of: call.nr & ~Arch.x32SyscallBit) else { continue }
            let action = f.ir.verdict(auditArch: call.arch.auditArch, nr: call.nr, args: call.args).0
            let key = name + "/" + call.arch.rawValue
            seen[key] = (name, call.arch.rawValue, (seen[key]?.2 ?? 0) + 1, action.description)
        }
        return ReportData(policy: p, arch: arch, layers: layers, groups: groups,
                          findings: Linter(policy: p, ir: f.ir, bounding: caps.bounding).findings(), baselineName: baselineName,
                          baselineChanges: SeccompDiff.compare(old: baseline.ir, new: f.ir),
                          audit: seen.values.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map { (syscall: $0.0, arch: $0.1, calls: $0.2, verdict: $0.3) })
    }

    var json: JSONValue {
        .object([
            ("policy", .string(policy.name)), ("file", .string(policy.file)), ("arch", .string(arch.rawValue)),
            ("layers", .array(layers.map { layer, facts in .object([("layer", .string(layer)), ("facts", .object(facts.map { ($0.0, JSONValue.string($0.1)) }))]) })),
            ("seccompGroups", .array(groups.map { g in
                .object([("group", .string(g.name)), ("allowed", .array(g.allowed.map { .string($0) })), ("conditioned", .array(g.conditioned.map { .string($0) })),
                         ("denied", .array(g.denied.map { .string($0) }))])
            })),
            ("findings", .array(findings.map(LintCommand.json))),
            ("baseline", .object([("name", .string(baselineName)),
                                  ("changes", .array(baselineChanges.map { d in
                                      .object([("kind", .string(d.kind.rawValue)), ("arch", .string(d.arch.rawValue)), ("syscall", .string(d.syscall)),
                                               ("regions", .array(d.regions.map { .string($0) })), ("baseline", .string(d.old.description)), ("policy", .string(d.new.description))])
                                  }))])),
            ("audit", .array(audit.map { a in .object([("syscall", .string(a.syscall)), ("arch", .string(a.arch)), ("calls", .number(UInt64(a.calls))), ("verdict", .string(a.verdict))]) })),
        ])
    }

    var markdown: String {
        var out = "# Security review: policy `\(policy.name)`\n\nFile `\(policy.file)`. Generated by policyc.\n\n## Posture\n\n"
        for (layer, facts) in layers {
            out += "### \(layer)\n\n| | |\n|---|---|\n" + facts.map { "| \($0.0) | \($0.1.isEmpty ? "—" : $0.1) |\n" }.joined() + "\n"
        }
        out += "### Seccomp by syscall group (\(arch.rawValue))\n\n| group | allowed | conditioned | denied |\n|---|---|---|---|\n"
        out += groups.map { "| `\($0.name)` | \($0.allowed.count) | \($0.conditioned.count) | \($0.denied.count) |\n" }.joined()
        out += "\n## Lint findings (\(findings.count))\n\n" + (findings.isEmpty ? "None.\n" : findings.map { "- **\($0.id)** \($0.severity.rawValue) at `\($0.location)`: \($0.message)\n" }.joined())
        out += "\n## Against the baseline (\(baselineName)): \(baselineChanges.count) changes\n\n"
        for kind in SeccompDifference.Kind.allCases {
            let items = baselineChanges.filter { $0.kind == kind }
            if !items.isEmpty { out += "**\(kind.rawValue)** (\(items.count)): " + items.prefix(40).map { "`\($0.syscall)` (\($0.arch.rawValue))" }.joined(separator: ", ") + (items.count > 40 ? ", …" : "") + "\n\n" }
        }
        if !audit.isEmpty {
            out += "## Audit evidence\n\n| syscall | ABI | calls | the policy says |\n|---|---|---|---|\n" + audit.map { "| `\($0.syscall)` | \($0.arch) | \($0.calls) | \($0.verdict) |\n" }.joined()
        }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// One self-contained page: inline style, an inline SVG chart, no script, font or network.
    var html: String {
        let e = Self.escape
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Security review: \(e(policy.name))</title>
            <style>body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
            td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}
            .error{color:#a00}.warning{color:#a60}.note{color:#555}code{background:#f6f6f6}</style></head><body>
            <h1>Security review: policy <code>\(e(policy.name))</code></h1>
            <p>File <code>\(e(policy.file))</code>. <span id="summary">\(findings.count) lint findings, \(baselineChanges.count) changes against \(e(baselineName)).</span></p>
            <h2>Posture</h2>

            """
        for (layer, facts) in layers {
            out += "<h3>\(e(layer))</h3><table>" + facts.map { "<tr><th>\(e($0.0))</th><td>\($0.1.isEmpty ? "—" : e($0.1))</td></tr>" }.joined() + "</table>\n"
        }
        out += "<h3>Seccomp by syscall group (\(arch.rawValue))</h3>\n" + chart()
        out += "<h2>Lint findings (\(findings.count))</h2>" + (findings.isEmpty ? "<p>None.</p>" : "<table><tr><th>id</th><th>severity</th><th>where</th><th>finding</th></tr>"
            + findings.map { "<tr><td>\($0.id)</td><td class=\"\($0.severity.rawValue)\">\($0.severity.rawValue)</td><td><code>\(e($0.location.description))</code></td><td>\(e($0.message))</td></tr>" }.joined() + "</table>")
        out += "<h2>Against the baseline (\(e(baselineName))): \(baselineChanges.count) changes</h2><table><tr><th>kind</th><th>syscall</th><th>ABI</th><th>when</th><th>baseline</th><th>this policy</th></tr>"
        out += baselineChanges.prefix(200).map { "<tr><td>\($0.kind.rawValue)</td><td><code>\(e($0.syscall))</code></td><td>\($0.arch.rawValue)</td><td>\(e($0.regions.joined(separator: " or ")))</td><td>\(e($0.old.description))</td><td>\(e($0.new.description))</td></tr>" }.joined() + "</table>\n"
        if !audit.isEmpty {
            out += "<h2>Audit evidence</h2><table><tr><th>syscall</th><th>ABI</th><th>calls</th><th>the policy says</th></tr>"
                + audit.map { "<tr><td><code>\(e($0.syscall))</code></td><td>\($0.arch)</td><td>\($0.calls)</td><td>\(e($0.verdict))</td></tr>" }.joined() + "</table>\n"
        }
        return out + "</body></html>\n"
    }

    /// Stacked bars per group: allowed, conditioned, denied.
    func chart() -> String {
        let width = 600.0, row = 22.0
        let most = Double(groups.map { $0.allowed.count + $0.conditioned.count + $0.denied.count }.max() ?? 1)
        var svg = "<svg id=\"groups\" width=\"\(Int(width) + 220)\" height=\"\(Int(Double(groups.count) * row) + 30)\" role=\"img\" aria-label=\"syscall groups\">"
        for (i, g) in groups.enumerated() {
            let y = Double(i) * row
            var x = 200.0
            svg += "<text x=\"0\" y=\"\(y + 15)\" font-size=\"12\">\(Self.escape(g.name))</text>"
            for (count, colour) in [(g.allowed.count, "#4a4"), (g.conditioned.count, "#e90"), (g.denied.count, "#bbb")] where count > 0 {
                let w = Double(count) / most * width
                svg += "<rect x=\"\(x)\" y=\"\(y + 3)\" width=\"\(w)\" height=\"\(row - 6)\" fill=\"\(colour)\"><title>\(count)</title></rect>"
                x += w
            }
        }
        let y = Double(groups.count) * row + 20
        svg += "<text x=\"200\" y=\"\(y)\" font-size=\"12\" fill=\"#4a4\">allowed</text><text x=\"280\" y=\"\(y)\" font-size=\"12\" fill=\"#e90\">conditioned</text><text x=\"380\" y=\"\(y)\" font-size=\"12\" fill=\"#888\">denied</text>"
        return svg + "</svg>\n"
    }
}
