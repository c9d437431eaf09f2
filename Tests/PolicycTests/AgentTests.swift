import Foundation
import Testing

/// `policyc agent` with Debian's runc: bundles from `policyc bundle --audit --listener`.
@Suite(.serialized) struct AgentTests {
    static let workload = AuditRecordTests.workload

    /// A running agent, its socket and record directory, stopped by `stop()`.
    final class Agent {
        let process = Process()
        let dir: String
        var socket: String { dir + "/agent.sock" }
        var records: String { dir + "/records" }

        init(dir: String, policy: String) throws {
            self.dir = dir
            try FileManager.default.createDirectory(atPath: dir + "/records", withIntermediateDirectories: true)
            process.executableURL = URL(fileURLWithPath: Paths.binary)
            process.arguments = ["agent", "--listen", dir + "/agent.sock", "--policy", policy, "--audit-report", dir + "/records"]
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(20_000) }
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// The call records of container `id`, once its summary is written.
        func calls(_ id: String) throws -> [[String: Any]] {
            let path = records + "/\(id).jsonl"
            for _ in 0..<200 where !(((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("\"type\":\"summary\"")) { usleep(20_000) }
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return try text.split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .filter { $0["type"] as? String == "call" }
        }
    }

    func setUp() throws -> (dir: String, policy: String) {
        try #require(Self.workload.status == 0, "\(Self.workload.log)")
        let (dir, policy) = try policyFile(AuditRecordTests.strict, named: "known.yaml")
        for sub in ["bundle/rootfs/bin", "bundle/rootfs/tmp"] { try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: Self.workload.path, toPath: dir + "/bundle/rootfs/known-calls")
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: dir + "/bundle/rootfs/bin/busybox")
        return (dir, policy)
    }

    func bundle(_ dir: String, _ policy: String, socket: String, name: String, _ command: [String]) throws -> String {
        let bundle = dir + "/" + name
        if bundle != dir + "/bundle" {
            try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        }
        // runc refuses a rootfs that is a symlink: the other bundles name the first one's.
        let rootfs = bundle == dir + "/bundle" ? "rootfs" : dir + "/bundle/rootfs"
        let (status, _, err) = try runPolicyc(["bundle", policy, "--audit", "--listener", socket, "--rootfs", rootfs, "-o", bundle, "--lsm-optional", "--"] + command)
        #expect(status == 0, "\(err)")
        return bundle
    }

    func runc(_ bundle: String, _ id: String) throws -> (Int32, String) {
        defer { _ = try? runTool("/usr/sbin/runc", ["delete", "-f", id]) }
        return try runTool("/bin/sh", ["-c", "cd \(bundle) && timeout 30 /usr/sbin/runc run \(id) </dev/null"])
    }

    /// The agent's record of a container under runc equals `policyc run --audit`'s of the same
    /// workload and policy, call for call, with none of runc's own calls.
    @Test func agentRecordEqualsRunAudit() throws {
        let (dir, policy) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try Agent(dir: dir + "/agent", policy: policy)
        defer { agent.stop() }
        let bundle = try bundle(dir, policy, socket: agent.socket, name: "bundle", ["/known-calls", "getppid"])
        let id = "policyc-agent-\(getpid())"
        let (status, out) = try runc(bundle, id)
        #expect(status == 0, "\(out)")
        let agentCalls = try agent.calls(id)
        let (ran, _, err) = try runPolicyc(["run", "--audit", "--audit-report", dir + "/run.jsonl", "--policy", policy, "--rootfs", dir + "/bundle/rootfs", "--", "/known-calls", "getppid"])
        #expect(ran == 0, "\(err)")
        let runCalls = try String(contentsOfFile: dir + "/run.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.filter { $0["type"] as? String == "call" }
        let shape = { (r: [String: Any]) in "\(r["syscall"] ?? "") \(r["verdict"] ?? "") \(r["rule"] ?? "") \(r["count"] ?? "")" }
        #expect(agentCalls.map(shape) == runCalls.map(shape) && agentCalls.count == 2, "agent \(agentCalls.map(shape)) run \(runCalls.map(shape))")
        let (valid, errors) = try runTool(Paths.root + "/Tools/validate-schema.py", ["jsonl", Paths.root + "/Docs/audit-record.schema.json", agent.records + "/\(id).jsonl"])
        #expect(valid == 0, "\(errors)")
        // The agent's record feeds suggest and report as run --audit's does.
        let (suggested, suggestion, suggestErr) = try runPolicyc(["suggest", agent.records + "/\(id).jsonl"])
        #expect(suggested == 0 && suggestion.contains("names: [getppid]"), "\(suggestion)\(suggestErr)")
        let (reported, _, reportErr) = try runPolicyc(["report", policy, "--audit", agent.records + "/\(id).jsonl", "--baseline", "default", "-o", dir + "/review"])
        let md = (try? String(contentsOfFile: dir + "/review/report.md", encoding: .utf8)) ?? ""
        #expect(reported == 0 && md.contains("| `getppid` | x86_64 | 2 |"), "\(reportErr)\(md)")
    }

    /// Two containers at once, each record only its own; bad peers on the socket change nothing.
    @Test func twoContainersAndBadPeers() throws {
        let (dir, policy) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try Agent(dir: dir + "/agent", policy: policy)
        defer { agent.stop() }
        // A peer that sends garbage, one that sends a state without a descriptor, one that hangs up.
        for payload in ["garbage{", #"{"ociVersion":"1.0.2","fds":["seccompFd"],"state":{"id":"fake"}}"#, ""] {
            _ = try runTool("/usr/bin/python3", ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()); s.close()", agent.socket, payload])
        }
        let a = try bundle(dir, policy, socket: agent.socket, name: "bundle", ["/known-calls", "getppid"])
        let b = try bundle(dir, policy, socket: agent.socket, name: "other", ["/bin/busybox", "mkdir", "/tmp/from-b"])
        let ids = ["policyc-a-\(getpid())", "policyc-b-\(getpid())"]
        let group = DispatchGroup()
        let results = Results()
        for (i, bundle) in [a, b].enumerated() {
            group.enter()
            let id = ids[i]
            Thread.detachNewThread { results.set(i, (try? runTool("/bin/sh", ["-c", "cd \(bundle) && timeout 30 /usr/sbin/runc run \(id) </dev/null; /usr/sbin/runc delete -f \(id) 2>/dev/null"]).0) ?? -1); group.leave() }
        }
        group.wait()
        let first = try agent.calls(ids[0]).compactMap { $0["syscall"] as? String }
        let second = try agent.calls(ids[1]).compactMap { $0["syscall"] as? String }
        #expect(first == ["getppid", "getppid"], "\(first)")
        #expect(second.contains("mkdir") && !second.contains("getppid"), "\(second)")
        #expect(!FileManager.default.fileExists(atPath: agent.records + "/fake.jsonl"))
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int: Int32] = [:]
        func set(_ i: Int, _ v: Int32) { lock.withLock { values[i] = v } }
    }

