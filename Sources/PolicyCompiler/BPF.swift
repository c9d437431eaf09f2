import PolicyModel

/// One classic BPF instruction (`struct sock_filter`).
public struct BPFInstruction: Hashable, Sendable {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }

    public enum Op {
        public static let ldAbsW: UInt16 = 0x20    // BPF_LD | BPF_W | BPF_ABS
        public static let ja: UInt16 = 0x05        // BPF_JMP | BPF_JA
        public static let jeqK: UInt16 = 0x15      // BPF_JMP | BPF_JEQ | BPF_K
        public static let jgtK: UInt16 = 0x25
        public static let jgeK: UInt16 = 0x35
        public static let jsetK: UInt16 = 0x45
        public static let andK: UInt16 = 0x54      // BPF_ALU | BPF_AND | BPF_K
        public static let retK: UInt16 = 0x06      // BPF_RET | BPF_K
    }

    public var isConditionalJump: Bool { code & 0x07 == 0x05 && code != Op.ja }
}

/// `struct seccomp_data` offsets (little-endian ABIs).
public enum SeccompData {
    public static let nr: UInt32 = 0
    public static let arch: UInt32 = 4
    public static let instructionPointer: UInt32 = 8
    public static func argLow(_ i: Int) -> UInt32 { 16 + UInt32(i) * 8 }
    public static func argHigh(_ i: Int) -> UInt32 { 20 + UInt32(i) * 8 }
    public static let size: UInt32 = 64
}

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
public let maxInstructions = 4096

public struct BPFProgram: Hashable, Sendable {
    public var instructions: [BPFInstruction]

    public init(_ instructions: [BPFInstruction]) { self.instructions = instructions }

    /// Raw `struct sock_filter` array in host (little-endian) byte order.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(instructions.count * 8)
        for insn in instructions {
            out += [UInt8(insn.code & 0xFF), UInt8(insn.code >> 8), insn.jt, insn.jf]
            out += [UInt8(insn.k & 0xFF), UInt8((insn.k >> 8) & 0xFF), UInt8((insn.k >> 16) & 0xFF), UInt8(insn.k >> 24)]
        }
        return out
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count % 8 == 0, !bytes.isEmpty else { return nil }
        instructions = stride(from: 0, to: bytes.count, by: 8).map { i in
            BPFInstruction(code: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8, jt: bytes[i + 2], jf: bytes[i + 3],
                           k: UInt32(bytes[i + 4]) | UInt32(bytes[i + 5]) << 8 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 24)
        }
    }
}
