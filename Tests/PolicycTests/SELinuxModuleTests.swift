import Foundation
import PolicyCompiler
import PolicyModel
import Testing
import Yams

/// NAME.cil as SELinux's own tools read it: on container-selinux (a stand-in of its declarations
/// with udica's templates, in a copy of Debian's reference-policy store) and, for `base:
/// refpolicy`, on the reference policy alone.
@Suite(.serialized) struct SELinuxModuleTests {
    static let policies = ShippedPolicies.all.keys.sorted()
    static let fixtures = Paths.root + "/Tests/Fixtures/selinux"

    func filter(_ name: String) throws -> CompiledFilter {
        let (compiled, bag) = compile(path: Paths.policies + "/\(name).yaml")
        return try #require(compiled, "\(bag.errors)")
    }

    /// Each shipped policy on the reference policy alone: its own plain type, as before.
    func referenceVariant(_ name: String) throws -> CompiledFilter {
        let (compiled, bag) = compile(text: "policyc: v1\nname: \(name)-ref\nextends: [\(name)]\nselinux: {base: refpolicy}\n")
        return try #require(compiled, "\(bag.errors)")
    }

    /// The udica template files a module's install line names, as fixture paths.
    static func templates(named text: String) -> [String] {
        guard let line = text.split(separator: "\n").first(where: { $0.contains("/usr/share/udica/templates/{") }),
              let open = line.firstIndex(of: "{"), let close = line.firstIndex(of: "}") else { return [] }
        return line[line.index(after: open)..<close].split(separator: ",").map { fixtures + "/udica-templates/" + $0 }
    }

    /// A copy of Debian's policy store with the stand-in, the templates and `modules` installed;
    /// the path of the built policy.
    func install(_ modules: [(name: String, text: String)], in root: String) throws -> String {
        for dir in ["/var/lib/selinux", "/etc/selinux"] {
            try FileManager.default.createDirectory(atPath: root + dir, withIntermediateDirectories: true)
        }
        _ = try runTool("/bin/cp", ["-a", "/var/lib/selinux/default", root + "/var/lib/selinux/"])
        _ = try runTool("/bin/cp", ["-a", "/etc/selinux/default", root + "/etc/selinux/"])
        var files = [Self.fixtures + "/container-standin/container.cil"]
        for module in modules {
            let path = root + "/\(module.name).cil"
            try Data(module.text.utf8).write(to: URL(fileURLWithPath: path))
            files += Self.templates(named: module.text).filter { !files.contains($0) }
            files.append(path)
        }
        let (status, output) = try runTool("/usr/sbin/semodule", ["-p", root, "-s", "default", "-n", "-i"] + files)
        #expect(status == 0, "\(output)")
        return root + "/etc/selinux/default/policy/policy.33"
    }

    func search(_ policy: String, _ arguments: [String]) throws -> String { try runTool("/usr/bin/sesearch", ["-A"] + arguments + [policy]).1 }

    func attributes(of type: String, in policy: String) throws -> [String] {
        let line = try runTool("/usr/bin/seinfo", ["-t", type, "-x", policy]).1.split(separator: "\n").last { $0.contains("type \(type)") } ?? ""
        return line.split(separator: ",").dropFirst().map { $0.trimmingCharacters(in: .whitespaces.union(.init(charactersIn: ";"))) }
    }

