import Foundation
import PolicyCompiler
import PolicyModel
import Testing

/// Every shipped policy's outputs, checked in under Profiles/ and compared byte for byte.
/// `make goldens` rewrites them (POLICYC_UPDATE_GOLDENS=1); review the diff before committing.
@Suite struct GoldenTests {
    static let policies = ShippedPolicies.all.keys.sorted()

    @Test(arguments: policies)
    func outputsMatchGoldenFiles(name: String) throws {
        let (compiled, bag) = compile(path: Paths.policies + "/\(name).yaml")
        let filter = try #require(compiled, "\(bag.errors)")
        let outputs: [(String, [UInt8])] = [
            ("\(name).bpf", filter.program.bytes),
            ("\(name).seccomp.json", Array((try SeccompJSONEmitter(filter).object().render() + "\n").utf8)),
            ("\(name).disasm", Array(Disassembler(filter.program).render().utf8)),
            ("\(name).oci.json", Array((try OCIFragmentEmitter(filter).object().render() + "\n").utf8)),
            ("\(name).apparmor", Array(AppArmorEmitter(filter).render().utf8)),
            ("\(name).cil", Array(SELinuxEmitter(filter).render().utf8)),
            ("\(name).k8s.yaml", Array(try KubernetesEmitter(filter).render().utf8)),
        ]
        let update = ProcessInfo.processInfo.environment["POLICYC_UPDATE_GOLDENS"] != nil
        for (file, bytes) in outputs {
            let path = Paths.profiles + "/" + file
            if update {
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                continue
            }
            let same = FileManager.default.contents(atPath: path).map(Array.init) == bytes
            #expect(same, "\(file) differs from Profiles/: run `make goldens` and review the diff")
        }
    }
}
