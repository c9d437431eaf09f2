import CSeccomp
import Dispatch
import PolicyCompiler
import PolicyModel
import SystemLayer

/// Builds the same filter with libseccomp: the reference for differential tests and
/// `--backend libseccomp`. One context per architecture (so each gets its own rules, added
/// exactly as given), merged, exported.
public enum LibseccompBackend {
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public enum Optimization: Int32 {
        case linear = 1
        case binaryTree = 2
    }

    public static var version: String {
        let v = seccomp_version()!.pointee
        return "\(v.major).\(v.minor).\(v.micro)"
    }

    public static func compile(_ ir: FilterIR, optimization: Optimization = .linear) throws -> BPFProgram {
        if ir.usesErrno(atLeast: 4095) {
            throw Failure(message: "libseccomp refuses errno 4095 and above (the kernel's cap, MAX_ERRNO); use a smaller errno with --backend libseccomp")
        }
        var merged: scmp_filter_ctx?
        defer { if let merged { seccomp_release(merged) } }
        for abi in ir.arches {
            let ctx = try context(for: abi, ir: ir, optimization: optimization)
            if let target = merged {
                let rc = seccomp_merge(target, ctx)
                guard rc == 0 else { seccomp_release(ctx); throw Failure(message: "seccomp_merge: \(rc)") }
            } else {
                merged = ctx
            }
        }
        guard let merged else { throw Failure(message: "no architectures") }
        let bytes = try System.capture { fd in seccomp_export_bpf(merged, fd) }
        guard let program = BPFProgram(bytes: bytes) else { throw Failure(message: "libseccomp exported no program") }
        return program
    }

    /// An OCI `linux.seccomp` object, as an OCI runtime reads it.
    public struct OCIProfile: Sendable {
        public struct Arg: Sendable {
            public var index: UInt32, value: UInt64, valueTwo: UInt64, op: String
            public init(index: UInt32, value: UInt64, valueTwo: UInt64, op: String) {
                (self.index, self.value, self.valueTwo, self.op) = (index, value, valueTwo, op)
            }
        }
        public struct Syscall: Sendable {
            public var names: [String], action: String, errnoRet: UInt32?, args: [Arg]
            public init(names: [String], action: String, errnoRet: UInt32?, args: [Arg]) {
                (self.names, self.action, self.errnoRet, self.args) = (names, action, errnoRet, args)
            }
        }
        public var defaultAction: String, defaultErrnoRet: UInt32?, architectures: [String], syscalls: [Syscall]
        public init(defaultAction: String, defaultErrnoRet: UInt32?, architectures: [String], syscalls: [Syscall]) {
            (self.defaultAction, self.defaultErrnoRet, self.architectures, self.syscalls) = (defaultAction, defaultErrnoRet, architectures, syscalls)
        }
    }

