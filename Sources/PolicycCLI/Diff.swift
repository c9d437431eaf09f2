import ArgumentParser
import Foundation
import PolicyCompiler
import PolicyModel
import PolicySemantics
import SystemLayer

/// `policyc diff OLD NEW`: what a policy change does, exactly, for a review or a CI gate.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changes between two policies or Docker/OCI profiles: every syscall whose verdict changes, by ABI and argument region, and the other layers.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, markdown }
    enum FailOn: String, ExpressibleByArgument, CaseIterable { case looser, any }

    @OptionGroup var options: PolicyOptions
    @Argument(help: "The old policy or profile.") var old: String
    @Argument(help: "The new policy or profile.") var new: String
    @Option(help: "text, json or markdown.") var format: Format = .text
    @Option(help: "Exit 1 when the new policy allows anything the old did not (looser), or differs at all (any).") var failOn: FailOn?

    func run() throws {
        let a = try options.compile(old), b = try options.compile(new)
        let seccomp = SeccompDiff.compare(old: a.ir, new: b.ir)
        let layers = LayerFacts.diff(LayerFacts.of(a), LayerFacts.of(b))
        let text: String
        switch format {
        case .text: text = renderText(seccomp, layers)
        case .markdown: text = renderMarkdown(seccomp, layers)
        case .json: text = renderJSON(seccomp, layers).render() + "\n"
        }
        try writeOutput(Array(text.utf8), to: "-")
        let looser = seccomp.contains { $0.kind == .looser } || layers.contains { $0.looser }
        switch failOn {
        case .looser where looser: throw ExitCode(1)
        case .any where !seccomp.isEmpty || !layers.isEmpty: throw ExitCode(1)
        default: break
        }
    }

    static let order: [SeccompDifference.Kind] = [.looser, .stricter, .changed]

    func line(_ d: SeccompDifference) -> String {
        let when = d.regions == ["every call"] ? "" : " when " + d.regions.joined(separator: " || ")
        return "\(d.syscall) (\(d.arch.rawValue))\(when): \(d.old) → \(d.new), \(d.newRule == "defaultAction" || d.newRule.hasPrefix("bad") ? d.newRule + " of \(new)" : d.newRule) (was \(d.oldRule))"
    }

    func renderText(_ seccomp: [SeccompDifference], _ layers: [LayerFacts.Change]) -> String {
        var out = "policyc diff \(old) → \(new): \(seccomp.count) seccomp change\(seccomp.count == 1 ? "" : "s"), \(layers.count) in other layers\n"
        for kind in Self.order {
            let items = seccomp.filter { $0.kind == kind }
            guard !items.isEmpty else { continue }
            out += "\n\(kind.rawValue):\n" + items.map { "  " + line($0) + "\n" }.joined()
        }
        if !layers.isEmpty { out += "\nother layers:\n" + layers.map { "  \($0.description)\n" }.joined() }
        return out
    }

    func renderMarkdown(_ seccomp: [SeccompDifference], _ layers: [LayerFacts.Change]) -> String {
        var out = "### policyc diff `\(old)` → `\(new)`\n\n"
        if seccomp.isEmpty && layers.isEmpty { return out + "No change in meaning.\n" }
        for kind in Self.order {
            let items = seccomp.filter { $0.kind == kind }
            guard !items.isEmpty else { continue }
            out += "**\(kind.rawValue.capitalized)** (\(items.count))\n\n| syscall | ABI | when | old | new | deciding rule |\n|---|---|---|---|---|---|\n"
            for d in items {
                out += "| `\(d.syscall)` | \(d.arch.rawValue) | \(d.regions.map { "`\($0)`" }.joined(separator: "<br>")) | \(d.old) | \(d.new) | \(d.newRule) |\n"
            }
            out += "\n"
        }
        if !layers.isEmpty { out += "**Other layers**\n\n" + layers.map { "- \($0.description)\n" }.joined() }
        return out
    }

    func renderJSON(_ seccomp: [SeccompDifference], _ layers: [LayerFacts.Change]) -> JSONValue {
        .object([
            ("old", .string(old)), ("new", .string(new)),
            ("seccomp", .array(seccomp.map { d in
                .object([("kind", .string(d.kind.rawValue)), ("arch", .string(d.arch.rawValue)), ("syscall", .string(d.syscall)),
                         ("regions", .array(d.regions.map { .string($0) })), ("old", .string(d.old.description)), ("oldRule", .string(d.oldRule)),
                         ("new", .string(d.new.description)), ("newRule", .string(d.newRule))])
            })),
            ("layers", .array(layers.map { c in
                .object([("layer", .string(c.layer)), ("item", .string(c.item)), ("old", c.old.map { .string($0) } ?? .null),
                         ("new", c.new.map { .string($0) } ?? .null), ("looser", .bool(c.looser))])
            })),
        ])
    }
}

