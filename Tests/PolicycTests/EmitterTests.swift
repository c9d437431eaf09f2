@testable import PolicyCompiler
import PolicyModel
import Testing

/// The backward emitter's 8-bit conditional offsets.
@Suite struct EmitterTests {
    /// One target exactly 255 away and the other beyond: the trampoline for the far one puts
    /// the near one at 256 (it once trapped converting that to UInt8); both must stay reachable
    /// and the jump must still go where it was told.
    @Test(arguments: [true, false])
    func jumpWithOneTargetAtTheEdgeAndOneBeyond(nearIsTrue: Bool) throws {
        let e = BackwardEmitter()
        let far = e.ret(Action.allow.seccompRet)
        for _ in 0..<300 { _ = e.load(SeccompData.nr) }
        let near = e.ret(Action.errno(1).seccompRet)
        for _ in 0..<255 { _ = e.load(SeccompData.nr) }
        _ = nearIsTrue ? e.jump(BPFInstruction.Op.jeqK, 7, ifTrue: near, ifFalse: far)
                       : e.jump(BPFInstruction.Op.jeqK, 7, ifTrue: far, ifFalse: near)
        _ = e.load(SeccompData.nr)
        let program = BPFProgram(e.program)
        let interpreter = BPFInterpreter(program)
        let matched = try interpreter.run(auditArch: Arch.x86_64.auditArch, nr: 7).action
        let missed = try interpreter.run(auditArch: Arch.x86_64.auditArch, nr: 8).action
        #expect(matched == (nearIsTrue ? .errno(1) : .allow) && missed == (nearIsTrue ? .allow : .errno(1)))
    }
}
