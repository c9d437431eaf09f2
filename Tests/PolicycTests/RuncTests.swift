import Foundation
import Testing

/// NAME.seccomp.json as `linux.seccomp` of a real OCI bundle, run by Debian's runc on a static
/// busybox rootfs: runc must accept it and the kernel must enforce it.
@Suite(.serialized) struct RuncTests {
    static let policy = """
        policyc: v1
        name: runc-probe
        extends: [default]
        seccomp:
          syscalls:
            - names: [mkdir, mkdirat]
              action: errno(EXDEV)
        """

    func makeBundle(seccompJSON: String, script: String) throws -> String {
        let dir = try temporaryDirectory()
        let rootfs = dir + "/rootfs"
        try FileManager.default.createDirectory(atPath: rootfs + "/bin", withIntermediateDirectories: true)
        for sub in ["proc", "dev", "sys", "tmp"] {
            try FileManager.default.createDirectory(atPath: rootfs + "/" + sub, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/sh", withDestinationPath: "busybox")
        let config = """
            {
              "ociVersion": "1.0.2",
              "process": {
                "terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/",
                "args": ["/bin/busybox", "sh", "-c", \(JSONString(script))],
                "env": ["PATH=/bin"],
                "noNewPrivileges": true
              },
              "root": {"path": "rootfs", "readonly": true},
              "hostname": "policyc",
              "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
              ],
              "linux": {
                "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
                "seccomp": \(seccompJSON)
              }
            }
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }

    func JSONString(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    func run(_ tool: String, _ arguments: [String]) throws -> (Int32, String) { try runTool(tool, arguments) }

    /// `policyc bundle` writes the whole config.json; checked from inside the container.
    @Test func bundleRunsUnderRuncWithThePolicysCapabilitiesAndFilter() throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let source = work + "/bundled.yaml"
        try Data("""
            policyc: v1
            name: bundled
            extends: [default]
            capabilities: { drop: [ALL], add: [CHOWN, NET_BIND_SERVICE, SETUID] }
            container: { hostname: boxed }
            seccomp:
              syscalls:
                - names: [mkdir, mkdirat]
                  action: errno(EXDEV)
            """.utf8).write(to: URL(fileURLWithPath: source))
        let bundle = work + "/bundle"
        try FileManager.default.createDirectory(atPath: bundle + "/rootfs/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: bundle + "/rootfs/bin/busybox")
        let script = "grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status; busybox mkdir /tmp/x; echo mkdir=$?; busybox cat /proc/sys/kernel/hostname; busybox ls /proc | busybox grep -c '^[0-9]'"
        let (status, _, stderr) = try runPolicyc(["bundle", source, "--rootfs", "rootfs", "-o", bundle, "--", "/bin/busybox", "sh", "-c", script])
        #expect(status == 0, "\(stderr)")
        let id = "policyc-bundle-\(getpid())"
        let (code, output) = try run("/usr/sbin/runc", ["run", "--bundle", bundle, id])
        _ = try? run("/usr/sbin/runc", ["delete", "-f", id])
        #expect(code == 0, "\(output)")
        let mask = String(format: "%016llx", CapabilitySetsMask.chownBindSetuid)
        for line in ["CapBnd:\t\(mask)", "CapEff:\t\(mask)", "CapPrm:\t\(mask)", "CapInh:\t0000000000000000", "CapAmb:\t0000000000000000",
                     "Seccomp:\t2", "NoNewPrivs:\t1", "mkdir=1", "boxed"] {
            #expect(output.contains(line), "\(line) missing in:\n\(output)")
        }
        #expect(output.contains("Invalid cross-device link"), "\(output)")
    }

    @Test func runcEnforcesTheCompiledProfile() throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let source = work + "/runc-probe.yaml"
        try Data(Self.policy.utf8).write(to: URL(fileURLWithPath: source))
        let (status, _, stderr) = try runPolicyc(["compile", source, "-o", work])
        #expect(status == 0, "\(stderr)")
        let json = try String(contentsOfFile: work + "/runc-probe.seccomp.json", encoding: .utf8)
        let bundle = try makeBundle(seccompJSON: json, script: "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; busybox mkdir /tmp/x; echo mkdir=$?; busybox cat /proc/sys/kernel/hostname")
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = "policyc-test-\(getpid())"
        let (code, output) = try run("/usr/sbin/runc", ["run", "--bundle", bundle, id])
        _ = try? run("/usr/sbin/runc", ["delete", "-f", id])
        #expect(code == 0, "\(output)")
        #expect(output.contains("Seccomp:\t2"), "\(output)")
        #expect(output.contains("NoNewPrivs:\t1"), "\(output)")
        #expect(output.contains("Invalid cross-device link") && output.contains("mkdir=1"), "\(output)")
        #expect(output.contains("policyc\n"), "\(output)")
    }
}

enum CapabilitySetsMask {
    /// CAP_CHOWN (0), CAP_SETUID (7), CAP_NET_BIND_SERVICE (10).
    static let chownBindSetuid: UInt64 = 1 << 0 | 1 << 7 | 1 << 10
}
