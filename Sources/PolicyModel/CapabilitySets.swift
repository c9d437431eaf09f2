extension CapabilitySets {
    public static let all: UInt64 = (1 << UInt64(Capabilities.names.count)) - 1

    public static func mask(_ names: Set<String>) -> UInt64 {
        names.reduce(0) { $0 | (Capabilities.number($1).map { 1 << UInt64($0) } ?? 0) }
    }

    public static func names(_ mask: UInt64) -> [String] {
        Capabilities.names.enumerated().filter { mask & (1 << UInt64($0.offset)) != 0 }.map(\.element)
    }

    /// Docker's: its default set in bounding, effective and permitted; nothing inheritable.
    public static let dockerDefault: CapabilitySets = {
        let m = mask(Capabilities.dockerDefault)
        return CapabilitySets(bounding: m, effective: m, permitted: m, inheritable: 0, ambient: 0)
    }()

    /// The sets a policy's `capabilities` section gives: `drop` then `add` over Docker's
    /// default set, or the OCI sets written out (an unnamed set follows the bounding set;
    /// inheritable and ambient default to empty). Contradictions are located errors.
    public static func resolve(_ spec: CapabilitySpec?, diagnostics: DiagnosticBag) -> CapabilitySets {
        guard let spec else { return dockerDefault }
        func set(_ list: [Located<String>]?) -> UInt64? {
            list.map { items in
                items.reduce(UInt64(0)) { acc, item in
                    item.value.uppercased() == "ALL" ? all : acc | (Capabilities.canonical(item.value).flatMap(Capabilities.number).map { 1 << UInt64($0) } ?? 0)
                }
            }
        }
        var base = dockerDefault.bounding
        if let drop = set(spec.drop) {
            base &= ~drop
            for added in spec.add ?? [] {
                if let cap = Capabilities.canonical(added.value), let n = Capabilities.number(cap),
                   drop & (1 << UInt64(n)) != 0, !(spec.drop ?? []).contains(where: { $0.value.uppercased() == "ALL" }) {
                    diagnostics.error(added.location, "\(cap) is both dropped and added")
                }
            }
        }
        base |= set(spec.add) ?? 0
        let bounding = set(spec.bounding) ?? base
        let permitted = set(spec.permitted) ?? (spec.bounding == nil ? base : bounding)
        var sets = CapabilitySets(
            bounding: bounding,
            effective: set(spec.effective) ?? permitted,
            permitted: permitted,
            inheritable: set(spec.inheritable) ?? 0,
            ambient: set(spec.ambient) ?? 0)
        sets.check(spec, diagnostics: diagnostics)
        sets.effective &= sets.permitted
        return sets
    }

    /// ambient ⊆ permitted ∩ inheritable, effective ⊆ permitted, every set ⊆ bounding.
    private func check(_ spec: CapabilitySpec, diagnostics: DiagnosticBag) {
        func report(_ list: [Located<String>]?, _ extra: UInt64, _ why: String) {
            guard extra != 0 else { return }
            let names = CapabilitySets.names(extra)
            let at = list?.first { item in Capabilities.canonical(item.value).map(names.contains) ?? (item.value.uppercased() == "ALL") }?.location
                ?? list?.first?.location ?? spec.location
            if let at { diagnostics.error(at, "\(names.joined(separator: ", ")) \(why)") }
        }
        report(spec.ambient, ambient & ~(permitted & inheritable), "in ambient but not in both permitted and inheritable (the kernel requires it)")
        report(spec.effective, effective & ~permitted, "in effective but not in permitted")
        report(spec.permitted, permitted & ~bounding, "in permitted but not in the bounding set")
        report(spec.inheritable, inheritable & ~bounding, "in inheritable but not in the bounding set")
        report(spec.ambient, ambient & ~bounding, "in ambient but not in the bounding set")
    }
}
