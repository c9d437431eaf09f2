import Foundation
import PolicyCompiler
import PolicyModel
import Testing
import Yams

/// The AppArmor, SELinux, OCI and Kubernetes outputs, each checked by the tool that consumes it.
@Suite struct LSMOutputTests {
    static let policies = ShippedPolicies.all.keys.sorted()

    func filter(_ name: String) throws -> CompiledFilter {
        let (compiled, bag) = compile(path: Paths.policies + "/\(name).yaml")
        return try #require(compiled, "\(bag.errors)")
    }

    func run(_ tool: String, _ arguments: [String]) throws -> (Int32, String) { try runTool(tool, arguments) }

    /// apparmor_parser compiles without loading (the kernel here has no AppArmor).
    func parseAppArmor(_ path: String) throws -> (Int32, String) {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, output) = try run("/usr/sbin/apparmor_parser", ["-Q", "-K", "-M", "/usr/share/apparmor-features/features", "-o", dir + "/profile.bin", path])
        let noise = output.split(separator: "\n").filter { !$0.contains("Cache read/write disabled") }
        return (status, noise.joined(separator: "\n"))
    }

    /// A profile with a filesystem section still lets a program start (Docker's and bane's
    /// base: the loader, /sys/devices/system/cpu/online, ...) and read /; no rule is written twice.
    @Test(arguments: policies)
    func apparmorProfileHasTheBaseAndNoRepeatedRule(name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = AppArmorEmitter(try filter(name)).render()
        let rules = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasSuffix(",") }
        #expect(Set(rules).count == rules.count, "\(rules.filter { r in rules.filter { $0 == r }.count > 1 })")
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/p.apparmor"))
        // -p: the profile as the parser reads it, includes expanded.
        let (status, expanded) = try run("/usr/sbin/apparmor_parser", ["-p", "-M", "/usr/share/apparmor-features/features", dir + "/p.apparmor"])
        #expect(status == 0, "\(expanded)")
        #expect(expanded.contains("@{sys}/devices/system/cpu/online r,") && expanded.contains("@{PROC}=/proc/"), "\(expanded.prefix(400))")
        #expect(rules.contains("/ r,") || rules.contains("file,"))
    }

    @Test(arguments: policies)
    func apparmorParserAcceptsProfile(name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try filter(name)
        let text = AppArmorEmitter(f).render()
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/\(name).apparmor"))
        let (status, output) = try parseAppArmor(dir + "/\(name).apparmor")
        #expect(status == 0 && output.isEmpty, "\(output)\n\(text)")
        #expect(text.contains("deny mount,") && text.contains("deny @{PROC}/sysrq-trigger rwklx,"))
        for cap in CapabilitySets.names(f.capabilities.bounding) {
            #expect(text.contains("  capability \(cap.dropFirst(4).lowercased()),"))
        }
        #expect(text.contains("signal (send,receive) peer=\(OCIFragmentEmitter(f).apparmorProfile),"))
    }

    @Test func apparmorParserAcceptsDockersProfile() throws {
        let (status, output) = try parseAppArmor(Paths.corpus + "/apparmor/moby-default.golden")
        #expect(status == 0 && output.isEmpty, "\(output)")
    }

    @Test func complainModeAndFamilies() throws {
        let (compiled, _) = compile(text: """
            policyc: v1
            name: quiet
            apparmor: { mode: complain, rules: ["/opt/app/** r,"] }
            network: { families: [unix, inet6] }
            filesystem: { read: [/usr], write: [/tmp], deny: [/etc/shadow] }
            """)
        let text = AppArmorEmitter(try #require(compiled)).render()
        #expect(text.contains("flags=(attach_disconnected,mediate_deleted,complain)"))
        #expect(text.contains("  network inet6,\n  network unix,\n") && !text.contains("  network,"))
        #expect(text.contains("/usr{,/**} mr,") && text.contains("/tmp{,/**} rwlk,") && text.contains("deny /etc/shadow{,/**} rwklx,"))
        #expect(text.contains("  /opt/app/** r,") && !text.contains("  file,"))
    }

    @Test(arguments: policies)
    func kubernetesYAMLRoundTrips(name: String) throws {
        let f = try filter(name)
        let yaml = try KubernetesEmitter(f).render()
        let documents = try Array(Yams.load_all(yaml: yaml))
        let selinux = f.policy.selinux != nil
        #expect(documents.count == (selinux ? 3 : 2))
        #expect(((documents.count == 3 ? documents[1] : nil) as? [String: Any])?["kind"] as? String == (selinux ? "SelinuxProfile" : nil))
        let profile = try #require(documents[0] as? [String: Any])
        #expect(profile["kind"] as? String == "SeccompProfile")
        let spec = try #require(profile["spec"] as? [String: Any])
        let json = try JSONSerialization.jsonObject(with: Data((try SeccompJSONEmitter(f).object().render()).utf8)) as? [String: Any]
        #expect((spec["syscalls"] as? [Any])?.count == (json?["syscalls"] as? [Any])?.count)
        #expect(spec["defaultAction"] as? String == json?["defaultAction"] as? String)
        let pod = try #require(documents.last as? [String: Any])
        let security = try #require((pod["spec"] as? [String: Any])?["securityContext"] as? [String: Any])
        #expect((security["seccompProfile"] as? [String: Any])?["type"] as? String == "Localhost")
        let selinuxType = (security["seLinuxOptions"] as? [String: Any])?["type"] as? String
        #expect(selinuxType == (f.policy.selinux == nil ? nil : SELinuxLabel(policy: f.policy).type))
    }

    @Test func ociFragmentCarriesEveryField() throws {
        let f = try filter("webserver")
        let text = try OCIFragmentEmitter(f).object().render()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let process = try #require(object["process"] as? [String: Any])
        let caps = try #require(process["capabilities"] as? [String: [String]])
        #expect(caps["bounding"] == ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"])
        #expect(caps["ambient"] == [])
        #expect(process["noNewPrivileges"] as? Bool == true)
        #expect(process["apparmorProfile"] as? String == "policyc-webserver")
        #expect(process["selinuxLabel"] as? String == "system_u:system_r:webserver.process:s0:c10,c20")
        #expect((process["rlimits"] as? [[String: Any]])?.first?["type"] as? String == "RLIMIT_NOFILE")
        let linux = try #require(object["linux"] as? [String: Any])
        for key in ["seccomp", "maskedPaths", "readonlyPaths", "resources", "namespaces"] { #expect(linux[key] != nil, "\(key)") }
        let resources = try #require(linux["resources"] as? [String: Any])
        let memory = resources["memory"] as? [String: Any], pids = resources["pids"] as? [String: Any], cpu = resources["cpu"] as? [String: Any]
        #expect(memory?["limit"] as? Int == 256 << 20 && pids?["limit"] as? Int == 256)
        #expect(cpu?["quota"] as? Int == 100_000)
        // runc's device rules, spelt out: deny all first, then the usual character devices.
        let devices = try #require(resources["devices"] as? [[String: Any]])
        #expect(devices.first?["allow"] as? Bool == false && devices.first?["access"] as? String == "rwm" && devices.first?["type"] == nil)
        #expect(devices.contains { $0["allow"] as? Bool == true && $0["type"] as? String == "c" && $0["major"] as? Int == 1 && $0["minor"] as? Int == 3 })
        #expect(!devices.contains { $0["type"] as? String == "b" }, "no block device")
    }

    /// container.devices: the node (linux.devices) and its access rule, as runc reads them.
    @Test func ociFragmentCarriesThePolicysDevices() throws {
        let (compiled, bag) = compile(text: "policyc: v1\nname: d\nextends: [default]\ncontainer:\n  devices: [{path: /dev/fuse, type: c, major: 10, minor: 229, access: rw, fileMode: 0o600, uid: 0, gid: 0}]\n")
        let text = try OCIFragmentEmitter(try #require(compiled, "\(bag.errors)")).object().render()
        let linux = try #require((try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["linux"] as? [String: Any])
        let nodes = try #require(linux["devices"] as? [[String: Any]])
        #expect(nodes.count == 1 && nodes[0]["path"] as? String == "/dev/fuse" && nodes[0]["major"] as? Int == 10 && nodes[0]["fileMode"] as? Int == 0o600)
        let rules = try #require((linux["resources"] as? [String: Any])?["devices"] as? [[String: Any]])
        #expect(rules.last.map { $0["major"] as? Int == 10 && $0["minor"] as? Int == 229 && $0["access"] as? String == "rw" } == true)
    }
}
