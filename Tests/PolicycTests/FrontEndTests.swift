import Foundation
import PolicyCompiler
import PolicyModel
import Testing

@Suite struct FrontEndTests {
    func verdict(_ filter: CompiledFilter, _ call: String, arch: Arch = .x86_64) throws -> Action {
        let resolved = try PolicyTestRunner.resolve(call, arch: arch)
        return filter.run(arch: arch, nr: resolved.number, args: resolved.args).action
    }

    @Test func childRulesComeFirstAndLaterParentsOverride() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("""
            policyc: v1
            name: base
            seccomp:
              defaultAction: errno(EPERM)
              syscalls:
                - names: [getpid, getppid]
                  action: allow
            """.utf8).write(to: URL(fileURLWithPath: dir + "/base.yaml"))
        try Data("""
            policyc: v1
            name: loud
            seccomp:
              defaultAction: errno(EACCES)
              syscalls:
                - names: [getppid]
                  action: errno(EXDEV)
            """.utf8).write(to: URL(fileURLWithPath: dir + "/loud.yaml"))
        let (compiled, bag) = compile(text: """
            policyc: v1
            name: child
            extends: [base, loud]
            seccomp:
              syscalls:
                - names: [getpid]
                  action: errno(EROFS)
            """, includeDirs: [dir])
        let filter = try #require(compiled, "\(bag.errors)")
        #expect(try verdict(filter, "getpid()") == .errno(30))     // child first
        #expect(try verdict(filter, "getppid()") == .allow)        // base's rule precedes loud's
        #expect(try verdict(filter, "getuid()") == .errno(13))     // loud's defaultAction wins over base's
    }

    /// A child's drop and add apply after its parents': `drop: [ALL]` leaves only the child's
    /// own adds (batch keeps none of default's), a named drop removes a parent's add.
    @Test func childCapabilityDropWinsOverParents() throws {
        let batch = try #require(compile(path: Paths.policies + "/batch.yaml").0)
        #expect(batch.capabilities.bounding == 0 && batch.capabilities.effective == 0 && batch.capabilities.permitted == 0)
        let (named, bag) = compile(text: "policyc: v1\nname: c\nextends: [default]\ncapabilities:\n  drop: [NET_RAW, CAP_MKNOD]\n  add: [SYS_NICE]\n")
        let caps = try #require(named, "\(bag.errors)").capabilities
        let def = try #require(compile(path: Paths.policies + "/default.yaml").0).capabilities
        let netRaw: UInt64 = 1 << 13, mknod: UInt64 = 1 << 27, sysNice: UInt64 = 1 << 23
        #expect(caps.bounding == (def.bounding & ~(netRaw | mknod)) | sysNice)
        let (onlyAll, _) = compile(text: "policyc: v1\nname: c\nextends: [default]\ncapabilities:\n  drop: [ALL]\n  add: [CHOWN]\n")
        #expect(try #require(onlyAll).capabilities.bounding == 1)
    }

    @Test func includeDirectoriesShadowShippedPolicies() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("policyc: v1\nname: default\nseccomp:\n  defaultAction: allow\n".utf8).write(to: URL(fileURLWithPath: dir + "/default.yaml"))
        let text = "policyc: v1\nname: c\nextends: [default]\n"
        let shipped = try #require(compile(text: text).0)
        let local = try #require(compile(text: text, includeDirs: [dir]).0)
        #expect(try verdict(shipped, "mount()") == .errno(1))
        #expect(try verdict(local, "mount()") == .allow)
    }

    @Test func dockerIncludesAndExcludesFollowCapabilitiesArchesAndKernel() throws {
        let filter = try #require(compile(path: Paths.seccompCorpus + "/moby-default.json").0)
        #expect(try verdict(filter, "ptrace()") == .allow)                  // minKernel 4.8 <= 6.18
        #expect(try verdict(filter, "reboot()") == .errno(1))               // needs CAP_SYS_BOOT
        #expect(try verdict(filter, "arch_prctl()") == .allow)              // arches: amd64
        #expect(try verdict(filter, "clone3()") == .errno(38))              // excludes CAP_SYS_ADMIN
        #expect(try verdict(filter, "clone(CLONE_NEWUSER)") == .errno(1))
        #expect(try verdict(filter, "clone(CLONE_VM)") == .allow)
        let conditional = try #require(compile(path: Paths.seccompCorpus + "/moby-conditional-include.json").0)
        #expect(try verdict(conditional, "syslog()") == .errno(1))          // CAP_SYSLOG not held
        #expect(try verdict(conditional, "ptrace()") == .allow)             // CAP_SYS_ADMIN not held
        #expect(conditional.policy.name == "moby-conditional-include")
        let withAdmin = try #require(compile(text: """
            policyc: v1
            name: admin
            capabilities: { add: [SYS_ADMIN, SYSLOG] }
            extends: [\(Paths.seccompCorpus)/moby-conditional-include.json]
            """).0)
        #expect(try verdict(withAdmin, "syslog()") == .allow)
        #expect(try verdict(withAdmin, "ptrace()") == .errno(1))
    }

    @Test func baselineGivesTooNewSyscallsTheNewSyscallAction() throws {
        let filter = try #require(compile(text: """
            policyc: v1
            name: old
            seccomp:
              defaultAction: errno(EPERM)
              baseline: "5.10"
              syscalls:
                - names: [landlock_create_ruleset]
                  action: allow
            """).0)
        #expect(try verdict(filter, "mseal()") == .errno(38))               // 6.10 > 5.10, unnamed
        #expect(try verdict(filter, "clone3()") == .errno(1))               // 5.3: old enough
        #expect(try verdict(filter, "landlock_create_ruleset()") == .allow) // named: its rule decides
        #expect(filter.run(arch: .x86_64, nr: 999, args: Array(repeating: 0, count: 6)).action == .errno(38))
        #expect(try verdict(filter, "socket(AF_INET)", arch: .x86) == .errno(1)) // i386 socket is 4.3
    }

    @Test func networkFamiliesRestrictSocketAheadOfWrittenRules() throws {
        let filter = try #require(compile(text: """
            policyc: v1
            name: net
            network: { families: [unix, inet] }
            seccomp:
              defaultAction: allow
              syscalls:
                - names: [socket]
                  action: allow
            """).0)
        #expect(try verdict(filter, "socket(AF_INET, SOCK_STREAM, 0)") == .allow)
        #expect(try verdict(filter, "socket(AF_NETLINK, SOCK_RAW, 0)") == .errno(97))
        #expect(try verdict(filter, "socketcall(1, 0)", arch: .x86) == .errno(97))
    }

    @Test func groupsExpandAndNestedGroupsResolve() throws {
        let filter = try #require(compile(text: """
            policyc: v1
            name: g
            seccomp:
              defaultAction: allow
              syscalls:
                - names: ["@privileged"]
                  action: errno(EPERM)
            """).0)
        #expect(try verdict(filter, "chown()") == .errno(1))   // via @chown
        #expect(try verdict(filter, "reboot()") == .errno(1))  // via @reboot
        #expect(try verdict(filter, "read()") == .allow)
    }

    @Test(arguments: [
        ("arg0 == 1 || arg1 == 2 && arg2 == 3", [1, 0, 0], true),
        ("arg0 == 1 || arg1 == 2 && arg2 == 3", [0, 2, 0], false),
        ("(arg0 == 1 || arg1 == 2) && arg2 == 3", [1, 0, 0], false),
        ("!(arg0 == 1)", [2, 0, 0], true),
        ("arg0 not in [1, 2]", [3, 0, 0], true),
        ("arg0 in [O_RDONLY, O_WRONLY]", [1, 0, 0], true),
        ("(arg1 & (O_WRONLY|O_RDWR)) == 0", [0, 0o2, 0], false),
        ("arg0 == -1", [UInt64.max, 0, 0], true),
        ("arg0 >= 0x100000000", [0xFFFF_FFFF, 0, 0], false),
        ("arg2 <= 0o17", [0, 0, 15], true),
    ] as [(String, [UInt64], Bool)])
    func conditionsEvaluate(text: String, args: [UInt64], expected: Bool) throws {
        let expr = try ConditionParser.parse(text)
        let resolved = try expr.resolve(on: .x86_64).get()
        #expect(resolved.holds(args + [0, 0, 0]) == expected)
    }

    @Test func shippedPolicyTextMatchesPoliciesDirectory() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Paths.policies).filter { $0.hasSuffix(".yaml") }
        #expect(Set(files.map { String($0.dropLast(5)) }) == Set(ShippedPolicies.all.keys), "run `make policies`")
        for file in files {
            let text = try String(contentsOfFile: Paths.policies + "/" + file, encoding: .utf8)
            #expect(ShippedPolicies.all[String(file.dropLast(5))] == text, "\(file) changed: run `make policies`")
        }
    }
}

@Suite struct SyscallTableTests {
    @Test(arguments: Arch.allCases)
    func recentSyscallsArePresent(arch: Arch) {
        let table = SyscallTable.forArch(arch)
        let offset: UInt32 = arch == .x32 ? Arch.x32SyscallBit : 0
        let expected: [(String, UInt32, String)] = [
            ("mseal", 462, "6.10"), ("listmount", 458, "6.8"), ("statmount", 457, "6.8"),
            ("lsm_get_self_attr", 459, "6.8"), ("lsm_set_self_attr", 460, "6.8"), ("lsm_list_modules", 461, "6.8"),
            ("setxattrat", 463, "6.13"), ("getxattrat", 464, "6.13"), ("listxattrat", 465, "6.13"),
            ("removexattrat", 466, "6.13"), ("open_tree_attr", 467, "6.15"), ("file_getattr", 468, "6.17"),
            ("file_setattr", 469, "6.17"),
        ]
        for (name, number, release) in expected {
            let entry = SyscallTable.forArch(arch).entry(named: name)
            #expect(entry?.number == number + offset, "\(arch) \(name)")
            #expect(entry?.added == KernelVersion(release), "\(arch) \(name)")
        }
        #expect(table.entries.count > 300)
        #expect(SyscallTable.tablesKernel == KernelVersion("6.18"))
    }

    /// x32 has no x86_64-only ("64" in syscall_64.tbl) syscall under its x86_64 number: those
    /// with an x32 entry of their own have it in 512-547, the others none at all.
    @Test func x32HasNoX86_64OnlySyscall() throws {
        let text = try String(contentsOfFile: Paths.root + "/Tests/Fixtures/kernel/x86_64-only-syscalls.txt", encoding: .utf8)
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ") }
        #expect(rows.count > 40)
        let x86_64 = SyscallTable.forArch(.x86_64), x32 = SyscallTable.forArch(.x32)
        for row in rows {
            let (number, name) = (UInt32(row[0])!, String(row[1]))
            #expect(x86_64.number(of: name) == number, "x86_64 \(name)")
            #expect(x32.name(of: 0x4000_0000 + number) == nil, "x32 has \(x32.name(of: 0x4000_0000 + number) ?? "") at \(number)")
            #expect(x32.number(of: name) == row.dropFirst(2).first.map { 0x4000_0000 + UInt32($0)! }, "x32 \(name)")
        }
    }

    @Test(arguments: Arch.allCases)
    func execveNumberWithoutTablesMatchesTheTable(arch: Arch) {
        #expect(arch.execveNumber == SyscallTable.forArch(arch).number(of: "execve"))
    }

    @Test func wellKnownNumbers() {
        #expect(SyscallTable.forArch(.x86_64).number(of: "read") == 0)
        #expect(SyscallTable.forArch(.x86).number(of: "socket") == 359)
        #expect(SyscallTable.forArch(.x32).number(of: "rt_sigaction") == 0x4000_0200)
        #expect(SyscallTable.forArch(.aarch64).number(of: "openat") == 56)
        #expect(SyscallTable.forArch(.aarch64).number(of: "open") == nil)
        #expect(SyscallTable.forArch(.arm).number(of: "cacheflush") == 0x000F_0002)
        #expect(SyscallTable.forArch(.riscv64).number(of: "riscv_flush_icache") == 259)
        #expect(SyscallTable.forArch(.aarch64).entry(named: "read")?.added == KernelVersion("3.7"))
    }

    @Test func everyGroupMemberIsASyscallOrGroup() {
        for group in SyscallGroups.all {
            for member in group.members {
                #expect(member.hasPrefix("@") ? SyscallGroups.group(named: member) != nil : SyscallTable.allNames.contains(member),
                        "\(group.name): \(member)")
            }
            #expect(!(SyscallGroups.expand(group.name) ?? []).isEmpty)
        }
    }

    @Test func constantsDifferPerArchitectureWhereTheKernelsDo() {
        #expect(Constants.value(of: "O_DIRECTORY", on: .x86_64) == 0o200000)
        #expect(Constants.value(of: "O_DIRECTORY", on: .aarch64) == 0o40000)
        #expect(Constants.value(of: "MAP_32BIT", on: .x86) == nil)
        #expect(Constants.value(of: "AF_NETLINK", on: .riscv64) == 16)
        #expect(Constants.errnoNames["ENOSYS"] == 38)
    }
}

/// The shipped default policy allows nothing Docker's default profile denies.
@Suite struct DefaultPolicyTests {
    @Test func atLeastAsStrictAsDockersDefault() throws {
        let ours = try #require(compile(path: Paths.policies + "/default.yaml").0)
        let docker = try #require(compile(path: Paths.seccompCorpus + "/moby-default.json").0)
        #expect(ours.capabilities.bounding & ~docker.capabilities.bounding == 0)
        var rng = SplitMix(seed: 42)
        var compared = 0
        for abi in ours.ir.arches {
            let dockerABI = try #require(docker.ir.archIR(abi.arch))
            for entry in abi.table.entries {
                let samples = sampleArguments(for: ours.ir, nr: entry.number, abi: abi, rng: &rng, count: 8)
                    + sampleArguments(for: docker.ir, nr: entry.number, abi: dockerABI, rng: &rng, count: 8)
                for args in samples where ours.run(arch: abi.arch, nr: entry.number, args: args).action == .allow {
                    compared += 1
                    #expect(docker.run(arch: abi.arch, nr: entry.number, args: args).action == .allow, "\(abi.arch) \(entry.name) \(args)")
                }
            }
        }
        #expect(compared > 1000)
    }
}