    /// The filter runc 1.1 (libcontainer/seccomp/seccomp_linux.go) builds from `profile` through
    /// libseccomp: the native architecture always, the listed ones added; rules in file order,
    /// a syscall libseccomp does not know skipped, a rule with the default action skipped;
    /// `errnoRet` absent means EPERM; several comparisons on one argument index become one rule
    /// each (an OR), the others one rule (an AND). A rule libseccomp refuses fails the build,
    /// as it fails `runc run`.
    public static func compileLikeRunc(_ profile: OCIProfile) throws -> BPFProgram {
        // runc's own refusals (libcontainer/seccomp/seccomp_linux.go): its notify socket would
        // need the very calls the listener then waits on.
        if profile.defaultAction == "SCMP_ACT_NOTIFY" { throw Failure(message: "SCMP_ACT_NOTIFY cannot be used as default action") }
        if profile.syscalls.contains(where: { $0.action == "SCMP_ACT_NOTIFY" && $0.names.contains("write") }) {
            throw Failure(message: "SCMP_ACT_NOTIFY cannot be used for the write syscall")
        }
        let defaultAction = try ociAction(profile.defaultAction, errnoRet: profile.defaultErrnoRet)
        guard let ctx = seccomp_init(defaultAction) else { throw Failure(message: "seccomp_init failed") }
        defer { seccomp_release(ctx) }
        for name in profile.architectures {
            let token = seccomp_arch_resolve_name(String(name.dropFirst("SCMP_ARCH_".count)).lowercased())
            guard token != 0 else { throw Failure(message: "unknown architecture \(name)") }
            let rc = seccomp_arch_add(ctx, token)
            // The native architecture is there already (-EEXIST).
            if rc != -System.alreadyExists { try check(rc, "seccomp_arch_add(\(name))") }
        }
        for call in profile.syscalls {
            let action = try ociAction(call.action, errnoRet: call.errnoRet)
            guard action != defaultAction else { continue }
            let conditions = try call.args.map(ociCondition)
            let repeated = Dictionary(grouping: call.args, by: \.index).values.contains { $0.count > 1 }
            let rules = repeated ? conditions.map { [$0] } : [conditions]
            for name in call.names {
                let nr = seccomp_syscall_resolve_name(name)
                guard nr != __NR_SCMP_ERROR else { continue }
                for var rule in rules {
                    let rc = rule.withUnsafeMutableBufferPointer { seccomp_rule_add_array(ctx, action, nr, UInt32($0.count), $0.baseAddress) }
                    try check(rc, "adding the rule for \(name)")
                }
            }
        }
        let bytes = try System.capture { fd in seccomp_export_bpf(ctx, fd) }
        guard let program = BPFProgram(bytes: bytes) else { throw Failure(message: "libseccomp exported no program") }
        return program
    }

