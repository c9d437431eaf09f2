import PolicyModel

/// Readable BPF: symbolic loads, architectures, syscall names and actions.
public struct Disassembler {
    public let program: BPFProgram

    public init(_ program: BPFProgram) { self.program = program }

    public func render() -> String {
        var lines: [String] = []
        var currentArches: [Arch] = []
        var lastLoad: UInt32?
        var blockArches: [Int: [Arch]] = [:]
        for (pc, insn) in program.instructions.enumerated() {
            if let arches = blockArches[pc] { currentArches = arches }
            let text: String
            switch insn.code {
            case BPFInstruction.Op.ldAbsW:
                lastLoad = insn.k
                text = "ld   \(field(insn.k))"
            case BPFInstruction.Op.andK:
                text = "and  #\(hex32(insn.k))"
            case BPFInstruction.Op.retK:
                text = "ret  \(Action(seccompRet: insn.k))"
            case BPFInstruction.Op.ja:
                text = "ja   L\(pc + 1 + Int(insn.k))"
            case BPFInstruction.Op.jeqK, BPFInstruction.Op.jgtK, BPFInstruction.Op.jgeK, BPFInstruction.Op.jsetK:
                let name = ["jeq", "jgt", "jge", "jset"][Int(insn.code >> 4) - 1]
                var operand = hex32(insn.k)
                if lastLoad == SeccompData.arch {
                    let arches = Arch.allCases.filter { $0.auditArch == insn.k && $0 != .x32 }
                    if !arches.isEmpty {
                        operand = arches.map(\.rawValue).joined(separator: "/")
                        blockArches[pc + 1 + Int(insn.jt)] = Arch.allCases.filter { $0.auditArch == insn.k }
                    }
                } else if lastLoad == SeccompData.nr {
                    operand += syscallComment(insn.k, arches: currentArches)
                }
                text = "\(name.padding(4)) \(operand), L\(pc + 1 + Int(insn.jt)), L\(pc + 1 + Int(insn.jf))"
            default:
                text = String(format16: insn)
            }
            lines.append("L\(pc):".padding(7) + text)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func field(_ offset: UInt32) -> String {
        switch offset {
        case SeccompData.nr: return "[nr]"
        case SeccompData.arch: return "[arch]"
        case 8: return "[ip]"
        case 12: return "[ip.hi]"
        default:
            let arg = (offset - 16) / 8
            return offset % 8 == 0 ? "[arg\(arg)]" : "[arg\(arg).hi]"
        }
    }

    private func syscallComment(_ nr: UInt32, arches: [Arch]) -> String {
        let names = arches.compactMap { SyscallTable.forArch($0).name(of: nr) }
        return names.isEmpty ? "" : " (\(names[0]))"
    }
}

func hex32(_ v: UInt32) -> String { v < 10 ? String(v) : "0x" + String(v, radix: 16) }

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }

    init(format16 insn: BPFInstruction) {
        self = "code=\(hex32(UInt32(insn.code))) jt=\(insn.jt) jf=\(insn.jf) k=\(hex32(insn.k))"
    }
}
