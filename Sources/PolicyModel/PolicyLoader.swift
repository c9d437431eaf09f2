import Foundation
import Yams

/// Reads a policy file, resolves `extends` through the search path, merges parents.
public final class PolicyLoader {
    public static let maxFileSize = 4 << 20

    private let includeDirs: [String]
    private let shipped: [String: String]
    public let diagnostics: DiagnosticBag
    /// Every file whose contents, or absence, the result depends on: what a cache of the
    /// compiled policy must find unchanged.
    public private(set) var inputs: [PolicyInput] = []

    /// - Parameters:
    ///   - includeDirs: `-I` directories, searched before the shipped policies.
    ///   - shipped: the policies built into policyc, by name.
    public init(includeDirs: [String] = [], shipped: [String: String] = [:], diagnostics: DiagnosticBag = DiagnosticBag()) {
        self.includeDirs = includeDirs
        self.shipped = shipped
        self.diagnostics = diagnostics
    }

    /// The merged policy, or nil when any error was found (all are in `diagnostics`).
    public func load(path: String) -> Policy? {
        let policy = loadFile(path: path, label: path, stack: [])
        return diagnostics.hasErrors ? nil : policy
    }

    /// Parses policy text given directly (tests, shipped policies).
    /// `directory`: where relative `extends` paths start (the file's own, once it is written).
    public func load(text: String, label: String, directory: String = ".") -> Policy? {
        let policy = loadText(text, label: label, directory: directory, stack: [label])
        return diagnostics.hasErrors ? nil : policy
    }

