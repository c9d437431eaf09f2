/// Where something was written: `FILE:LINE:COLUMN`, 1-based.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
    public var fileAndLine: String { "\(file):\(line)" }

    public func advanced(byColumns n: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column + n)
    }
}

public struct Diagnostic: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning, note }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, _ location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// Collects every problem in a run instead of stopping at the first.
public final class DiagnosticBag: @unchecked Sendable {
    public private(set) var items: [Diagnostic] = []

    public init() {}

    public func error(_ location: SourceLocation, _ message: String) {
        items.append(Diagnostic(.error, location, message))
    }

    public func warning(_ location: SourceLocation, _ message: String) {
        items.append(Diagnostic(.warning, location, message))
    }

    public func append(_ diagnostic: Diagnostic) { items.append(diagnostic) }
    public func append(contentsOf other: [Diagnostic]) { items.append(contentsOf: other) }

    public var hasErrors: Bool { items.contains { $0.severity == .error } }
    public var errors: [Diagnostic] { items.filter { $0.severity == .error } }
}

/// "did you mean" for a misspelt name: the closest candidate within a small edit distance.
public enum Suggest {
    public static func closest<S: Sequence>(to word: String, in candidates: S) -> String?
        where S.Element == String {
        let target = Array(word.lowercased().utf8)
        let limit = max(2, target.count / 3)
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(target, Array(candidate.lowercased().utf8), limit: limit)
            // Ties go to the candidate of the word's length (a typo more often replaces than drops).
            func rank(_ c: String, _ d: Int) -> (Int, Int, String) { (d, abs(c.count - word.count), c) }
            if distance <= limit, best.map({ rank(candidate, distance) < rank($0.0, $0.1) }) ?? true {
                best = (candidate, distance)
            }
        }
        return best?.0
    }

    /// `message` plus a "did you mean" clause when a candidate is close.
    public static func unknown<S: Sequence>(_ what: String, _ word: String, among candidates: S) -> String
        where S.Element == String {
        var text = "unknown \(what) '\(word)'"
        if let guess = closest(to: word, in: candidates) { text += "; did you mean '\(guess)'?" }
        return text
    }

    static func editDistance(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int {
        if abs(a.count - b.count) > limit { return limit + 1 }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            current[0] = i
            var rowMin = current[0]
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
                rowMin = min(rowMin, current[j])
            }
            if rowMin > limit { return limit + 1 }
            swap(&previous, &current)
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
