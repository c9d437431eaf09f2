import PolicyModel

/// A set of argument values as bits fixed by `mask` to `value`, the others free: what one
/// masked equality selects. Every comparison a policy can write is a disjoint union of them.
public struct Cube: Hashable, Sendable {
    public var mask: UInt64
    public var value: UInt64

    public init(mask: UInt64, value: UInt64) { (self.mask, self.value) = (mask, value & mask) }

    public static let all = Cube(mask: 0, value: 0)

    public func contains(_ x: UInt64) -> Bool { x & mask == value }

    public func intersection(_ other: Cube) -> Cube? {
        guard (value ^ other.value) & mask & other.mask == 0 else { return nil }
        return Cube(mask: mask | other.mask, value: value | other.value)
    }

    /// `self` less `other`, as disjoint cubes: one per bit `other` fixes and `self` leaves free,
    /// that bit the other way and the bits before it as `other` has them.
    public func subtracting(_ other: Cube) -> [Cube] {
        guard intersection(other) != nil else { return [self] }
        var result: [Cube] = []
        var fixed = self
        var free = other.mask & ~mask
        while free != 0 {
            let bit = free & (~free &+ 1)
            free &= ~bit
            result.append(Cube(mask: fixed.mask | bit, value: fixed.value | (~other.value & bit)))
            fixed = Cube(mask: fixed.mask | bit, value: fixed.value | (other.value & bit))
        }
        return result
    }

    /// The smallest value in the set (free bits 0): a witness.
    public var witness: UInt64 { value }
}

enum Cubes {
    /// The values `x` (within `universe`) for which `c` holds on `x`, as disjoint cubes:
    /// `(x & m) op v` is `x & m` in an interval, each aligned block of it one cube.
    static func of(_ c: ArgCmp, universe: UInt64) -> [Cube] {
        let m = (c.mask ?? .max) & universe
        let v = c.value
        let top = m   // the largest value x & m can take
        var intervals: [(UInt64, UInt64)] = []
        switch c.op {
        case .eq: if v <= top { intervals = [(v, v)] }
        case .ne:
            if v > top { intervals = [(0, top)] } else {
                if v > 0 { intervals.append((0, v - 1)) }
                if v < top { intervals.append((v + 1, top)) }
            }
        case .lt: if v > 0 { intervals = [(0, min(v - 1, top))] }
        case .le: intervals = [(0, min(v, top))]
        case .gt: if v < top { intervals = [(v + 1, top)] }
        case .ge: if v <= top { intervals = [(v, top)] }
        }
        var cubes: [Cube] = []
        for (lo, hi) in intervals where lo <= hi {
            for (base, bits) in blocks(lo, hi) {
                let low: UInt64 = bits >= 64 ? .max : (1 << UInt64(bits)) - 1
                // Bits of the block above `bits` outside the mask would have to be 1 in x & m.
                guard base & ~m & ~low == 0 else { continue }
                cubes.append(Cube(mask: m & ~low, value: base & ~low))
            }
        }
        return cubes
    }

    /// `lo...hi` as aligned blocks of 2^bits values.
    static func blocks(_ lo: UInt64, _ hi: UInt64) -> [(UInt64, Int)] {
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
