/// The cgroup v2 device filter: a `BPF_PROG_TYPE_CGROUP_DEVICE` program (eBPF) that allows
/// exactly what `DeviceRules.allowed` lists and denies everything else, as runc's and crun's
/// do. Its context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`,
/// `access_type` holding the access bits (`BPF_DEVCG_ACC_*`) above the type (`BPF_DEVCG_DEV_*`).
public enum DeviceProgram {
    /// One eBPF instruction: opcode, registers (dst low nibble, src high), offset, immediate.
    struct Instruction {
        var code: UInt8
        var dst: UInt8 = 0
        var src: UInt8 = 0
        var off: Int16 = 0
        var imm: Int32 = 0

        var bytes: [UInt8] {
            let o = UInt16(bitPattern: off), i = UInt32(bitPattern: imm)
            return [code, dst | src << 4, UInt8(o & 0xFF), UInt8(o >> 8),
                    UInt8(i & 0xFF), UInt8((i >> 8) & 0xFF), UInt8((i >> 16) & 0xFF), UInt8(i >> 24)]
        }

        static func loadWord(_ dst: UInt8, from src: UInt8, at off: Int16) -> Instruction { Instruction(code: 0x61, dst: dst, src: src, off: off) }
        static func and(_ dst: UInt8, _ imm: Int32) -> Instruction { Instruction(code: 0x57, dst: dst, imm: imm) }
        static func shiftRight(_ dst: UInt8, _ imm: Int32) -> Instruction { Instruction(code: 0x77, dst: dst, imm: imm) }
        static func move(_ dst: UInt8, register src: UInt8) -> Instruction { Instruction(code: 0xBF, dst: dst, src: src) }
        static func move(_ dst: UInt8, _ imm: Int32) -> Instruction { Instruction(code: 0xB7, dst: dst, imm: imm) }
        static func jumpIfNot(_ dst: UInt8, equal imm: Int32, skip: Int16) -> Instruction { Instruction(code: 0x55, dst: dst, off: skip, imm: imm) }
        static let exit = Instruction(code: 0x95)
    }

    static let blockType: Int32 = 1, charType: Int32 = 2
    static let accessBits: [Character: Int32] = ["m": 1, "r": 2, "w": 4]
    static let instructionSize = 8

    /// The program's bytes, ready for BPF_PROG_LOAD.
    public static func bytes(_ rules: [DeviceRule]) -> [UInt8] { program(rules).flatMap(\.bytes) }

    static func program(_ rules: [DeviceRule]) -> [Instruction] {
        // r2 type, r3 access, r4 major, r5 minor; r1 (the context) is free after these.
        var code: [Instruction] = [.loadWord(2, from: 1, at: 0), .and(2, 0xFFFF), .loadWord(3, from: 1, at: 0), .shiftRight(3, 16),
                                   .loadWord(4, from: 1, at: 4), .loadWord(5, from: 1, at: 8)]
        for rule in rules { code += allowBlock(rule) }
        return code + [.move(0, 0), .exit]
    }

    /// Allows (r0 = 1, exit) when the type matches, the access asked is within the rule's,
    /// and the numbers match where the rule names them; else falls through to the next rule.
    static func allowBlock(_ rule: DeviceRule) -> [Instruction] {
        let granted = rule.access.reduce(Int32(0)) { $0 | (accessBits[$1] ?? 0) }
        // Each test ends in a jump; its offset is patched to land past the block.
        var tests: [[Instruction]] = [
            [.jumpIfNot(2, equal: rule.type == "b" ? blockType : charType, skip: 0)],
            [.move(1, register: 3), .and(1, ~granted & 7), .jumpIfNot(1, equal: 0, skip: 0)],
        ]
        if let major = rule.major { tests.append([.jumpIfNot(4, equal: Int32(bitPattern: major), skip: 0)]) }
        if let minor = rule.minor { tests.append([.jumpIfNot(5, equal: Int32(bitPattern: minor), skip: 0)]) }
        let allow: [Instruction] = [.move(0, 1), .exit]
        var remaining = tests.reduce(0) { $0 + $1.count } + allow.count
        for i in tests.indices {
            remaining -= tests[i].count
            tests[i][tests[i].count - 1].off = Int16(remaining)
        }
        return tests.flatMap { $0 } + allow
    }
}
