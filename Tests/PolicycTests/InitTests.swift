import Foundation
@testable import LaunchCore
@testable import Launcher
import PolicyCompiler
import PolicyModel
import Testing

/// `--init`'s pid 1: the bytes policyc execs are the ones its source builds to, and its filter
/// lets through exactly the syscalls that source makes.
@Suite struct InitTests {
    /// Tools/gen-init.sh run afresh writes the checked-in InitBinary.swift byte for byte, so
    /// the embedded binary is the reviewed source and nothing else.
    @Test func embeddedInitIsBuiltFromItsSource() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, out) = try runTool("/bin/sh", [Paths.root + "/Tools/gen-init.sh", dir + "/InitBinary.swift"])
        #expect(status == 0, "\(out)")
        let rebuilt = try Data(contentsOf: URL(fileURLWithPath: dir + "/InitBinary.swift"))
        let shipped = try Data(contentsOf: URL(fileURLWithPath: Paths.root + "/Sources/LaunchCore/Generated/InitBinary.swift"))
        #expect(rebuilt == shipped, "run Tools/gen-init.sh and commit the result")
    }

    @Test func initFilterAllowsOnlyTheInitsSyscalls() throws {
        let interpreter = BPFInterpreter(InitFilter.program())
        let arch = Arch.native
        for entry in SyscallTable.forArch(arch).entries {
            let verdict = try interpreter.run(auditArch: arch.auditArch, nr: entry.number).action
            #expect(verdict == (InitFilter.syscalls.contains(entry.name) ? .allow : .killProcess), "\(entry.name)")
        }
        // The same numbers through a compat ABI, or x32's numbering, kill it too.
        for other in arch.compatArches where other != arch {
            let nr = SyscallTable.forArch(other).number(of: "kill") ?? 0
            let nrOnWire = other == .x32 ? nr | Arch.x32SyscallBit : nr
            #expect(try interpreter.run(auditArch: other.auditArch, nr: nrOnWire).action == .killProcess, "\(other)")
        }
    }
}
