import Yams

/// One policy document (YAML, or a Docker/OCI JSON profile) to the AST, every error located.
struct PolicyParser {
    let reader: NodeReader
    var diagnostics: DiagnosticBag { reader.diagnostics }

    static let topKeys = [
        "policyc", "name", "description", "extends", "seccomp", "capabilities", "noNewPrivileges",
        "filesystem", "network", "landlock", "apparmor", "selinux", "container", "tests",
    ]
    static let seccompKeys = [
        "defaultAction", "defaultErrnoRet", "defaultErrno", "architectures", "archMap", "badArchAction", "baseline",
        "newSyscallAction", "syscalls", "flags", "listenerPath", "listenerMetadata",
    ]
    static let ruleKeys = ["names", "name", "action", "errnoRet", "errno", "when", "args", "includes", "excludes", "comment"]
    static let filterFlags = [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]

    /// Parses a policy; `extends` entries are returned for the loader to resolve.
    func parsePolicy(_ root: Node, fallbackName: String) -> (Policy, [Located<String>]) {
        var policy = Policy(file: reader.file, name: fallbackName)
        var extends: [Located<String>] = []
        guard let entries = reader.mapping(root, "a policy", allowed: Self.topKeys) else { return (policy, []) }
        let present = Set(entries.map(\.0))
        if !present.contains("policyc") {
            reader.error(root, "missing 'policyc: v1' (the language version)")
        }
        if !present.contains("name") {
            reader.error(root, "missing 'name' (names every output)")
        }
        for (key, _, value) in entries {
            switch key {
            case "policyc":
                if let v = reader.string(value, "policyc"), v.value != "v1" {
                    reader.error(value, "unsupported language version '\(v.value)'; expected v1")
                }
            case "name":
                if let v = reader.string(value, "name") {
                    if Self.isValidName(v.value) { policy.name = v.value } else {
                        reader.error(value, "name '\(v.value.prefix(70))' must match [a-z0-9][a-z0-9._-]{0,62}")
                    }
                }
            case "description": policy.description = reader.string(value, "description")?.value
            case "extends":
                if case .scalar = value, let one = reader.string(value, "extends") { extends = [one] }
                else { extends = reader.strings(value, "extends") ?? [] }
            case "seccomp": if let s = parseSeccomp(value) { policy.seccomp = s }
            case "capabilities": policy.capabilities = parseCapabilities(value)
            case "noNewPrivileges": policy.noNewPrivileges = reader.bool(value, "noNewPrivileges")
            case "filesystem": policy.filesystem = parseFilesystem(value)
            case "network": policy.network = parseNetwork(value)
            case "landlock": policy.landlock = parseLandlock(value)
            case "apparmor": policy.apparmor = parseAppArmor(value)
            case "selinux": policy.selinux = parseSELinux(value)
            case "container": policy.container = ContainerParser(reader: reader).parse(value)
            case "tests": policy.tests = parseTests(value)
            default: break
            }
        }
        return (policy, extends)
    }

    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        return alnum(bytes[0]) && bytes.dropFirst().allSatisfy { alnum($0) || $0 == 46 || $0 == 95 || $0 == 45 }
    }

    // MARK: seccomp

    func parseSeccomp(_ node: Node) -> SeccompSpec? {
        guard let entries = reader.mapping(node, "seccomp", allowed: Self.seccompKeys) else { return nil }
        var spec = SeccompSpec()
        let defaultErrnoRet = errnoField(entries, number: "defaultErrnoRet", name: "defaultErrno")
        var archMapArches: [Arch]?
        for (key, _, value) in entries {
            switch key {
            case "defaultAction": spec.defaultAction = cappingErrno(reader.action(value, "defaultAction", errnoRet: defaultErrnoRet))
            case "badArchAction": spec.badArchAction = reader.action(value, "badArchAction")
            case "newSyscallAction": spec.newSyscallAction = reader.action(value, "newSyscallAction", defaultErrno: 38)
            case "baseline": spec.baseline = reader.kernelVersion(value, "baseline")
            case "architectures":
                if let items = reader.sequence(value, "architectures") {
                    spec.architectures = Located(unique(items.compactMap { reader.arch($0, "an architecture") }), reader.location(value))
                }
            case "archMap": archMapArches = parseArchMap(value)
            case "syscalls":
                if let items = reader.sequence(value, "syscalls") {
                    spec.rules = items.compactMap(parseRule)
                }
            case "flags":
                if case .scalar(let s) = value, s.string.isEmpty { break }
                for flag in reader.strings(value, "flags") ?? [] {
                    if Self.filterFlags.contains(flag.value) { spec.flags.append(flag) } else {
                        diagnostics.error(flag.location, Suggest.unknown("seccomp flag", flag.value, among: Self.filterFlags))
                    }
                }
            case "listenerPath": spec.listenerPath = reader.string(value, "listenerPath")?.value
            case "listenerMetadata": spec.listenerMetadata = reader.string(value, "listenerMetadata")?.value
            default: break
            }
        }
        if spec.architectures == nil, let archMapArches {
            spec.architectures = Located(archMapArches, reader.location(node))
        }
        return spec
    }

    /// OCI's numeric `errnoRet` and containers/common's `errno` name; they must agree. The
    /// number is an errno for SCMP_ACT_ERRNO and 16 bits of trace data for SCMP_ACT_TRACE.
    private func errnoField(_ entries: [(String, Node, Node)], number: String, name: String) -> UInt16? {
        var numeric: UInt16?, named: UInt16?
        if let (_, _, value) = entries.first(where: { $0.0 == number }), let n = reader.number(value, number, max: 0xFFFF) {
            numeric = UInt16(n.value)
        }
        if let (_, _, value) = entries.first(where: { $0.0 == name }), let text = reader.string(value, name) {
            if let v = Constants.errnoNames[text.value] { named = v } else {
                reader.error(value, Suggest.unknown("errno", text.value, among: Constants.errnoNames.keys))
            }
        }
        if let numeric, let named, numeric != named, let (_, _, value) = entries.first(where: { $0.0 == name }) {
            reader.error(value, "\(name) names errno \(named) but \(number) is \(numeric)")
        }
        return numeric ?? named
    }

    /// Docker's archMap: the native architecture's entry gives the filter's architectures.
    private func parseArchMap(_ node: Node) -> [Arch]? {
        guard let items = reader.sequence(node, "archMap") else { return nil }
        var chosen: [Arch]?
        for item in items {
            guard let entries = reader.mapping(item, "an archMap entry", allowed: ["architecture", "subArchitectures"]) else { continue }
            var main: Arch?
            var subs: [Arch] = []
            for (key, _, value) in entries {
                if key == "architecture" { main = quietArch(value) }
                else if case .scalar(let s) = value, s.string.isEmpty || s.string == "null" { continue }
                else { subs = (reader.sequence(value, "subArchitectures") ?? []).compactMap(quietArch) }
            }
            if let main, main == Arch.native, chosen == nil { chosen = unique([main] + subs) }
        }
        return chosen
    }

    /// An archMap entry names architectures for every host; only the native one's matter.
    private func quietArch(_ node: Node) -> Arch? {
        guard let text = reader.string(node, "an architecture") else { return nil }
        if let arch = Arch.named(text.value) { return arch }
        if !Arch.foreignSpellings.contains(text.value.lowercased()) {
            reader.error(node, Suggest.unknown("architecture", text.value, among: Arch.allCases.map(\.scmpName)))
        }
        return nil
    }

    /// The kernel caps SECCOMP_RET_ERRNO data at MAX_ERRNO (libseccomp refuses more); trace
    /// data keeps its 16 bits.
    private func cappingErrno(_ action: Located<Action>?) -> Located<Action>? {
        guard let action, case .errno(let e) = action.value, e > 4095 else { return action }
        diagnostics.warning(action.location, "errno \(e) is above 4095 (MAX_ERRNO); the kernel returns 4095, and so does this filter")
        return Located(.errno(4095), action.location)
    }

    /// A rule; a bare SCMP_ACT_ERRNO is EPERM, whatever `defaultErrnoRet` says, as in runc.
    private func parseRule(_ node: Node) -> SeccompRule? {
        guard let entries = reader.mapping(node, "a syscalls rule", allowed: Self.ruleKeys) else { return nil }
        let errnoRet = errnoField(entries, number: "errnoRet", name: "errno")
        var names: [Located<String>] = []
        var action: Located<Action>?
        var when: Located<CondExpr>?
        var args: [OCIArg] = []
        var includes = RuleFilter(), excludes = RuleFilter()
        var comment: String?
        for (key, _, value) in entries {
            switch key {
            case "names": names += reader.strings(value, "names") ?? []
            case "name": if let n = reader.string(value, "name") { names.append(n) }
            case "action": action = cappingErrno(reader.action(value, "action", errnoRet: errnoRet))
            case "when": when = parseWhen(value)
            case "args":
                if case .scalar(let s) = value, s.string.isEmpty || s.string == "null" { break }
                args = (reader.sequence(value, "args") ?? []).compactMap(parseArg)
            case "includes": includes = parseFilter(value, "includes")
            case "excludes": excludes = parseFilter(value, "excludes")
            case "comment": comment = reader.string(value, "comment")?.value
            default: break
            }
        }
        if names.isEmpty, !entries.contains(where: { $0.0 == "names" || $0.0 == "name" }) {
            reader.error(node, "a rule needs 'names' (syscall names and @groups)")
        }
        guard let action else {
            if !entries.contains(where: { $0.0 == "action" }) { reader.error(node, "a rule needs an 'action'") }
            return nil
        }
        validateNames(names)
        var rule = SeccompRule(location: reader.location(node), names: names, action: action)
        rule.when = when
        rule.args = args
        rule.includes = includes
        rule.excludes = excludes
        rule.comment = comment
        rule.lenientNames = reader.lenient
        return rule
    }

    private func validateNames(_ names: [Located<String>]) {
        for name in names {
            if name.value.hasPrefix("@") {
                if SyscallGroups.group(named: name.value) == nil {
                    diagnostics.error(name.location, Suggest.unknown("syscall group", name.value, among: SyscallGroups.names))
                }
            } else if !SyscallTable.allNames.contains(name.value) {
                if reader.lenient {
                    diagnostics.warning(name.location, "syscall '\(name.value)' is not on any architecture policyc generates code for; skipped")
                } else {
                    diagnostics.error(name.location, Suggest.unknown("syscall", name.value, among: SyscallTable.allNames))
                }
            }
        }
    }

    private func parseWhen(_ node: Node) -> Located<CondExpr>? {
        guard let text = reader.string(node, "when") else { return nil }
        let start = reader.textStart(node)
        do {
            let expr = try ConditionParser.parse(text.value)
            var ok = true
            for (name, column) in expr.constants where !Constants.isKnown(name) {
                ok = false
                diagnostics.error(start.advanced(byColumns: column), Suggest.unknown("constant", name, among: Constants.allNames))
            }
            return ok ? Located(expr, text.location) : nil
        } catch {
            diagnostics.error(start.advanced(byColumns: error.offset), "bad condition: \(error.message)")
            return nil
        }
    }

    private func parseArg(_ node: Node) -> OCIArg? {
        guard let entries = reader.mapping(node, "an args entry", allowed: ["index", "value", "valueTwo", "op"]) else { return nil }
        var index: Int?, value: UInt64?, valueTwo: UInt64 = 0, op: String?
        for (key, _, v) in entries {
            switch key {
            case "index": index = reader.int(v, "index", range: 0...5)
            case "value": value = reader.number(v, "value")?.value
            case "valueTwo": valueTwo = reader.number(v, "valueTwo")?.value ?? 0
            case "op":
                if let o = reader.string(v, "op") {
                    if OCIArg.operators.contains(o.value) { op = o.value } else {
                        reader.error(v, Suggest.unknown("comparison", o.value, among: OCIArg.operators))
                    }
                }
            default: break
            }
        }
        let present = Set(entries.map(\.0))
        for required in ["index", "value", "op"] where !present.contains(required) {
            reader.error(node, "an args entry needs '\(required)'")
        }
        guard let index, let value, let op else { return nil }
        return OCIArg(index: index, value: value, valueTwo: valueTwo, op: op, location: reader.location(node))
    }

    private func parseFilter(_ node: Node, _ what: String) -> RuleFilter {
        var filter = RuleFilter()
        guard let entries = reader.mapping(node, what, allowed: ["caps", "arches", "minKernel"]) else { return filter }
        for (key, _, value) in entries {
            switch key {
            case "caps":
                filter.caps = reader.strings(value, "caps") ?? []
                for cap in filter.caps where Capabilities.canonical(cap.value) == nil {
                    diagnostics.error(cap.location, Suggest.unknown("capability", cap.value, among: Capabilities.names))
                }
            case "arches":
                filter.arches = reader.strings(value, "arches") ?? []
                for arch in filter.arches where Arch.named(arch.value) == nil && !Arch.foreignSpellings.contains(arch.value.lowercased()) {
                    diagnostics.error(arch.location, Suggest.unknown("architecture", arch.value, among: Array(Arch.spellings.keys)))
                }
            case "minKernel": filter.minKernel = reader.kernelVersion(value, "minKernel")
            default: break
            }
        }
        return filter
    }

    // MARK: other sections

    func parseCapabilities(_ node: Node) -> CapabilitySpec? {
        let sets = ["drop", "add", "bounding", "effective", "permitted", "inheritable", "ambient"]
        guard let entries = reader.mapping(node, "capabilities", allowed: sets) else { return nil }
        var spec = CapabilitySpec()
        spec.location = reader.location(node)
        for (key, _, value) in entries {
            let names = reader.strings(value, "capabilities.\(key)") ?? []
            for name in names where name.value.uppercased() != "ALL" && Capabilities.canonical(name.value) == nil {
                diagnostics.error(name.location, Suggest.unknown("capability", name.value, among: Capabilities.names + ["ALL"]))
            }
            switch key {
            case "drop": spec.drop = names
            case "add": spec.add = names
            case "bounding": spec.bounding = names
            case "effective": spec.effective = names
            case "permitted": spec.permitted = names
            case "inheritable": spec.inheritable = names
            default: spec.ambient = names
            }
        }
        return spec
    }

    func absolutePaths(_ node: Node, _ what: String) -> [Located<String>] {
        let paths = reader.strings(node, what) ?? []
        for path in paths where !path.value.hasPrefix("/") {
            diagnostics.error(path.location, "\(what) paths must be absolute, found '\(path.value.prefix(60))'")
        }
        return paths
    }

    func parseFilesystem(_ node: Node) -> FilesystemSpec? {
        guard let entries = reader.mapping(node, "filesystem", allowed: ["read", "write", "exec", "deny"]) else { return nil }
        var spec = FilesystemSpec()
        for (key, _, value) in entries {
            let paths = absolutePaths(value, "filesystem.\(key)")
            switch key {
            case "read": spec.read = paths
            case "write": spec.write = paths
            case "exec": spec.exec = paths
            default: spec.deny = paths
            }
        }
        return spec
    }

    static let families: [String: String] = [
        "unix": "AF_UNIX", "local": "AF_UNIX", "inet": "AF_INET", "inet6": "AF_INET6", "netlink": "AF_NETLINK",
        "packet": "AF_PACKET", "vsock": "AF_VSOCK", "can": "AF_CAN", "bluetooth": "AF_BLUETOOTH",
        "alg": "AF_ALG", "xdp": "AF_XDP", "tipc": "AF_TIPC", "key": "AF_KEY", "x25": "AF_X25",
        "ax25": "AF_AX25", "appletalk": "AF_APPLETALK", "rds": "AF_RDS", "llc": "AF_LLC", "qipcrtr": "AF_QIPCRTR",
    ]

    func parseNetwork(_ node: Node) -> NetworkSpec? {
        guard let entries = reader.mapping(node, "network", allowed: ["families", "tcp"]) else { return nil }
        var spec = NetworkSpec(location: reader.location(node))
        for (key, _, value) in entries {
            if key == "families" {
                let names = reader.strings(value, "network.families") ?? []
                for name in names where Self.families[name.value] == nil {
                    diagnostics.error(name.location, Suggest.unknown("address family", name.value, among: Self.families.keys))
                }
                spec.families = names
                continue
            }
            guard let tcp = reader.mapping(value, "network.tcp", allowed: ["bind", "connect"]) else { continue }
            for (direction, _, ports) in tcp {
                let list = (reader.sequence(ports, "network.tcp.\(direction)") ?? []).compactMap {
                    reader.number($0, "a TCP port", max: 65535).map { Located(UInt16($0.value), $0.location) }
                }
                if direction == "bind" { spec.tcpBind = list } else { spec.tcpConnect = list }
            }
        }
        return spec
    }

    func parseLandlock(_ node: Node) -> LandlockSpec? {
        guard let entries = reader.mapping(node, "landlock", allowed: ["minimumAbi", "required"]) else { return nil }
        var spec = LandlockSpec()
        for (key, _, value) in entries {
            if key == "minimumAbi" { spec.minimumAbi = reader.int(value, "landlock.minimumAbi", range: 1...7) }
            else { spec.required = reader.bool(value, "landlock.required") }
        }
        return spec
    }

    func parseAppArmor(_ node: Node) -> AppArmorSpec? {
        guard let entries = reader.mapping(node, "apparmor", allowed: ["profile", "mode", "rules"]) else { return nil }
        var spec = AppArmorSpec()
        for (key, _, value) in entries {
            switch key {
            case "profile": spec.profile = reader.string(value, "apparmor.profile")?.value
            case "mode":
                if let mode = reader.string(value, "apparmor.mode") {
                    if ["enforce", "complain"].contains(mode.value) { spec.mode = mode.value } else {
                        reader.error(value, Suggest.unknown("AppArmor mode", mode.value, among: ["enforce", "complain"]) + " (expected enforce or complain)")
                    }
                }
            default: spec.rules = (reader.strings(value, "apparmor.rules") ?? []).map(\.value)
            }
        }
        return spec
    }

    func parseSELinux(_ node: Node) -> SELinuxSpec? {
        guard let entries = reader.mapping(node, "selinux", allowed: ["type", "level", "base"]) else { return nil }
        var spec = SELinuxSpec()
        var typeNode: Node?
        for (key, _, value) in entries {
            switch key {
            case "type": spec.type = reader.string(value, "selinux.type")?.value; typeNode = value
            case "level": spec.level = reader.string(value, "selinux.level")?.value
            default:
                guard let word = reader.string(value, "selinux.base") else { continue }
                if let base = SELinuxSpec.Base(rawValue: word.value) { spec.base = base } else {
                    reader.error(value, Suggest.unknown("selinux base", word.value, among: SELinuxSpec.Base.allCases.map(\.rawValue))
                        + " (expected container or refpolicy)")
                }
            }
        }
        if let type = spec.type, let typeNode, spec.base == .container,
           !SELinuxSpec.platformTypes.contains(type), !type.hasSuffix(".process") || type.split(separator: ".").count != 2 {
            reader.error(typeNode, "on base container the type is BLOCK.process, udica's naming (for example \(type.replacingOccurrences(of: "_t", with: "")).process), or a platform type such as container_t; base: refpolicy declares a plain type")
        }
        return spec
    }

    func parseTests(_ node: Node) -> [PolicyTest] {
        guard let items = reader.sequence(node, "tests") else { return [] }
        return items.compactMap { item -> PolicyTest? in
            guard let entries = reader.mapping(item, "a test", allowed: ["call", "expect", "arch"]) else { return nil }
            var call: Located<String>?, expect: Located<Action>?, arch: Arch?
            for (key, _, value) in entries {
                switch key {
                case "call":
                    call = reader.string(value, "call")
                    if let text = call?.value {
                        do throws(ExprError) {
                            let parsed = try ConditionParser.parseCall(text)
                            if !SyscallTable.allNames.contains(parsed.name) {
                                reader.error(value, Suggest.unknown("syscall", parsed.name, among: SyscallTable.allNames))
                            }
                            for (name, column) in parsed.args.flatMap(\.constants) where !Constants.isKnown(name) {
                                diagnostics.error(reader.textStart(value).advanced(byColumns: column), Suggest.unknown("constant", name, among: Constants.allNames))
                            }
                        } catch {
                            diagnostics.error(reader.textStart(value).advanced(byColumns: error.offset), "bad call: \(error.message)")
                            call = nil
                        }
                    }
                case "expect": expect = reader.action(value, "expect")
                default: arch = reader.arch(value, "arch")
                }
            }
            let present = Set(entries.map(\.0))
            if !present.contains("call") { reader.error(item, "a test needs 'call'") }
            if !present.contains("expect") { reader.error(item, "a test needs 'expect'") }
            guard let call, let expect else { return nil }
            return PolicyTest(location: reader.location(item), call: call, arch: arch, expect: expect)
        }
    }

    private func unique(_ arches: [Arch]) -> [Arch] {
        var seen = Set<Arch>()
        return arches.filter { seen.insert($0).inserted }
    }
}
