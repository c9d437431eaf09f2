import Foundation
@testable import LaunchCore
@testable import Launcher
import PolicyCompiler
import PolicyModel
@testable import PolicycCLI
import SystemLayer
import Testing

/// What makes `policyc run` start fast: the quick command-line path, the compiled profile's
/// bytes, and the profile cache.
@Suite struct RunFastPathTests {
    /// Every command line the quick path takes, it reads as ArgumentParser does.
    @Test(arguments: [
        ["--", "/bin/true"],
        ["--policy", "p.yaml", "--rootfs", "/r", "--", "sh", "-c", "exit 3"],
        ["-I", "a", "--policy", "p", "-I", "b", "--", "x"],
        ["--tty", "--init", "--lsm-optional", "--no-cache", "--", "x", "--policy", "-t"],
        ["-t", "--", "x"],
        ["--bundle", "b", "--"],
    ])
    func quickPathAgreesWithArgumentParser(_ arguments: [String]) throws {
        let quick = try #require(RunRequest.parseQuickly(arguments[...]))
        let parsed = try #require(try Policyc.parseAsRoot(["run"] + arguments) as? Run)
        #expect(quick == parsed.request)
    }

    /// The rest goes to ArgumentParser: help, other spellings, repeats, unknown options, and
    /// what validation refuses, so that messages and exit codes stay ArgumentParser's.
    @Test(arguments: [
        ["--help"], ["--policy=p", "--", "x"], ["--policy", "a", "--policy", "b", "--", "x"], ["--tty", "-t", "--", "x"],
        ["--bogus", "--", "x"], ["x"], ["--"], ["--bundle", "b"], ["--bundle", "b", "--rootfs", "r", "--", "x"],
        ["--policy", "--", "x"], ["-I"], ["--audit", "--", "x"],
    ])
    func quickPathLeavesTheRestToArgumentParser(_ arguments: [String]) {
        #expect(RunRequest.parseQuickly(arguments[...]) == nil)
    }

    static func webserverProfile() throws -> RunProfile {
        RunProfile(try #require(compile(path: Paths.policies + "/webserver.yaml").0))
    }

    @Test func profileBytesRoundTrip() throws {
        var profile = try Self.webserverProfile()
        profile.container.mounts = [MountSpec(type: "tmpfs", source: nil, destination: "/run", options: ["size=1m"])]
        profile.container.rlimits = ["nofile": 1024, "core": 0]
        profile.container.env = [("A", "1"), ("B", "")]
        profile.container.cpus = 0.5
        profile.filesystem = .init(read: ["/usr"], write: ["/tmp"], exec: [])
        profile.tcpBind = [8080]
        let bytes = profile.encoded()
        #expect(RunProfile(decoding: bytes[...]) == profile)
        #expect(bytes == profile.encoded(), "encoding is deterministic")
        // A cut or a flipped tag is no profile, never a different one.
        #expect(RunProfile(decoding: bytes.dropLast()) == nil)
        #expect(RunProfile(decoding: bytes[...] + [0]) == nil)
        var wrongMagic = bytes
        wrongMagic[0] ^= 1
        #expect(RunProfile(decoding: wrongMagic[...]) == nil)
    }

    @Test func cacheHitsOnlyWhileEveryInputIsUnchanged() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = ProfileCache(directory: dir + "/cache")
        let policy = dir + "/p.yaml", absent = dir + "/inc/base.yaml"
        try Data("policyc: v1\nname: p\n".utf8).write(to: URL(fileURLWithPath: policy))
        let entry = ProfileCache.Entry(profile: try Self.webserverProfile(), warnings: "p.yaml:1:1: warning: x\n")
        let inputs = [PolicyInput(path: policy, contents: Array("policyc: v1\nname: p\n".utf8)), PolicyInput(path: absent, contents: nil)]
        let key = try #require(ProfileCache.key(policy: policy, includeDirs: [dir + "/inc"]))
        #expect(cache.lookup(key: key) == nil)
        cache.store(key: key, inputs: inputs, entry: entry)
        #expect(cache.lookup(key: key) == entry)
        #expect(cache.lookup(key: key + "x") == nil, "another key")
        // The directory and entry are private to the user.
        #expect(try FileManager.default.attributesOfItem(atPath: dir + "/cache")[.posixPermissions] as? Int == 0o700)

        try Data("policyc: v1\nname: q\n".utf8).write(to: URL(fileURLWithPath: policy))
        #expect(cache.lookup(key: key) == nil, "the policy changed")
        try Data("policyc: v1\nname: p\n".utf8).write(to: URL(fileURLWithPath: policy))
        #expect(cache.lookup(key: key) == entry, "changed back")

        try FileManager.default.createDirectory(atPath: dir + "/inc", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: absent))
        #expect(cache.lookup(key: key) == nil, "a file now found earlier on the search path")
        try FileManager.default.removeItem(atPath: absent)

