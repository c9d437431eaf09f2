import Foundation
import Testing

/// The OCI outputs against the runtime-spec's published JSON schema, and the Kubernetes objects
/// against the Security Profiles Operator's CRDs (Tests/Fixtures/schemas, see ORIGIN.md),
/// read by python-jsonschema through Tools/validate-schema.py.
enum Schema {
    static let dir = Paths.root + "/Tests/Fixtures/schemas"

    /// (exit status, one line per error).
    static func validate(_ mode: String, _ file: String, fragment: Bool = false) throws -> (Int32, String) {
        let schemas = dir + (mode == "oci" ? "/oci-runtime-spec" : "/spo-crds")
        return try runTool(Paths.root + "/Tools/validate-schema.py", [mode, schemas, file] + (fragment ? ["--fragment"] : []))
    }
}

@Suite struct OCISchemaTests {
    static let shipped = ["default", "strict", "webserver", "batch"]

    @Test(arguments: shipped)
    func ociFragmentIsValidInAConfig(name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, _, err) = try runPolicyc(["compile", Paths.policies + "/\(name).yaml", "--format", "oci", "-o", dir + "/\(name).oci.json"])
        #expect(status == 0, "\(err)")
        let (valid, errors) = try Schema.validate("oci", dir + "/\(name).oci.json", fragment: true)
        #expect(valid == 0, "\(errors)")
    }

    /// A bundle is for its target host: the labels the policy asks for are written whatever
    /// this kernel has (with a warning), and `--lsm-optional` leaves them out.
    @Test(arguments: shipped)
    func bundleConfigIsValid(name: String) throws {
        for flags in [[], ["--lsm-optional"]] {
            let dir = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let (status, _, err) = try runPolicyc(["bundle", Paths.policies + "/\(name).yaml", "--rootfs", "rootfs", "-o", dir] + flags)
            #expect(status == 0, "\(err)")
            let (valid, errors) = try Schema.validate("oci", dir + "/config.json")
            #expect(valid == 0, "\(errors)")
            let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
            if name == "webserver" {
                let labelled = config.contains("\"apparmorProfile\": \"policyc-webserver\"") && config.contains("\"selinuxLabel\":")
                #expect(labelled == flags.isEmpty, "\(flags): \(config.prefix(600))")
                #expect(err.contains("warning: the bundle carries the apparmor label") == flags.isEmpty, "\(err)")
            }
        }
    }

    /// The validator sees what the schema forbids (so the tests above can fail).
    @Test func schemaViolationsAreReported() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var text = try String(contentsOfFile: Paths.profiles + "/webserver.oci.json", encoding: .utf8)
        text = text.replacingOccurrences(of: "\"defaultAction\": \"SCMP_ACT_ERRNO\"", with: "\"defaultAction\": \"SCMP_ACT_BOGUS\"")
            .replacingOccurrences(of: "\"type\": \"pid\"", with: "\"type\": \"process\"")
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        let (valid, errors) = try Schema.validate("oci", dir + "/bad.json", fragment: true)
        #expect(valid == 1 && errors.contains("linux/seccomp/defaultAction: 'SCMP_ACT_BOGUS' is not one of") && errors.contains("linux/namespaces/0"), "\(errors)")
    }
}

/// NAME.k8s.yaml as Kubernetes reads it: the SeccompProfile against SPO's CRD at its storage
/// version with unknown fields rejected, the Pod with `kubernetes-validate --strict`.
@Suite struct KubernetesSchemaTests {
    static func k8s(_ policy: String, namespace: String? = "team-a") throws -> (Int32, String, String, String) {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.k8s.yaml"
        let (status, _, err) = try runPolicyc(["compile", policy, "--format", "k8s", "-o", path] + (namespace.map { ["--namespace", $0] } ?? []))
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard status == 0 else { return (status, err, text, "") }
        let (crd, crdErrors) = try Schema.validate("crd", path)
        let (pod, podOut) = try runTool("/usr/bin/env", ["kubernetes-validate", "--strict", "--quiet", "--no-warn", path])
        return (crd == 0 && pod == 0 ? 0 : 1, err, text, crdErrors + podOut)
    }

    @Test(arguments: OCISchemaTests.shipped)
    func shippedObjectsAreValid(name: String) throws {
        let (status, err, text, errors) = try Self.k8s(Paths.policies + "/\(name).yaml")
        #expect(status == 0, "\(err)\(errors)")
        #expect(text.contains("apiVersion: \"security-profiles-operator.x-k8s.io/v1\"") && !text.contains("defaultErrnoRet"))
        #expect(text.contains("namespace: \"team-a\"") && text.contains("localhostProfile: \"operator/\(name).json\""), "\(text.suffix(800))")
        // A Pod asks for AppArmor and SELinux labels only when the policy has those layers.
        let layered = ["strict", "webserver"].contains(name)
        #expect(text.contains("appArmorProfile:") == layered && text.contains("seLinuxOptions:") == layered, "\(text.suffix(800))")
    }

    /// What the old output carried (v1beta1, defaultErrnoRet) is what the CRD check rejects.
    @Test func crdValidationRejectsOtherVersionsAndUnknownFields() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("""
            apiVersion: security-profiles-operator.x-k8s.io/v1beta1
            kind: SeccompProfile
            metadata: {name: old}
            spec: {defaultAction: SCMP_ACT_ERRNO, defaultErrnoRet: 38}
            """.utf8).write(to: URL(fileURLWithPath: dir + "/old.yaml"))
        let (status, errors) = try Schema.validate("crd", dir + "/old.yaml")
        #expect(status == 1 && errors.contains("is not the storage version") && errors.contains("'defaultErrnoRet' was unexpected"), "\(errors)")
    }

    /// SPO keeps values as int64s: a block's mask loses bit 63 only where that changes no
    /// verdict (the shipped webserver's socket families); elsewhere a located error. A default
    /// errno other than EPERM cannot be said without defaultErrnoRet.
    @Test(arguments: [("defaultAction: allow", "action: errno(EACCES)\n      when: \"arg0 >= 8 && arg0 <= 9\"", "int64s of at least 0"),
                      ("defaultAction: errno(ENOSYS)", "action: allow", "no defaultErrnoRet")])
    func whatSeccompProfileCannotSayIsALocatedError(_ defaultAction: String, _ rule: String, _ message: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("""
            policyc: v1
            name: spo
            seccomp:
              \(defaultAction)
              architectures: [x86_64]
              syscalls:
                - names: [socket]
                  \(rule)
                - names: [execve, exit_group]
                  action: allow
            """.utf8).write(to: URL(fileURLWithPath: dir + "/spo.yaml"))
        let (status, err, text, _) = try Self.k8s(dir + "/spo.yaml")
        #expect(status == 1 && err.contains("spo.yaml:7:7: error:") && err.contains(message) && text.isEmpty, "\(err)")
        let (json, _, jsonErr) = try runPolicyc(["compile", dir + "/spo.yaml", "--format", "seccomp-json", "-o", dir + "/spo.json"])
        #expect(json == 0, "\(jsonErr)")
    }

    @Test func namespaceIsADNSLabel() throws {
        let (status, _, err) = try runPolicyc(["compile", Paths.policies + "/default.yaml", "--format", "k8s", "-o", "/dev/null", "--namespace", "Team_A"])
        #expect(status != 0 && err.contains("a Kubernetes namespace is a DNS label"), "\(err)")
    }
}
