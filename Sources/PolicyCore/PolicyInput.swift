/// A file a loaded policy depends on: its bytes, or nil when its absence decided the search.
public struct PolicyInput: Equatable, Sendable {
    public let path: String
    public let contents: [UInt8]?

    public init(path: String, contents: [UInt8]?) {
        self.path = path
        self.contents = contents
    }
}