        // An entry others could have written is not trusted.
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/cache").first)
        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: dir + "/cache/" + file)
        #expect(cache.lookup(key: key) == nil)
    }

    /// A damaged entry (any byte flipped, or cut short) is a miss, never a profile.
    @Test func corruptedCacheEntryIsNotUsed() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = ProfileCache(directory: dir)
        let entry = ProfileCache.Entry(profile: try Self.webserverProfile(), warnings: "")
        cache.store(key: "k", inputs: [], entry: entry)
        let path = cache.path(for: "k")
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(cache.lookup(key: "k") == entry)
        // Every 97th byte, so that the key, the filter and the digest are all hit.
        for offset in stride(from: 0, to: good.count, by: 97) {
            var bad = good
            bad[offset] ^= 0x10
            try Data(bad).write(to: URL(fileURLWithPath: path))
            #expect(cache.lookup(key: "k") == nil, "byte \(offset) flipped and still used")
        }
        try Data(good.dropLast(3)).write(to: URL(fileURLWithPath: path))
        #expect(cache.lookup(key: "k") == nil)
    }

    /// The cache keeps at most its limit of entries, dropping the least recently written.
    @Test func cacheEvictsTheOldestEntries() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = ProfileCache(directory: dir)
        let entry = ProfileCache.Entry(profile: try Self.webserverProfile(), warnings: "")
        for i in 0..<ProfileCache.maxEntries {
            cache.store(key: "key \(i)", inputs: [], entry: entry)
        }
        let oldest = cache.path(for: "key 0")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1)], ofItemAtPath: oldest)
        cache.store(key: "one more", inputs: [], entry: entry)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(names.count == ProfileCache.maxEntries)
        #expect(!FileManager.default.fileExists(atPath: oldest) && cache.lookup(key: "one more") == entry && cache.lookup(key: "key 1") == entry)
    }

    /// Through the binary: a second run uses the cache (same warnings, same result), an edit
    /// of an extended file is seen at once, and --no-cache compiles afresh.
    @Test func runUsesTheCacheAndSeesEdits() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("policyc: v1\nname: base\nseccomp:\n  defaultAction: allow\n  syscalls:\n    - {names: [mkdir, mkdirat], action: errno(EPERM)}\n".utf8)
            .write(to: URL(fileURLWithPath: dir + "/base.yaml"))
        try Data("policyc: v1\nname: child\nextends: [base]\nseccomp:\n  syscalls:\n    - {names: [getpgrp, nosuchcall], action: allow}\n".utf8)
            .write(to: URL(fileURLWithPath: dir + "/child.yaml"))
        let run = ["run", "--policy", dir + "/child.yaml", "-I", dir, "--", "/bin/sh", "-c", "mkdir /tmp/d && echo made"]
        func policyc(_ arguments: [String]) throws -> (Int32, String, String) {
            try runPolicyc(arguments, cwd: "/tmp", environment: ["POLICYC_CACHE_DIR": dir + "/cache"])
        }
        let (first, out1, err1) = try policyc(run)
        #expect(first == 1 && out1.isEmpty && err1.contains("nosuchcall"), "\(err1)")
        try Data("policyc: v1\nname: child\nextends: [base]\n".utf8).write(to: URL(fileURLWithPath: dir + "/child.yaml"))
        let (denied, _, deniedErr) = try policyc(run)
        #expect(denied == 1 && deniedErr.contains("Operation not permitted"), "\(deniedErr)")
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache")
        #expect(entries.count == 1)
        func inode() throws -> Int? {
            try FileManager.default.attributesOfItem(atPath: dir + "/cache/" + entries[0])[.systemFileNumber] as? Int
        }
        let stored = try inode()
        let (again, _, againErr) = try policyc(run)
        #expect(again == 1 && againErr == deniedErr, "the cached run differs:\n\(againErr)")
        #expect(try inode() == stored, "a hit reads the entry; a compile would have written a new one")
        try Data("policyc: v1\nname: base\nseccomp:\n  defaultAction: allow\n".utf8).write(to: URL(fileURLWithPath: dir + "/base.yaml"))
        let (allowed, out, allowedErr) = try policyc(run)
        #expect(allowed == 0 && out == "made\n", "an edit of the extended policy was missed: \(allowedErr)")
        let (fresh, freshOut, _) = try policyc(["run", "--no-cache"] + run.dropFirst())
        #expect(fresh == 0 && freshOut == "made\n")
    }
}
