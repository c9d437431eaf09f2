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
