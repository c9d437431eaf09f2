/// The binary search tree over consecutive ranges that minimises the weighted number of
/// comparisons (an optimal alphabetic tree, Knuth's O(n²) dynamic programme).
struct DecisionTree {
    indirect enum Node {
        case leaf(Int)
        /// `at`: first leaf of the right subtree. Sizes count internal nodes.
        case split(at: Int, left: Node, right: Node, leftSize: Int, rightSize: Int)
    }

    let root: Node

    init(weights: [Int]) {
        let n = weights.count
        precondition(n > 0)
        var prefix = [0]
        for w in weights { prefix.append(prefix.last! + w) }
        // cost[i][j], split[i][j] for leaves i...j, stored flat.
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
        func build(_ i: Int, _ j: Int) -> Node {
            if i == j { return .leaf(i) }
            let s = split[i * n + j]
            return .split(at: s + 1, left: build(i, s), right: build(s + 1, j), leftSize: s - i, rightSize: j - s - 1)
        }
        root = build(0, n - 1)
    }
}