    /// compileLikeRunc, given up after `seconds`: libseccomp 2.5.4 loops forever in
    /// seccomp_rule_add on some rule sets, as runc init then does. The stuck thread cannot be
    /// stopped and spins until the process exits (for `policyc compile`, at once).
    public static func compileLikeRunc(_ profile: OCIProfile, giveUpAfter seconds: Int) throws -> BPFProgram {
        final class Outcome: @unchecked Sendable { var result: Result<BPFProgram, any Error>? }
        let outcome = Outcome(), done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            outcome.result = Result { try compileLikeRunc(profile) }
            done.signal()
        }
        guard done.wait(timeout: .now() + .seconds(seconds)) == .success, let result = outcome.result else {
            throw Failure(message: "libseccomp \(version) did not finish building it in \(seconds) s (it loops forever on some rule sets; runc init would spin the same way)")
        }
        return try result.get()
    }

    private static func ociAction(_ name: String, errnoRet: UInt32?) throws -> UInt32 {
        switch name {
        case "SCMP_ACT_ALLOW": return Action.allow.seccompRet
        case "SCMP_ACT_LOG": return Action.log.seccompRet
        case "SCMP_ACT_ERRNO": return 0x0005_0000 | ((errnoRet ?? 1) & 0xFFFF)
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return Action.killThread.seccompRet
        case "SCMP_ACT_KILL_PROCESS": return Action.killProcess.seccompRet
        case "SCMP_ACT_TRAP": return Action.trap.seccompRet
        case "SCMP_ACT_TRACE": return 0x7FF0_0000 | ((errnoRet ?? 1) & 0xFFFF)
        case "SCMP_ACT_NOTIFY": return Action.notify.seccompRet
        default: throw Failure(message: "unknown action \(name)")
        }
    }

    private static func ociCondition(_ arg: OCIProfile.Arg) throws -> scmp_arg_cmp {
        let ops: [String: scmp_compare] = [
            "SCMP_CMP_NE": SCMP_CMP_NE, "SCMP_CMP_LT": SCMP_CMP_LT, "SCMP_CMP_LE": SCMP_CMP_LE, "SCMP_CMP_EQ": SCMP_CMP_EQ,
            "SCMP_CMP_GE": SCMP_CMP_GE, "SCMP_CMP_GT": SCMP_CMP_GT, "SCMP_CMP_MASKED_EQ": SCMP_CMP_MASKED_EQ,
        ]
        guard let op = ops[arg.op] else { throw Failure(message: "unknown operator \(arg.op)") }
        return scmp_arg_cmp(arg: arg.index, op: op, datum_a: arg.value, datum_b: arg.valueTwo)
    }

    /// libseccomp's own token for an architecture.
    static func token(_ arch: Arch) -> UInt32 {
        switch arch {
        case .x86_64: return 0xC000_003E
        case .x86: return 0x4000_0003
        case .x32: return 0x4000_003E
        case .aarch64: return 0xC000_00B7
        case .arm: return 0x4000_0028
        case .riscv64: return 0xC000_00F3
        }
    }

    /// Whether this libseccomp knows `name` on `arch` (older releases lack new syscalls).
    public static func knows(_ name: String, on arch: Arch) -> Bool {
        seccomp_syscall_resolve_name_arch(token(arch), name) >= 0
    }

    public static func knows(number: UInt32, on arch: Arch) -> Bool {
        guard let name = seccomp_syscall_resolve_num_arch(token(arch), Int32(bitPattern: number)) else { return false }
        System.free(name)
        return true
    }

    private static func context(for abi: ArchIR, ir: FilterIR, optimization: Optimization) throws -> scmp_filter_ctx {
        guard let ctx = seccomp_init(ir.defaultAction.seccompRet) else { throw Failure(message: "seccomp_init failed") }
        do {
            try check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, ir.badArchAction.seccompRet), "SCMP_FLTATR_ACT_BADARCH")
            try check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, UInt32(optimization.rawValue)), "SCMP_FLTATR_CTL_OPTIMIZE")
            if abi.arch.auditArch != Arch.native.auditArch || abi.arch != Arch.native {
                try check(seccomp_arch_add(ctx, token(abi.arch)), "seccomp_arch_add(\(abi.arch))")
                try check(seccomp_arch_remove(ctx, token(Arch.native)), "seccomp_arch_remove")
            }
            for rule in try LibseccompPlan.build(abi, defaultAction: ir.defaultAction, newSyscallAction: ir.newSyscallAction) {
                guard knows(rule.name, on: abi.arch) else { continue }
                // libseccomp takes native numbers (or its pseudo numbers) and maps them by name.
                let nr = seccomp_syscall_resolve_name(rule.name)
                var cmps = rule.key.comparisons.map(argCmp)
                let rc = cmps.withUnsafeMutableBufferPointer { buffer in
                    seccomp_rule_add_exact_array(ctx, rule.key.action.seccompRet, nr, UInt32(buffer.count), buffer.baseAddress)
                }
                try check(rc, "seccomp_rule_add_exact(\(rule.name) on \(abi.arch), \(rule.key.comparisons))")
            }
        } catch {
            seccomp_release(ctx)
            throw error
        }
        return ctx
    }

    private static func argCmp(_ c: ArgCmp) -> scmp_arg_cmp {
        let op: scmp_compare
        var a = c.value, b: UInt64 = 0
        switch c.op {
        case .eq where c.mask != nil:
            op = SCMP_CMP_MASKED_EQ
            a = c.mask!
            b = c.value
        case .eq: op = SCMP_CMP_EQ
        case .ne: op = SCMP_CMP_NE
        case .lt: op = SCMP_CMP_LT
        case .le: op = SCMP_CMP_LE
        case .gt: op = SCMP_CMP_GT
        case .ge: op = SCMP_CMP_GE
        }
        return scmp_arg_cmp(arg: UInt32(c.arg), op: op, datum_a: a, datum_b: b)
    }

    private static func check(_ rc: Int32, _ what: String) throws {
        guard rc == 0 else { throw Failure(message: "libseccomp \(what): \(System.describe(errno: -rc))") }
    }
}
