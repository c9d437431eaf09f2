import Foundation
import Testing

/// Malformed policies and profiles: each must exit 1 with `FILE:LINE:COLUMN: error:` naming the
/// problem, never crash or hang.
@Suite struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let text: String
        /// Expected in the message.
        let fragment: String
        /// `LINE:COLUMN` where the error must point, when it matters.
        let at: String?
        var ext = "yaml"
        var testDescription: String { name }
    }

    static let head = "policyc: v1\nname: bad\n"

    static let cases: [Case] = [
        Case(name: "empty file", text: "", fragment: "empty file", at: "1:1"),
        Case(name: "only comments", text: "# nothing\n\n", fragment: "empty file", at: "1:1"),
        Case(name: "unclosed flow list", text: head + "extends: [default\n", fragment: "invalid YAML", at: nil),
        Case(name: "tab indentation", text: head + "seccomp:\n\tdefaultAction: allow\n", fragment: "invalid YAML", at: "4:1"),
        Case(name: "root is a list", text: "- a\n- b\n", fragment: "a policy must be a mapping", at: "1:1"),
        Case(name: "root is a scalar", text: "hello\n", fragment: "a policy must be a mapping", at: "1:1"),
        Case(name: "missing version", text: "name: bad\n", fragment: "missing 'policyc: v1'", at: "1:1"),
        Case(name: "wrong version", text: "policyc: v2\nname: bad\n", fragment: "unsupported language version 'v2'", at: "1:10"),
        Case(name: "missing name", text: "policyc: v1\n", fragment: "missing 'name'", at: "1:1"),
        Case(name: "invalid name", text: "policyc: v1\nname: Web API\n", fragment: "must match [a-z0-9]", at: "2:7"),
        Case(name: "name too long", text: "policyc: v1\nname: " + String(repeating: "a", count: 70) + "\n", fragment: "must match", at: "2:7"),
        Case(name: "misspelt section", text: head + "secomp: {}\n", fragment: "did you mean 'seccomp'", at: "3:1"),
        Case(name: "section of wrong type", text: head + "seccomp: [1, 2]\n", fragment: "seccomp must be a mapping, found a list", at: "3:10"),
        Case(name: "misspelt seccomp key", text: head + "seccomp:\n  defaultActon: allow\n", fragment: "did you mean 'defaultAction'", at: "4:3"),
        Case(name: "misspelt action", text: head + "seccomp:\n  defaultAction: alow\n", fragment: "did you mean 'allow'", at: "4:18"),
        Case(name: "misspelt errno", text: head + "seccomp:\n  defaultAction: errno(EPREM)\n", fragment: "did you mean 'EPERM'", at: "4:18"),
        Case(name: "errno out of range", text: head + "seccomp:\n  defaultAction: errno(5000)\n", fragment: "unknown errno '5000'", at: "4:18"),
        Case(name: "misspelt syscall", text: head + "seccomp:\n  syscalls:\n    - names: [opne]\n      action: allow\n", fragment: "did you mean 'open'", at: "5:15"),
        Case(name: "misspelt group", text: head + "seccomp:\n  syscalls:\n    - names: ['@netwrk-io']\n      action: allow\n", fragment: "did you mean '@network-io'", at: "5:15"),
        Case(name: "names not a list", text: head + "seccomp:\n  syscalls:\n    - names: read\n      action: allow\n", fragment: "names must be a list", at: "5:14"),
        Case(name: "rule without action", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n", fragment: "a rule needs an 'action'", at: "5:7"),
        Case(name: "rule without names", text: head + "seccomp:\n  syscalls:\n    - action: allow\n", fragment: "a rule needs 'names'", at: "5:7"),
        Case(name: "incomplete condition", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n      action: allow\n      when: \"arg0 ==\"\n", fragment: "expected a number or a constant", at: "7:21"),
        Case(name: "misspelt constant", text: head + "seccomp:\n  syscalls:\n    - names: [socket]\n      action: allow\n      when: \"arg0 == AF_NETLNK\"\n", fragment: "did you mean 'AF_NETLINK'", at: "7:22"),
        Case(name: "argument out of range", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n      action: allow\n      when: \"arg7 == 1\"\n", fragment: "'arg7' is not an argument", at: "7:14"),
        Case(name: "bad hex number", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n      action: allow\n      when: \"arg0 == 0xZZ\"\n", fragment: "bad number '0xZZ'", at: "7:22"),
        Case(name: "number over 64 bits", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n      action: allow\n      when: \"arg0 == 99999999999999999999999\"\n", fragment: "bad number", at: "7:22"),
        Case(name: "unbalanced parenthesis", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n      action: allow\n      when: \"(arg0 == 1\"\n", fragment: "expected ')'", at: "7:24"),
        Case(name: "stray character", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n      action: allow\n      when: \"arg0 == 1 $\"\n", fragment: "unexpected character '$'", at: "7:24"),
        Case(name: "args index out of range", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n      action: allow\n      args: [{index: 9, value: 1, op: SCMP_CMP_EQ}]\n", fragment: "index must be a whole number from 0 to 5", at: "7:22"),
        Case(name: "unknown comparison", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n      action: allow\n      args: [{index: 0, value: 1, op: SCMP_CMP_EQUAL}]\n", fragment: "did you mean 'SCMP_CMP_EQ'", at: "7:39"),
        Case(name: "args entry without value", text: head + "seccomp:\n  syscalls:\n    - names: [read]\n      action: allow\n      args: [{index: 0, op: SCMP_CMP_EQ}]\n", fragment: "needs 'value'", at: "7:14"),
        Case(name: "misspelt architecture", text: head + "seccomp:\n  architectures: [x86-64]\n", fragment: "did you mean 'x86_64'", at: "4:19"),
        Case(name: "bad baseline", text: head + "seccomp:\n  baseline: six\n", fragment: "kernel release", at: "4:13"),
        Case(name: "misspelt capability", text: head + "capabilities:\n  add: [CAP_NET_ADMN]\n", fragment: "did you mean 'CAP_NET_ADMIN'", at: "4:9"),
        Case(name: "unknown parent", text: head + "extends: [nonexistent]\n", fragment: "unknown policy 'nonexistent'", at: "3:11"),
        Case(name: "self cycle", text: "policyc: v1\nname: self\nextends: [./SELF]\n", fragment: "extends cycle", at: "3:11"),
        Case(name: "unparsable test call", text: head + "tests:\n  - call: \"socket(AF_INET\"\n    expect: allow\n", fragment: "bad call", at: "4:26"),
        Case(name: "unknown syscall in a test", text: head + "tests:\n  - call: \"sockett()\"\n    expect: allow\n", fragment: "did you mean 'socket'", at: "4:11"),
        Case(name: "test without expect", text: head + "tests:\n  - call: \"getpid()\"\n", fragment: "a test needs 'expect'", at: "4:5"),
        Case(name: "failing test", text: head + "seccomp:\n  defaultAction: errno(EPERM)\ntests:\n  - call: \"getpid()\"\n    expect: allow\n", fragment: "test failed: getpid() on x86_64 gives errno(EPERM), expected allow", at: "6:5"),
        Case(name: "duplicate key", text: head + "name: again\n", fragment: "duplicate key 'name'", at: nil),
        Case(name: "alias to a wrong value", text: head + "description: &d text\nseccomp:\n  defaultAction: *d\n", fragment: "unknown action 'text'", at: "3:14"),
        Case(name: "billion laughs", text: head + "description: x\n" + (0..<9).map { i in
            "l\(i + 1): &l\(i + 1) [" + Array(repeating: i == 0 ? "lol" : "*l\(i)", count: 10).joined(separator: ", ") + "]\n"
        }.joined().replacingOccurrences(of: "l1: &l1", with: "tests: &l1"), fragment: "expands to more than", at: "1:1"),
        Case(name: "not a boolean", text: head + "noNewPrivileges: maybe\n", fragment: "must be true or false", at: "3:18"),
        Case(name: "profile with bad action", text: "{\"defaultAction\": \"SCMP_ACT_ALLOWW\", \"syscalls\": []}\n", fragment: "did you mean 'SCMP_ACT_ALLOW'", at: "1:19", ext: "json"),
        Case(name: "profile with JSON syntax error", text: "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [\n", fragment: "invalid YAML", at: nil, ext: "json"),
        Case(name: "profile with unknown field", text: "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"sycalls\": []}\n", fragment: "did you mean 'syscalls'", at: "1:37", ext: "json"),
        Case(name: "negative rlimit", text: head + "container:\n  rlimits: {nofile: -5}\n", fragment: "rlimit nofile must be 0 or more", at: "4:21"),
        Case(name: "too few CPUs", text: head + "container:\n  resources: {cpus: 0.0000001}\n", fragment: "cpus must be a number of CPUs from 0.01", at: "4:21"),
        Case(name: "bad memory size", text: head + "container:\n  resources: {memory: lots}\n", fragment: "memory must be a size", at: "4:23"),
        Case(name: "relative filesystem path", text: head + "filesystem:\n  read: [usr]\n", fragment: "must be absolute", at: "4:10"),
        Case(name: "unknown address family", text: head + "network:\n  families: [inet7]\n", fragment: "did you mean 'inet6'", at: "4:14"),
        Case(name: "constant missing on an architecture", text: head + "seccomp:\n  architectures: [x86]\n  syscalls:\n    - names: [mmap2]\n      action: allow\n      when: \"arg3 == MAP_32BIT\"\n", fragment: "has no value on x86", at: "8:13"),
        Case(name: "unknown test architecture", text: head + "tests:\n  - call: \"getpid()\"\n    arch: sparc\n    expect: allow\n", fragment: "unknown architecture 'sparc'", at: "5:11"),
        Case(name: "deep nesting", text: head + "seccomp: " + String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000) + "\n", fragment: "invalid YAML", at: nil),
        Case(name: "NUL bytes", text: head + "description: a\0b\n", fragment: "NUL", at: "1:1"),
        Case(name: "filter too long", text: head + "seccomp:\n  syscalls:\n" + (0..<300).map { i in
            "    - names: [\(["read", "write", "open", "close", "stat", "fstat", "lstat", "poll", "lseek", "mmap"][i % 10])]\n      action: allow\n      when: \"arg\(i % 6) in [\((1...12).map { String($0 * (i + 3)) }.joined(separator: ", "))]\"\n"
        }.joined(), fragment: "BPF_MAXINSNS", at: nil),
        // These overflowed the parser's stack (SIGSEGV) or took seconds.
        Case(name: "40 000 nested '!'", text: deep(String(repeating: "!", count: 40_000) + "arg0 == 1"), fragment: "nests deeper than 100", at: "8:114"),
        Case(name: "50 000 nested parentheses", text: deep(String(repeating: "(", count: 50_000) + "arg0 == 1" + String(repeating: ")", count: 50_000)),
             fragment: "nests deeper than 100", at: "8:114"),
        Case(name: "50 000 parentheses around a value", text: deep("arg0 == " + String(repeating: "(", count: 50_000) + "1" + String(repeating: ")", count: 50_000)),
             fragment: "nests deeper than 100", at: "8:122"),
    ]

    /// A policy whose one rule has `when` condition (the condition starts at column 14 of line 8).
    static func deep(_ when: String) -> String {
        head + "seccomp:\n  defaultAction: allow\n  syscalls:\n    - names: [read]\n      action: errno(EPERM)\n      when: \"\(when)\"\n"
    }

    @Test(arguments: cases)
    func rejectedWithLocatedError(_ c: Case) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/SELF.\(c.ext)"
        let text = c.text.replacingOccurrences(of: "./SELF", with: "./SELF.yaml")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let (status, _, stderr) = try runPolicyc(["check", path])
        #expect(status == 1, "exit \(status): \(stderr)")
        let errors = stderr.split(separator: "\n").filter { $0.contains(": error: ") }
        let match = errors.first { $0.contains(c.fragment) }
        #expect(match != nil, "no error containing '\(c.fragment)' in:\n\(stderr)")
        if let match {
            #expect(match.hasPrefix(path + ":"), "\(match)")
            if let at = c.at { #expect(match.hasPrefix("\(path):\(at): error: "), "\(match)") }
        }
    }

    @Test func tenMegabyteFileIsRefusedQuickly() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/huge.yaml"
        let line = "# " + String(repeating: "x", count: 97) + "\n"
        try Data((Self.head + String(repeating: line, count: 100_000)).utf8).write(to: URL(fileURLWithPath: path))
        let (status, _, stderr) = try runPolicyc(["check", path])
        #expect(status == 1)
        #expect(stderr.contains("\(path):1:1: error: file is") && stderr.contains("limited to"))
    }

    @Test func invalidUTF8IsRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/latin1.yaml"
        try Data(Array(Self.head.utf8) + [0x64, 0x3A, 0x20, 0xE9, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: path))
        let (status, _, stderr) = try runPolicyc(["check", path])
        #expect(status == 1)
        #expect(stderr.contains("\(path):1:1: error: "))
    }

    @Test func allErrorsOfAFileAreReported() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/many.yaml"
        let text = Self.head + "seccomp:\n  defaultAction: alow\n  syscalls:\n    - names: [opne, reed]\n      action: allow\ncapabilities:\n  add: [NET_ADMN]\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let (status, _, stderr) = try runPolicyc(["check", path])
        #expect(status == 1)
        #expect(stderr.split(separator: "\n").filter { $0.contains(": error: ") }.count == 4, "\(stderr)")
    }

    @Test func extendsCycleAcrossFilesIsAnError() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("policyc: v1\nname: a\nextends: [b]\n".utf8).write(to: URL(fileURLWithPath: dir + "/a.yaml"))
        try Data("policyc: v1\nname: b\nextends: [a]\n".utf8).write(to: URL(fileURLWithPath: dir + "/b.yaml"))
        let (status, _, stderr) = try runPolicyc(["check", "-I", dir, dir + "/a.yaml"])
        #expect(status == 1)
        #expect(stderr.contains("extends cycle: a.yaml -> b.yaml -> a.yaml"), "\(stderr)")
    }
}
