/// A set of argument values as bits fixed by `mask` to `value`, the others free: what one
/// masked equality selects. Every comparison a policy can write is a disjoint union of them.
public struct Cube: Hashable, Sendable {
    public var mask: UInt64
    public var value: UInt64

    public init(mask: UInt64, value: UInt64) { (self.mask, self.value) = (mask, value & mask) }

    public static let all = Cube(mask: 0, value: 0)

    public func intersection(_ other: Cube) -> Cube? {
        guard (value ^ other.value) & mask & other.mask == 0 else { return nil }
        return Cube(mask: mask | other.mask, value: value | other.value)
    }

    /// The smallest value in the set (free bits 0): a witness.
    public var witness: UInt64 { value }

    /// `lo...hi` as aligned blocks of 2^bits values starting at a multiple of 2^bits
    /// (`5...12` is `5`, `6...7`, `8...11`, `12`); the whole range is one block of 64 bits.
    public static func blocks(_ lo: UInt64, _ hi: UInt64) -> [(base: UInt64, bits: Int)] {
        func end(_ x: UInt64, _ bits: Int) -> UInt64 { bits >= 64 ? .max : x + ((1 << UInt64(bits)) - 1) }
        var out: [(UInt64, Int)] = []
        var x = lo
        while true {
            var bits = x == 0 ? 64 : x.trailingZeroBitCount
            while bits > 0 && end(x, bits) > hi { bits -= 1 }
            out.append((x, bits))
            let last = end(x, bits)
            if last >= hi { return out }
            x = last + 1
        }
    }
}
