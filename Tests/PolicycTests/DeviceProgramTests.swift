import Foundation
@testable import LaunchCore
@testable import Launcher
import PolicyCompiler
import PolicyModel
import Testing

/// The cgroup v2 device program, loaded by the kernel and attached to a real v2 cgroup (this
/// host's hybrid layout has one at /sys/fs/cgroup/unified; a pure v2 host at /sys/fs/cgroup).
@Suite struct DeviceProgramTests {
    static var v2Mount: String? {
        ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].first { FileManager.default.fileExists(atPath: $0 + "/cgroup.procs") && FileManager.default.fileExists(atPath: $0 + "/cgroup.controllers") }
    }

    /// Every open and mknod decided as the rules say: the usual nodes and the policy's fuse
    /// (read only) pass; a block device, kvm, and a write to fuse are refused.
    @Test func kernelEnforcesTheDeviceProgram() throws {
        let mount = try #require(Self.v2Mount, "no cgroup v2 mount")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, type, major, minor) in [("blk", "b", 7, 0), ("kvm", "c", 10, 232), ("fuse", "c", 10, 229), ("null", "c", 1, 3)] {
            let (status, out) = try runTool("/usr/bin/mknod", [dir + "/" + name, type, "\(major)", "\(minor)"])
            #expect(status == 0, "\(out)")
        }
        let cgroup = mount + "/" + ContainerCgroup.uniqueName("test-devices-\(getpid())")
        try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: false)
        defer { rmdir(cgroup) }
        var container = ContainerSpec()
        container.devices = [DeviceSpec(path: "/dev/fuse", type: "c", major: 10, minor: 229, access: "r")]
        try ContainerCgroup.attachDeviceFilter(container, to: cgroup)
        let d = dir
        let script = """
            echo $$ > \(cgroup)/cgroup.procs
            true < \(d)/null; echo null=$?; true < \(d)/blk; echo blk=$?; true < \(d)/kvm; echo kvm=$?
            true < \(d)/fuse; echo fuse-r=$?; true > \(d)/fuse; echo fuse-w=$?
            mknod \(d)/c2 c 1 5; echo mknod-c=$?; mknod \(d)/b2 b 7 1; echo mknod-b=$?
            """
        let (_, out) = try runTool("/bin/sh", ["-c", script])
        for line in ["null=0", "blk=2", "kvm=2", "fuse-r=0", "fuse-w=2", "mknod-c=0", "mknod-b=1"] {
            #expect(out.contains(line + "\n"), "\(line) in:\n\(out)")
        }
        #expect(out.contains("Operation not permitted"), "\(out)")
    }

    /// Deterministic bytes: the same rules give the same program.
    @Test func programIsDeterministicAndEndsInDeny() {
        let rules = DeviceRules.allowed(ContainerSpec())
        let bytes = DeviceProgram.bytes(rules)
        #expect(bytes == DeviceProgram.bytes(rules) && bytes.count % 8 == 0)
        // The last two instructions: r0 = 0, exit.
        #expect(Array(bytes.suffix(16)) == [0xB7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
    }
}