    private func loadFile(path: String, label: String, stack: [String], reference: SourceLocation? = nil) -> Policy? {
        let start = SourceLocation(file: label, line: 1, column: 1)
        let key = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        if stack.contains(key) {
            let cycle = stack[stack.firstIndex(of: key)!...] + [key]
            diagnostics.error(reference ?? start, "extends cycle: " + cycle.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: " -> "))
            return nil
        }
        guard let text = readText(path: path, at: start) else { return nil }
        return loadText(text, label: label, directory: URL(fileURLWithPath: path).deletingLastPathComponent().path, stack: stack + [key])
    }

    private func readText(path: String, at start: SourceLocation) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            diagnostics.error(start, "no such file")
            return nil
        }
        guard !isDirectory.boolValue else {
            diagnostics.error(start, "is a directory, expected a policy file")
            return nil
        }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? NSNumber else {
            diagnostics.error(start, "cannot read the file")
            return nil
        }
        guard size.intValue <= Self.maxFileSize else {
            diagnostics.error(start, "file is \(size.intValue) bytes; policies are limited to \(Self.maxFileSize) bytes")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            diagnostics.error(start, "cannot read the file")
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            diagnostics.error(start, "the file is not UTF-8 text")
            return nil
        }
        inputs.append(PolicyInput(path: path, contents: [UInt8](data)))
        return text
    }

    private func loadText(_ text: String, label: String, directory: String, stack: [String]) -> Policy? {
        let start = SourceLocation(file: label, line: 1, column: 1)
        guard text.utf8.count <= Self.maxFileSize else {
            diagnostics.error(start, "policy text is larger than \(Self.maxFileSize) bytes")
            return nil
        }
        if text.contains("\0") {
            diagnostics.error(start, "the file contains NUL bytes; expected YAML or JSON text")
            return nil
        }
        let root: Node
        do {
            // The reader reads scalars as text and types them itself: the basic resolver spares the
            // default one's regular expressions (ICU, about a millisecond to set up).
            guard let node = try Yams.compose(yaml: text, .basic), !Self.isEmpty(node) else {
                diagnostics.error(start, "empty file; expected a policy (policyc: v1, name, ...) or a seccomp profile")
                return nil
            }
            root = node
        } catch {
            diagnostics.append(Self.diagnostic(for: error, file: label))
            return nil
        }
        if Self.exceeds(root, nodes: Self.maxNodes) {
            diagnostics.error(start, "the document expands to more than \(Self.maxNodes) YAML nodes (through aliases?); write it out plainly")
            return nil
        }
        if Self.isBareProfile(root) {
            return parseBareProfile(root, label: label)
        }
        let parser = PolicyParser(reader: NodeReader(file: label, diagnostics: diagnostics))
        let (policy, extends) = parser.parsePolicy(root, fallbackName: Self.nameFromFile(label))
        let parents = extends.compactMap { resolveParent($0, directory: directory, stack: stack) }
        return merge(child: policy, parents: parents)
    }

    private func merge(child: Policy, parents: [Policy]) -> Policy {
        guard var base = parents.first else { return child }
        for parent in parents.dropFirst() { base = base.overlaid(by: parent) }
        var merged = base.overlaid(by: child)
        merged.seccomp.rules = child.seccomp.rules + parents.flatMap(\.seccomp.rules)
        merged.tests = child.tests
        return merged
    }

    private func parseBareProfile(_ root: Node, label: String) -> Policy? {
        var reader = NodeReader(file: label, diagnostics: diagnostics)
        reader.lenient = true
        var policy = Policy(file: label, name: Self.nameFromFile(label))
        policy.isBareProfile = true
        guard let seccomp = PolicyParser(reader: reader).parseSeccomp(root) else { return nil }
        policy.seccomp = seccomp
        return policy
    }

    private func resolveParent(_ reference: Located<String>, directory: String, stack: [String]) -> Policy? {
        let ref = reference.value
        let looksLikePath = ref.contains("/") || ref.hasSuffix(".yaml") || ref.hasSuffix(".yml") || ref.hasSuffix(".json")
        if looksLikePath {
            let path = ref.hasPrefix("/") ? ref : directory + "/" + ref
            guard FileManager.default.fileExists(atPath: path) else {
                diagnostics.error(reference.location, "extends: no policy file '\(ref)'")
                return nil
            }
            return loadFile(path: path, label: Self.displayPath(path), stack: stack, reference: reference.location)
        }
        for dir in includeDirs {
            for ext in ["yaml", "yml", "json"] {
                let path = "\(dir)/\(ref).\(ext)"
                if FileManager.default.fileExists(atPath: path) {
                    return loadFile(path: path, label: Self.displayPath(path), stack: stack, reference: reference.location)
                }
                inputs.append(PolicyInput(path: path, contents: nil))
            }
        }
        if let text = shipped[ref] {
            let key = "<shipped>/\(ref)"
            if stack.contains(key) {
                diagnostics.error(reference.location, "extends cycle through shipped policy '\(ref)'")
                return nil
            }
            return loadText(text, label: "Policies/\(ref).yaml", directory: ".", stack: stack + [key])
        }
        let known = shipped.keys.sorted() + includeDirs.flatMap { Self.policyNames(in: $0) }
        diagnostics.error(reference.location, Suggest.unknown("policy", ref, among: known)
            + " (searched " + (includeDirs.map { "-I \($0)" } + ["the shipped policies"]).joined(separator: ", ") + ")")
        return nil
    }

    private static func policyNames(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .map { String($0.prefix { $0 != "." }) }
    }

    private static func displayPath(_ path: String) -> String {
        let clean = URL(fileURLWithPath: path).standardizedFileURL.path
        let cwd = FileManager.default.currentDirectoryPath + "/"
        return clean.hasPrefix(cwd) && !path.hasPrefix("/") ? String(clean.dropFirst(cwd.count)) : (path.hasPrefix("/") ? clean : path)
    }

    /// A Docker/OCI profile: a mapping with seccomp keys and no `policyc` key.
    static func isBareProfile(_ root: Node) -> Bool {
        guard case .mapping(let mapping) = root else { return false }
        let keys = Set(mapping.keys.compactMap(\.string))
        return !keys.contains("policyc") && (keys.contains("defaultAction") || keys.contains("syscalls"))
    }

    static func isEmpty(_ node: Node) -> Bool {
        if case .scalar(let s) = node, s.style == .plain, s.string.isEmpty || s.string == "null" || s.string == "~" { return true }
        return false
    }

    static let maxNodes = 1_000_000

    /// Aliases share nodes, so a small text can stand for an exponential tree: count with a
    /// budget before walking it.
    static func exceeds(_ root: Node, nodes limit: Int) -> Bool {
        var stack = [root]
        var count = 0
        while let node = stack.popLast() {
            count += 1
            if count > limit { return true }
            switch node {
            case .scalar, .alias: break
            case .sequence(let s): stack.append(contentsOf: s)
            case .mapping(let m): for (k, v) in m { stack.append(k); stack.append(v) }
            }
        }
        return false
    }

    /// `profiles/moby-default.json` is named `moby-default`.
    static func nameFromFile(_ path: String) -> String {
        let base = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent.lowercased()
        let cleaned = String(base.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "-" })
            .drop { !($0.isLetter || $0.isNumber) }
        return cleaned.isEmpty ? "profile" : String(cleaned.prefix(63))
    }

    static func diagnostic(for error: Error, file: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        guard let yaml = error as? YamlError else {
            return Diagnostic(.error, SourceLocation(file: file, line: 1, column: 1), "cannot parse: \(error)")
        }
        switch yaml {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let why = context.map { " (\($0.text))" } ?? ""
            return Diagnostic(.error, at(mark), "invalid YAML: \(problem)\(why)")
        case .reader(let problem, let offset, _, _):
            return Diagnostic(.error, SourceLocation(file: file, line: 1, column: 1), "invalid text: \(problem)" + (offset.map { " at byte \($0)" } ?? ""))
        case .duplicatedKeysInMapping(let duplicates, let context):
            return Diagnostic(.error, at(context.mark), "duplicate key '\(duplicates.first ?? "")' in a mapping")
        default:
            return Diagnostic(.error, SourceLocation(file: file, line: 1, column: 1), "invalid YAML: \(yaml)")
        }
    }
}
