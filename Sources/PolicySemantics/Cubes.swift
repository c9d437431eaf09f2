import PolicyModel

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
            for (base, bits) in Cube.blocks(lo, hi) {
                let low: UInt64 = bits >= 64 ? .max : (1 << UInt64(bits)) - 1
                // Bits of the block above `bits` outside the mask would have to be 1 in x & m.
                guard base & ~m & ~low == 0 else { continue }
                cubes.append(Cube(mask: m & ~low, value: base & ~low))
            }
        }
        return cubes
    }
}