    /// Every shipped module and its reference-policy variant in one store: a container runtime
    /// may transition into the container-selinux type and not into the plain one, and each type
    /// has the capabilities, network and files its intent asks for.
    @Test func modulesInstallAndRuntimesMayStartOnlyContainerTypes() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let container = try Self.policies.map { try filter($0) }
        let reference = try Self.policies.map { try referenceVariant($0) }
        let spo = try container.compactMap { f in try Self.spoModule(f).map { (f, $0) } }
        let modules = (container + reference).map { ($0.policy.name, SELinuxEmitter($0).render()) } + spo.map { ("spo_" + $0.0.policy.name, $0.1) }
        let policy = try install(modules, in: root)
        try expectSPOProfilesMeanTheModules(spo.map(\.0), in: policy)
        let types = (container + reference).map { SELinuxLabel(policy: $0.policy).type }
        // sesearch loads the policy for a second each time: one query per type, two at once.
        let found = Found(types.count)
        DispatchQueue.concurrentPerform(iterations: types.count) { i in
            let rules = (try? search(policy, ["-s", types[i]])) ?? ""
            let attributes = (try? self.attributes(of: types[i], in: policy)) ?? []
            found.set(i, rules: rules, attributes: attributes)
        }
        let transitions = try search(policy, ["-s", "container_runtime_t", "-c", "process", "-p", "transition"])
        for (i, f) in (container + reference).enumerated() {
            let type = types[i], (rules, attributes) = found.get(i)
            let targets = transitions.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst(2).first?.split(separator: ":").first }
            let mayStart = targets.contains { $0 == type || attributes.contains(String($0)) }
            if i < container.count {
                #expect(type == "\(f.policy.name).process")
                #expect(mayStart && attributes.contains("container_domain"), "\(type): \(attributes) \(transitions)")
            } else {
                #expect(type == f.policy.name.replacingOccurrences(of: "-", with: "_") + "_t")
                #expect(!mayStart && !attributes.contains("container_domain"), "\(type): \(attributes)")
                #expect(rules.contains("allow \(type) \(type):process { fork"), "\(type)")
            }
            expectCapabilities(f, type: type, rules: rules)
        }
        expectNetworkAndFiles { name in found.get(types.firstIndex(of: name)!) }
    }

    /// The SelinuxProfile of NAME.k8s.yaml as SPO's selinuxd turns it into CIL (its obj2cil:
    /// the block, `container` and the other inherited blocks, one allow per type and class with
    /// `@self` as the block's process type), named spo_NAME here so it sits beside NAME.cil.
    static func spoModule(_ f: CompiledFilter) throws -> String? {
        let documents = try Array(Yams.load_all(yaml: try KubernetesEmitter(f).render()))
        guard let profile = documents.compactMap({ $0 as? [String: Any] }).first(where: { $0["kind"] as? String == "SelinuxProfile" }),
              let spec = profile["spec"] as? [String: Any] else { return nil }
        let block = "spo_" + f.policy.name
        var out = "(block \(block)\n(blockinherit container)\n"
        for inherit in spec["inherit"] as? [[String: String]] ?? [] where inherit["name"] != "container" {
            out += "(blockinherit \(inherit["name"]!))\n"
        }
        let allow = spec["allow"] as? [String: [String: [String]]] ?? [:]
        for target in allow.keys.sorted() {
            for cls in allow[target]!.keys.sorted() {
                let type = target == "@self" ? block + ".process" : target
                out += "(allow process \(type) ( \(cls) ( \(Set(allow[target]![cls]!).sorted().joined(separator: " ")) )))\n"
            }
        }
        // The templates' install line, so install() adds the files they live in.
        return "; /usr/share/udica/templates/{" + Self.templates(named: SELinuxEmitter(f).render()).map { ($0 as NSString).lastPathComponent }.joined(separator: ",") + "}\n" + out + ")\n"
    }

    /// spo_NAME.process has exactly NAME.process's rules but the capability ones SPO refuses.
    func expectSPOProfilesMeanTheModules(_ filters: [CompiledFilter], in policy: String) throws {
        #expect(filters.map(\.policy.name) == ["strict", "webserver"])
        for f in filters {
            let name = f.policy.name
            func rules(_ block: String) throws -> Set<String> {
                Set(try search(policy, ["-s", block + ".process"]).replacingOccurrences(of: block + ".", with: "BLOCK.").split(separator: "\n")
                    .map(String.init).filter { !$0.contains(":capability") })
            }
            let module = try rules(name), spo = try rules("spo_\(name)")
            #expect(module.symmetricDifference(spo).isEmpty, "\(name): only in NAME.cil \(module.subtracting(spo)); only in SPO's \(spo.subtracting(module))")
            #expect(module.count > 20)
        }
    }

    /// Query results from concurrent workers.
    final class Found: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [(String, [String])]
        init(_ count: Int) { results = Array(repeating: ("", []), count: count) }
        func set(_ i: Int, rules: String, attributes: [String]) { lock.withLock { results[i] = (rules, attributes) } }
        func get(_ i: Int) -> (String, [String]) { lock.withLock { results[i] } }
    }

    func expectCapabilities(_ f: CompiledFilter, type: String, rules: String) {
        let caps = rules.split(separator: "\n").filter { $0.contains("allow \(type) \(type):capability ") }.joined()
        let expected = CapabilitySets.names(f.capabilities.bounding).filter { Capabilities.number($0)! < 32 }.map { $0.dropFirst(4).lowercased() }
        for cap in expected { #expect(caps.contains(" \(cap) "), "\(type): \(cap) in \(caps)") }
        if expected.isEmpty { #expect(caps.isEmpty, "\(type): \(caps)") }
    }

    /// default: the whole network (net_container); batch: unix only, no port at all; webserver
    /// and strict: listed ports; webserver writes /var/log (udica's log template) and /tmp.
    func expectNetworkAndFiles(_ found: (String) -> (rules: String, attributes: [String])) {
        func rule(_ type: String, _ parts: String...) -> Bool {
            found(type).rules.split(separator: "\n").contains { line in parts.allSatisfy { line.contains($0) } }
        }
        #expect(found("default.process").attributes.contains("sandbox_net_domain"))
        #expect(!found("batch.process").attributes.contains("sandbox_net_domain"))
        #expect(!rule("batch.process", ":tcp_socket", "name_bind") && !rule("batch.process", ":tcp_socket", "name_connect"))
        #expect(rule("webserver.process", "port_type:tcp_socket", "name_bind"))
        #expect(rule("webserver.process", "logfile:file", "create"))
        #expect(rule("webserver.process", "tmpfile:file", "create"))
        #expect(!rule("batch.process", "logfile:file"))
    }

    /// secilc builds each reference-policy variant against a small MLS base of the project's own.
    @Test(arguments: policies)
    func secilcBuildsReferenceVariant(name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try referenceVariant(name)
        let cil = dir + "/\(name).cil"
        try Data(SELinuxEmitter(f).render().utf8).write(to: URL(fileURLWithPath: cil))
        let base = Paths.root + "/Tests/PolicycTests/Fixtures/mini-base.cil"
        let (status, output) = try runTool("/usr/bin/secilc", ["-M", "true", "-o", dir + "/policy", "-f", "/dev/null", base, cil])
        #expect(status == 0, "\(output)")
        let type = SELinuxLabel(policy: f.policy).type
        #expect(try search(dir + "/policy", ["-s", type]).contains("allow \(type) \(type):process"))
    }

    @Test func typeMustFitTheBase() throws {
        let (_, plain) = compile(text: "policyc: v1\nname: w\nselinux:\n  type: web_t\n")
        #expect(plain.errors.map(\.description) == ["test.yaml:4:9: error: on base container the type is BLOCK.process, udica's naming (for example web.process), or a platform type such as container_t; base: refpolicy declares a plain type"])
        let (_, base) = compile(text: "policyc: v1\nname: w\nselinux:\n  base: refpolicie\n")
        #expect(base.errors.first?.description.contains("did you mean 'refpolicy'") == true, "\(base.errors)")
        for ok in ["type: web.process", "type: container_t", "{base: refpolicy, type: web_t}"] {
            let (compiled, bag) = compile(text: "policyc: v1\nname: w\nselinux: \(ok.hasPrefix("{") ? ok : "{\(ok)}")\n")
            #expect(!bag.hasErrors, "\(ok): \(bag.errors)")
            #expect(SELinuxLabel(policy: try #require(compiled).policy).type == (ok.contains("web_t") ? "web_t" : ok.contains("container_t") ? "container_t" : "web.process"))
        }
    }

    @Test func levelIsStableBlocksDoNotClashAndPlatformTypesAreNotDeclared() throws {
        let a = SELinuxLabel(policy: Policy(file: "x", name: "web-api")).context
        #expect(a == SELinuxLabel(policy: Policy(file: "y", name: "web-api")).context)
        #expect(a.hasPrefix("system_u:system_r:web_api.process:s0:c"))
        #expect(SELinuxLabel(policy: Policy(file: "x", name: "container")).type == "policyc_container.process")
        var ref = Policy(file: "x", name: "default")
        ref.selinux = SELinuxSpec(base: .refpolicy)
        #expect(SELinuxLabel(policy: ref).type == "policyc_default_t")
        let (compiled, bag) = compile(text: "policyc: v1\nname: c\nselinux:\n  type: container_t\n  level: s0:c1,c2\n")
        #expect(!bag.hasErrors, "\(bag.errors)")
        let text = SELinuxEmitter(try #require(compiled)).render()
        #expect(!text.contains("(type ") && !text.contains("(block") && text.contains("system_u:system_r:container_t:s0:c1,c2"))
    }
}
