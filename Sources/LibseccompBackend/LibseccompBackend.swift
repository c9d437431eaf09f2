import CSeccomp
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