/// The layers besides seccomp as comparable facts: capabilities per set, no_new_privs,
/// namespaces, mounts, resources, filesystem and network intent, labels.
enum LayerFacts {
    struct Change: CustomStringConvertible {
        var layer: String, item: String, old: String?, new: String?
        /// The new value lets the workload do more (a capability or namespace less, a path more).
        var looser: Bool
        var description: String { "\(layer) \(item): \(old.flatMap { $0.isEmpty ? nil : $0 } ?? "(none)") → \(new.flatMap { $0.isEmpty ? nil : $0 } ?? "(none)")" }
    }

    /// (layer, item) → value, and whether more of the value means more freedom.
    typealias Facts = [(layer: String, item: String, values: [String], moreIsLooser: Bool)]

    static func of(_ f: CompiledFilter) -> Facts {
        let p = f.policy, c = p.container
        var facts: Facts = []
        for (set, mask) in [("bounding", f.capabilities.bounding), ("effective", f.capabilities.effective), ("permitted", f.capabilities.permitted),
                            ("inheritable", f.capabilities.inheritable), ("ambient", f.capabilities.ambient)] {
            facts.append(("capabilities", set, CapabilitySets.names(mask), true))
        }
        facts.append(("process", "noNewPrivileges", [String(p.noNewPrivileges ?? true)], false))
        facts.append(("container", "namespaces", OCIFragmentEmitter.defaultNamespaces(p), false))
        facts.append(("container", "mounts", (c.mounts ?? []).map { "\($0.type) \($0.source ?? "-") \($0.destination) \($0.options.joined(separator: ","))" }, true))
        facts.append(("container", "resources", [c.memory.map { "memory \($0)" }, c.pids.map { "pids \($0)" }, c.cpus.map { "cpus \($0)" }].compactMap { $0 }, false))
        facts.append(("container", "devices", (c.devices ?? []).map { "\($0.path) \($0.type) \($0.major):\($0.minor)" }, true))
        if let fs = p.filesystem {
            for (item, paths, more) in [("read", fs.read, true), ("write", fs.write, true), ("exec", fs.exec, true), ("deny", fs.deny, false)] {
                facts.append(("filesystem", item, paths.map(\.value), more))
            }
        }
        if let n = p.network {
            facts.append(("network", "families", n.families?.map(\.value) ?? ["(all)"], true))
            facts.append(("network", "tcp bind", n.tcpBind.map { String($0.value) }, true))
            facts.append(("network", "tcp connect", n.tcpConnect.map { String($0.value) }, true))
        }
        if p.apparmor != nil { facts.append(("labels", "apparmor", [OCIFragmentEmitter(f).apparmorProfile], false)) }
        if p.selinux != nil { facts.append(("labels", "selinux", [SELinuxLabel(policy: p).context], false)) }
        return facts
    }

    static func diff(_ a: Facts, _ b: Facts) -> [Change] {
        var changes: [Change] = []
        let keys = (a.map { [$0.layer, $0.item] } + b.map { [$0.layer, $0.item] }).reduce(into: [[String]]()) { if !$0.contains($1) { $0.append($1) } }
        for key in keys {
            let x = a.first { [$0.layer, $0.item] == key }, y = b.first { [$0.layer, $0.item] == key }
            guard x?.values != y?.values else { continue }
            let more = (x ?? y)!.moreIsLooser
            let old = Set(x?.values ?? []), new = Set(y?.values ?? [])
            let looser = more ? !new.subtracting(old).isEmpty : !old.subtracting(new).isEmpty
            changes.append(Change(layer: key[0], item: key[1], old: x.map { $0.values.joined(separator: ", ") }, new: y.map { $0.values.joined(separator: ", ") }, looser: looser))
        }
        return changes
    }
}
