import Foundation
import PolicyCompiler
import PolicyModel
import Testing

@Suite struct CapabilityTests {
    func sets(_ yaml: String) -> (CapabilitySets, DiagnosticBag) {
        let bag = DiagnosticBag()
        let loader = PolicyLoader(shipped: ShippedPolicies.all, diagnostics: bag)
        let policy = loader.load(text: "policyc: v1\nname: caps\n" + yaml, label: "caps.yaml")
        return (CapabilitySets.resolve(policy?.capabilities, diagnostics: bag), bag)
    }

    @Test func allFortyOneCapabilitiesWithSixtyFourBitMasks() {
        #expect(Capabilities.names.count == 41)
        #expect(Capabilities.number("CAP_CHECKPOINT_RESTORE") == 40)
        #expect(CapabilitySets.mask(["CAP_BPF", "CAP_PERFMON"]) == (1 << 39) | (1 << 38))
        #expect(CapabilitySets.all == 0x1_FFFF_FFFF_FF)
    }

    @Test func dockerDefaultWhenAbsent() {
        let (s, _) = sets("")
        #expect(s.bounding == 0xA804_25FB && s.effective == 0xA804_25FB && s.inheritable == 0 && s.ambient == 0)
    }

    @Test func dropAllThenAdd() {
        let (s, bag) = sets("capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, cap_bpf]}\n")
        #expect(!bag.hasErrors)
        #expect(s.bounding == (1 << 10) | (1 << 39) && s.permitted == s.bounding && s.effective == s.bounding)
    }

    @Test func explicitOCISets() {
        let (s, bag) = sets("""
            capabilities:
              bounding: [CHOWN, NET_ADMIN, SYS_PTRACE]
              permitted: [CHOWN, NET_ADMIN]
              effective: [NET_ADMIN]
              inheritable: [NET_ADMIN]
              ambient: [NET_ADMIN]

            """)
        #expect(!bag.hasErrors, "\(bag.errors)")
        #expect(s.bounding == 1 | 1 << 12 | 1 << 19 && s.permitted == 1 | 1 << 12 && s.effective == 1 << 12 && s.ambient == 1 << 12)
    }

    @Test(arguments: [
        ("capabilities: {drop: [NET_RAW], add: [NET_RAW]}\n", "CAP_NET_RAW is both dropped and added", "3:39"),
        ("capabilities:\n  permitted: [CHOWN]\n  effective: [CHOWN, KILL]\n", "CAP_KILL in effective but not in permitted", "5:22"),
        ("capabilities:\n  permitted: [CHOWN]\n  ambient: [CHOWN]\n", "CAP_CHOWN in ambient but not in both permitted and inheritable", "5:13"),
        ("capabilities:\n  bounding: [CHOWN]\n  permitted: [CHOWN, SYS_ADMIN]\n", "CAP_SYS_ADMIN in permitted but not in the bounding set", "5:22"),
    ])
    func contradictionsAreLocated(yaml: String, message: String, at: String) {
        let (_, bag) = sets(yaml)
        #expect(bag.errors.contains { $0.description.hasPrefix("caps.yaml:\(at): error: \(message)") }, "\(bag.errors)")
    }
}
