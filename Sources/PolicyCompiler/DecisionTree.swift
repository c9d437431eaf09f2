/// The binary search tree over consecutive ranges: weighted path length as small as possible
/// (an optimal alphabetic tree, Knuth's O(n²) dynamic programme), under a per-leaf depth limit
/// that keeps the longest paths short: splits are chosen top-down among those that leave both
/// sides able to meet their limits.
struct DecisionTree {
    indirect enum Node {
        case leaf(Int)
        /// `at`: first leaf of the right subtree. Sizes count internal nodes.
        case split(at: Int, left: Node, right: Node, leftSize: Int, rightSize: Int)
    }

    let root: Node

    init(weights: [Int], depthLimits: [Int]) {
        let n = weights.count
        precondition(n > 0 && depthLimits.count == n)
        var prefix = [0]
        for w in weights { prefix.append(prefix.last! + w) }
        var cost = [Int](repeating: 0, count: n * n)
        var split = [Int](repeating: 0, count: n * n)
        for i in 0..<n { split[i * n + i] = i }
        if n > 1 {
            for length in 2...n {
                for i in 0...(n - length) {
                    let j = i + length - 1
                    let lo = length == 2 ? i : split[i * n + j - 1]
                    let hi = length == 2 ? i : min(split[(i + 1) * n + j], j - 1)
                    var best = Int.max, bestS = lo
                    for s in lo...max(lo, hi) {
                        let c = cost[i * n + s] + cost[(s + 1) * n + j]
                        if c < best { best = c; bestS = s }
                    }
                    cost[i * n + j] = best + prefix[j + 1] - prefix[i]
                    split[i * n + j] = bestS
                }
            }
        }
        // room[i][j]: the deepest a node holding leaves i...j may sit with every leaf within
        // its limit. room(i, s) falls and room(s+1, j) rises with s, so the best split is
        // found by bisection.
        var room = [Int](repeating: 0, count: n * n)
        for i in 0..<n { room[i * n + i] = depthLimits[i] }
        if n > 1 {
            for length in 2...n {
                for i in 0...(n - length) {
                    let j = i + length - 1
                    var lo = i, hi = j - 1
                    while lo < hi {
                        let mid = (lo + hi) / 2
                        if room[i * n + mid] > room[(mid + 1) * n + j] { lo = mid + 1 } else { hi = mid }
                    }
                    var best = Int.min
                    for s in max(i, lo - 1)...min(j - 1, lo + 1) {
                        best = max(best, min(room[i * n + s], room[(s + 1) * n + j]))
                    }
                    room[i * n + j] = best - 1
                }
            }
        }
        // Limits no tree can meet are loosened evenly.
        let slack = max(0, -room[n - 1])
        func build(_ i: Int, _ j: Int, depth: Int) -> Node {
            if i == j { return .leaf(i) }
            var chosen = split[i * n + j], best = Int.max
            for s in i..<j where room[i * n + s] + slack > depth && room[(s + 1) * n + j] + slack > depth {
                let c = cost[i * n + s] + cost[(s + 1) * n + j]
                if c < best { best = c; chosen = s }
            }
            return .split(at: chosen + 1, left: build(i, chosen, depth: depth + 1), right: build(chosen + 1, j, depth: depth + 1),
                          leftSize: chosen - i, rightSize: j - chosen - 1)
        }
        root = build(0, n - 1, depth: 0)
    }
}
