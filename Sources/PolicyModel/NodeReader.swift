import Yams

/// Typed, located reads of a YAML node tree; every problem goes to the bag, reads return nil.
struct NodeReader {
    let file: String
    let diagnostics: DiagnosticBag
    /// Imported profiles: names of other architectures warn instead of failing.
    var lenient = false

    func location(_ node: Node) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    func error(_ node: Node, _ message: String) { diagnostics.error(location(node), message) }

    private func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return s.string.isEmpty && s.style == .plain ? "nothing" : "a scalar '\(s.string.prefix(40))'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// Key/value pairs of a mapping whose keys are all among `allowed`.
    func mapping(_ node: Node, _ what: String, allowed: [String]) -> [(String, Node, Node)]? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping, found \(kind(node))")
            return nil
        }
        var entries: [(String, Node, Node)] = []
        for (key, value) in mapping {
            guard case .scalar(let k) = key else {
                error(key, "keys of \(what) must be plain names")
                continue
            }
            if !allowed.contains(k.string) {
                error(key, Suggest.unknown("key", k.string, among: allowed) + " in \(what)")
                continue
            }
            entries.append((k.string, key, value))
        }
        return entries
    }

    func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard case .sequence(let items) = node else {
            error(node, "\(what) must be a list, found \(kind(node))")
            return nil
        }
        return Array(items)
    }

    func string(_ node: Node, _ what: String) -> Located<String>? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(what) must be a string, found \(kind(node))")
            return nil
        }
        return Located(scalar.string, location(node))
    }

    /// Column where a scalar's text starts (after an opening quote).
    func textStart(_ node: Node) -> SourceLocation {
        if case .scalar(let s) = node, s.style == .singleQuoted || s.style == .doubleQuoted {
            return location(node).advanced(byColumns: 1)
        }
        return location(node)
    }

    func strings(_ node: Node, _ what: String) -> [Located<String>]? {
        guard let items = sequence(node, what) else { return nil }
        return items.compactMap { string($0, "each entry of \(what)") }
    }

    func number(_ node: Node, _ what: String, max: UInt64 = .max) -> Located<UInt64>? {
        guard let text = string(node, what) else { return nil }
        guard let value = parseNumber(text.value.replacingUnderscores) else {
            error(node, "\(what) must be a number (decimal, 0x hex or 0o octal within 64 bits), found '\(text.value.prefix(40))'")
            return nil
        }
        guard value <= max else {
            error(node, "\(what) must be at most \(max), found \(text.value)")
            return nil
        }
        return Located(value, text.location)
    }

    func int(_ node: Node, _ what: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, what) else { return nil }
        guard let value = Int(text.value), range.contains(value) else {
            error(node, "\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), found '\(text.value.prefix(40))'")
            return nil
        }
        return value
    }

    func bool(_ node: Node, _ what: String) -> Bool? {
        guard let text = string(node, what) else { return nil }
        switch text.value {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default:
            error(node, "\(what) must be true or false, found '\(text.value.prefix(40))'")
            return nil
        }
    }

    func action(_ node: Node, _ what: String, errnoRet: UInt16? = nil, defaultErrno: UInt16 = 1) -> Located<Action>? {
        guard let text = string(node, what) else { return nil }
        do {
            return Located(try Action.parse(text.value, errnoRet: errnoRet, defaultErrno: defaultErrno), text.location)
        } catch {
            switch error {
            case .unknownAction(let word):
                self.error(node, Suggest.unknown("action", word, among: Action.spellings)
                    + " (expected allow, log, errno(NAME), kill-process, kill-thread, trap, trace(N) or notify)")
            case .badArgument(let word):
                self.error(node, Suggest.unknown("errno", word, among: Constants.errnoNames.keys)
                    + " (expected an errno name such as EPERM or a number from 0 to 4095)")
            }
            return nil
        }
    }

    func arch(_ node: Node, _ what: String) -> Arch? {
        guard let text = string(node, what) else { return nil }
        if let arch = Arch.named(text.value) { return arch }
        if Arch.foreignSpellings.contains(text.value.lowercased()) {
            diagnostics.warning(text.location, "architecture '\(text.value)' is not one policyc generates code for; skipped")
            return nil
        }
        error(node, Suggest.unknown("architecture", text.value, among: Arch.allCases.map(\.rawValue) + Arch.allCases.map(\.scmpName)))
        return nil
    }

    func kernelVersion(_ node: Node, _ what: String) -> Located<KernelVersion>? {
        guard let text = string(node, what) else { return nil }
        guard let version = KernelVersion(text.value) else {
            error(node, "\(what) must be a kernel release such as \"6.1\", found '\(text.value.prefix(40))'")
            return nil
        }
        return Located(version, text.location)
    }
}

extension String {
    var replacingUnderscores: String { filter { $0 != "_" } }
}
