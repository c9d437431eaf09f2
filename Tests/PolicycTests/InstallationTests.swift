import Foundation
@testable import SystemLayer
import Testing

/// policyc is two executables: `policyc`, small, which starts cached profiles itself, and
/// `policyc-full` beside it, which does everything else.
@Suite(.serialized) struct InstallationTests {
    /// What makes policyc start fast is what it leaves out: Foundation, the compiler, libseccomp.
    @Test func smallExecutableLinksNeitherFoundationNorTheCompiler() throws {
        let (status, out) = try runTool("/usr/bin/ldd", [Paths.binary])
        #expect(status == 0, "\(out)")
        let libraries = out.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) ?? "" }
        #expect(!libraries.isEmpty && !libraries.contains { $0.contains("Foundation") || $0.contains("seccomp") }, "\(out)")
        let (_, full) = try runTool("/usr/bin/ldd", [Paths.fullBinary])
        #expect(full.contains("Foundation"), "the check would notice Foundation: \(full)")
    }

    /// A run whose profile is cached stays in policyc; the first one, which compiles, is
    /// policyc-full's. Without a pid namespace the container sees which ran it.
    @Test func cachedRunStaysInTheSmallExecutable() throws {
        let (dir, path) = try policyFile("policyc: v1\nname: two\nextends: [default]\ncontainer:\n  namespaces: [mount, uts, ipc, net]\n", named: "two.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["POLICYC_CACHE_DIR": dir + "/cache"]
        let args = ["run", "--policy", path, "--", "/bin/sh", "-c", "cat /proc/$PPID/comm"]
        let (first, out1, err1) = try runPolicyc(args, cwd: "/tmp", environment: env)
        let (second, out2, err2) = try runPolicyc(args, cwd: "/tmp", environment: env)
        #expect(first == 0 && out1 == "policyc-full\n", "\(out1)\(err1)")
        #expect(second == 0 && out2 == "policyc\n", "\(out2)\(err2)")
    }

    /// Every other command line reaches policyc-full unchanged: its output, messages and
    /// exit status are policyc-full's own.
    @Test(arguments: [["--version"], ["check", "/nonexistent.yaml"], ["run"], ["groups", "@bogus"], ["run", "--audit", "--bogus", "--", "x"]])
    func otherCommandsAreHandedOverUnchanged(_ arguments: [String]) throws {
        let small = try runPolicyc(arguments, cwd: "/tmp")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.fullBinary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        let full = try runCapturing(process)
        #expect(small.0 == full.0 && small.1 == full.1 && small.2 == full.2, "\(small) vs \(full)")
    }

    /// policyc without policyc-full beside it says so, and fails.
    @Test func missingFullExecutableIsAnError() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Paths.binary, toPath: dir + "/policyc")
        let (status, out, err) = try runCapturing({
            let p = Process()
            p.executableURL = URL(fileURLWithPath: dir + "/policyc")
            p.arguments = ["--version"]
            return p
        }())
        #expect(status == 1 && out.isEmpty && err == "policyc: cannot run \(dir)/policyc-full: execve: No such file or directory (errno 2)\n", "\(err)")
    }

    /// The cleaner keeps what it is handed (the container's mount namespace) until policyc's end
    /// of the channel closes, then removes the cgroup directories and ends.
    @Test func cleanerHoldsWhatItIsGivenUntilPolicycIsGone() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dirs = [dir + "/a", dir + "/b"]
        for d in dirs { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false) }
        let cleaner = try ProcessControl.spawnCleaner(cgroupDirs: dirs, staleBases: [])
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        #expect(cleaner.hold(fds[1]) == 0)
        close(fds[1])
        // The write end lives on in the cleaner: no EOF while policyc does.
        var poll = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        #expect(Glibc.poll(&poll, 1, 200) == 0, "the cleaner let go of the descriptor early")
        #expect(dirs.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        close(cleaner.channel)
        #expect(Glibc.poll(&poll, 1, 5000) == 1 && poll.revents & Int16(POLLHUP) != 0, "the cleaner did not end")
        close(fds[0])
        #expect(!dirs.contains { FileManager.default.fileExists(atPath: $0) })
    }
}