    /// An agent killed while its container runs: the kernel answers the container's notified
    /// calls ENOSYS once nobody holds the listener, so the container is never blocked.
    @Test func aKilledAgentNeverBlocksTheContainer() throws {
        let (dir, policy) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = try Agent(dir: dir + "/agent", policy: policy)
        let bundle = try bundle(dir, policy, socket: agent.socket, name: "bundle", ["/known-calls", "later"])
        let id = "policyc-killed-\(getpid())"
        let runc = Process()
        runc.executableURL = URL(fileURLWithPath: "/bin/sh")
        runc.arguments = ["-c", "cd \(bundle) && timeout 30 /usr/sbin/runc run \(id) </dev/null > \(dir)/out.txt 2>&1; /usr/sbin/runc delete -f \(id) 2>/dev/null"]
        try runc.run()
        usleep(150_000)
        agent.stop()
        runc.waitUntilExit()
        let out = try String(contentsOfFile: dir + "/out.txt", encoding: .utf8)
        #expect(out.contains("ok=0"), "\(out)")
    }
}

/// Kubernetes: the audit SeccompProfile carries the listener where SPO's CRD allows it.
@Suite struct AgentKubernetesTests {
    @Test func auditSeccompProfileIsValidForSPO() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = "/var/run/security-profiles-operator/policyc-agent.sock"
        let (status, _, err) = try runPolicyc(["compile", Paths.policies + "/strict.yaml", "--audit", "--listener", good, "--format", "k8s", "-o", dir + "/a.k8s.yaml"])
        #expect(status == 0, "\(err)")
        let text = try String(contentsOfFile: dir + "/a.k8s.yaml", encoding: .utf8)
        #expect(text.contains("listenerPath: \"\(good)\"") && text.contains("SCMP_ACT_NOTIFY"), "\(text.prefix(500))")
        let (crd, errors) = try Schema.validate("crd", dir + "/a.k8s.yaml")
        #expect(crd == 0, "\(errors)")
        let (bad, _, badErr) = try runPolicyc(["compile", Paths.policies + "/strict.yaml", "--audit", "--listener", "/run/agent.sock", "--format", "k8s", "-o", dir + "/b.k8s.yaml"])
        #expect(bad == 1 && badErr.contains("strict.yaml:") && badErr.contains("/var/run/security-profiles-operator/"), "\(badErr)")
    }
}

/// The shipped manifests: valid for a current Kubernetes, and the example profile is what
/// `compile --audit` writes today.
@Suite struct AgentManifestTests {
    static let dir = Paths.root + "/Deploy/kubernetes"

    @Test func manifestsAreValid() throws {
        for file in ["policyc-agent.yaml", "strict-audit.k8s.yaml"] {
            let (status, out) = try runTool("/usr/bin/env", ["kubernetes-validate", "--strict", "--quiet", "--no-warn", Self.dir + "/" + file])
            #expect(status == 0, "\(file): \(out)")
        }
        let (crd, errors) = try Schema.validate("crd", Self.dir + "/strict-audit.k8s.yaml")
        #expect(crd == 0, "\(errors)")
    }

    @Test func exampleProfileIsCurrent() throws {
        let (status, out, err) = try runPolicyc(["compile", "Policies/strict.yaml", "--audit", "--listener", "/var/run/security-profiles-operator/policyc-agent.sock",
                                                  "--format", "k8s", "-o", "-"], cwd: Paths.root)
        #expect(status == 0, "\(err)")
        #expect(out == (try String(contentsOfFile: Self.dir + "/strict-audit.k8s.yaml", encoding: .utf8)), "regenerate Deploy/kubernetes/strict-audit.k8s.yaml")
    }
}
