import PolicyModel

/// Runs a seccomp BPF program the way the kernel does, counting executed instructions.
public struct BPFInterpreter {
    public struct Outcome: Hashable, Sendable {
        public var returnValue: UInt32
        public var executed: Int
        /// Whether an argument (or the instruction pointer) was loaded: the kernel's action cache
        /// only applies to syscalls whose paths read nothing but arch and nr.
        public var readArguments: Bool
        public var action: Action { Action(seccompRet: returnValue) }
    }

    public enum Fault: Error, Hashable {
        case jumpOutOfRange(pc: Int)
        case badLoad(pc: Int, offset: UInt32)
        case unsupportedInstruction(pc: Int, code: UInt16)
        case fellOffEnd
    }

    public let program: BPFProgram

    public init(_ program: BPFProgram) { self.program = program }

    public func run(auditArch: UInt32, nr: UInt32, args: [UInt64] = [0, 0, 0, 0, 0, 0], instructionPointer: UInt64 = 0) throws(Fault) -> Outcome {
        let insns = program.instructions
        var a: UInt32 = 0
        var x: UInt32 = 0
        var pc = 0
        var executed = 0
        var readArguments = false
        func load(_ offset: UInt32, at pc: Int) throws(Fault) -> UInt32 {
            switch offset {
            case SeccompData.nr: return nr
            case SeccompData.arch: return auditArch
            case 8, 12:
                readArguments = true
                return offset == 8 ? UInt32(truncatingIfNeeded: instructionPointer) : UInt32(truncatingIfNeeded: instructionPointer >> 32)
            case 16..<64 where offset % 4 == 0:
                readArguments = true
                let arg = args[Int(offset - 16) / 8]
                return offset % 8 == 0 ? UInt32(truncatingIfNeeded: arg) : UInt32(truncatingIfNeeded: arg >> 32)
            default: throw .badLoad(pc: pc, offset: offset)
            }
        }
        while pc < insns.count {
            let insn = insns[pc]
            executed += 1
            var next = pc + 1
            switch insn.code {
            case 0x20: a = try load(insn.k, at: pc)
            case 0x00: a = insn.k                     // BPF_LD | BPF_IMM
            case 0x01: x = insn.k                     // BPF_LDX | BPF_IMM
            case 0x07: x = a                          // BPF_MISC | BPF_TAX
            case 0x87: a = x                          // BPF_MISC | BPF_TXA
            case 0x54: a &= insn.k
            case 0x44: a |= insn.k
            case 0x04: a &+= insn.k
            case 0x14: a &-= insn.k
            case 0x06: return Outcome(returnValue: insn.k, executed: executed, readArguments: readArguments)
            case 0x16: return Outcome(returnValue: a, executed: executed, readArguments: readArguments)
            case 0x05: next = pc + 1 + Int(insn.k)
            case 0x15, 0x25, 0x35, 0x45, 0x1d, 0x2d, 0x3d, 0x4d:
                let operand = insn.code & 0x08 != 0 ? x : insn.k
                let taken: Bool
                switch insn.code & 0xF0 {
                case 0x10: taken = a == operand
                case 0x20: taken = a > operand
                case 0x30: taken = a >= operand
                default: taken = a & operand != 0
                }
                next = pc + 1 + Int(taken ? insn.jt : insn.jf)
            default: throw .unsupportedInstruction(pc: pc, code: insn.code)
            }
            guard next <= insns.count, next > pc else { throw .jumpOutOfRange(pc: pc) }
            pc = next
        }
        throw .fellOffEnd
    }
}
