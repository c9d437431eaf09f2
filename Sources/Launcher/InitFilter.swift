import PolicyCompiler
import PolicyModel

/// The seccomp filter of `--init`'s pid 1: the few syscalls Tools/init/init.c makes (and the
/// execve that starts it); anything else, or another architecture, kills it.
enum InitFilter {
    static let syscalls = ["execve", "prctl", "rt_sigprocmask", "rt_sigtimedwait", "wait4", "kill", "exit_group", "exit"]

    static func program(arch: Arch = .native) -> BPFProgram {
        typealias I = BPFInstruction
        let numbers = syscalls.compactMap(SyscallTable.forArch(arch).number(of:))
        let kill: UInt32 = 0x8000_0000, allow: UInt32 = 0x7FFF_0000
        var code = [I(code: I.Op.ldAbsW, k: SeccompData.arch), I(code: I.Op.jeqK, jt: 1, jf: 0, k: arch.auditArch),
                    I(code: I.Op.retK, k: kill), I(code: I.Op.ldAbsW, k: SeccompData.nr)]
        for (i, nr) in numbers.enumerated() { code.append(I(code: I.Op.jeqK, jt: UInt8(numbers.count - i), jf: 0, k: nr)) }
        code += [I(code: I.Op.retK, k: kill), I(code: I.Op.retK, k: allow)]
        return BPFProgram(code)
    }
}
