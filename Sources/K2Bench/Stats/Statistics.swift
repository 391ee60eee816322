#if canImport(Glibc)
import Glibc
#endif
import K2Core

/// The statistics the regression gate uses: medians, quantiles, the Mann-Whitney U test and a
/// seeded bootstrap confidence interval. Plain functions on `[Double]`.
package enum Statistics {
    package static func median(_ xs: [Double]) -> Double { quantile(xs, 0.5) }

    /// Quantile with linear interpolation between order statistics (type 7, R's default).
    package static func quantile(_ xs: [Double], _ q: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        let h = Double(s.count - 1) * Swift.min(1, Swift.max(0, q))
        let lo = Int(h.rounded(.down))
        let hi = Swift.min(lo + 1, s.count - 1)
        return s[lo] + (h - Double(lo)) * (s[hi] - s[lo])
    }

    package static func mean(_ xs: [Double]) -> Double {
        xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count)
    }

    /// The result of a two-sided Mann-Whitney U test.
    package struct MannWhitney: Sendable, Equatable {
        /// U statistic of the first sample.
        package var u: Double
        /// Normal approximation z score (tie- and continuity-corrected).
        package var z: Double
        /// Two-sided p-value (exact for small samples without ties, normal approximation otherwise).
        package var p: Double
    }

    /// Two-sided Mann-Whitney U test of `a` against `b` (do the samples come from one distribution?).
    package static func mannWhitney(_ a: [Double], _ b: [Double]) -> MannWhitney {
        let n1 = a.count, n2 = b.count
        guard n1 > 0, n2 > 0 else { return MannWhitney(u: 0, z: 0, p: 1) }
        // Rank the pooled sample with average ranks for ties.
        var pooled = a.map { ($0, 0) } + b.map { ($0, 1) }
        pooled.sort { $0.0 < $1.0 }
        var ranks = [Double](repeating: 0, count: pooled.count)
        var tieTerm = 0.0
        var i = 0
        while i < pooled.count {
            var j = i
            while j + 1 < pooled.count && pooled[j + 1].0 == pooled[i].0 { j += 1 }
            let r = Double(i + j) / 2 + 1
            for k in i...j { ranks[k] = r }
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            i = j + 1
        }
        var r1 = 0.0
        for (k, p) in pooled.enumerated() where p.1 == 0 { r1 += ranks[k] }
        let u1 = r1 - Double(n1 * (n1 + 1)) / 2
        let mu = Double(n1 * n2) / 2
        let n = Double(n1 + n2)
        let sigma2 = Double(n1 * n2) / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        let sigma = sigma2 > 0 ? sigma2.squareRoot() : 0
        let diff = u1 - mu
        let z = sigma > 0 ? (abs(diff) - 0.5).clampedAtZero() / sigma * (diff < 0 ? -1 : 1) : 0
        var p = sigma > 0 ? erfc(abs(z) / 2.0.squareRoot()) : 1
        if tieTerm == 0 && n1 * n2 <= 400 && n1 + n2 <= 40 {
            p = exactP(u: u1, n1: n1, n2: n2)
        }
        return MannWhitney(u: u1, z: z, p: Swift.min(1, p))
    }

    /// Exact two-sided p-value of U for small samples without ties (counting arrangements).
    static func exactP(u: Double, n1: Int, n2: Int) -> Double {
        // f[i][j][k]: arrangements of i and j elements with U = k, rolled into one table per (i, j).
        let maxU = n1 * n2
        var table = [[[Double]]](repeating: [[Double]](repeating: [], count: n2 + 1), count: n1 + 1)
        for i in 0...n1 {
            for j in 0...n2 {
                var f = [Double](repeating: 0, count: i * j + 1)
                if i == 0 || j == 0 {
                    f[0] = 1
                } else {
                    // The largest element is from the first sample (adds j to U) or from the second.
                    let a = table[i - 1][j], b = table[i][j - 1]
                    for k in 0..<a.count { f[k + j] += a[k] }
                    for k in 0..<b.count { f[k] += b[k] }
                }
                table[i][j] = f
            }
        }
        let f = table[n1][n2]
        let total = f.reduce(0, +)
        let lowU = Swift.min(u, Double(maxU) - u)
        var tail = 0.0
        for k in 0...maxU where Double(k) <= lowU + 1e-9 { tail += f[k] }
        return Swift.min(1, 2 * tail / total)
    }

    /// A seeded bootstrap confidence interval for the ratio of medians `median(b) / median(a)`.
    package static func bootstrapRatioCI(_ a: [Double], _ b: [Double], confidence: Double = 0.95,
                                        resamples: Int = 1000, seed: UInt64 = 42) -> ClosedRange<Double> {
        guard !a.isEmpty, !b.isEmpty else { return 1...1 }
        var rng = SplitMix64(seed: seed)
        var ratios: [Double] = []
        ratios.reserveCapacity(resamples)
        var ra = a, rb = b
        for _ in 0..<resamples {
            for k in 0..<a.count { ra[k] = a[Int(rng.next() % UInt64(a.count))] }
            for k in 0..<b.count { rb[k] = b[Int(rng.next() % UInt64(b.count))] }
            let ma = median(ra)
            if ma != 0 { ratios.append(median(rb) / ma) }
        }
        guard !ratios.isEmpty else { return 1...1 }
        let alpha = (1 - confidence) / 2
        let lo = quantile(ratios, alpha), hi = quantile(ratios, 1 - alpha)
        return Swift.min(lo, hi)...Swift.max(lo, hi)
    }
}

extension Double {
    fileprivate func clampedAtZero() -> Double { self < 0 ? 0 : self }
}
