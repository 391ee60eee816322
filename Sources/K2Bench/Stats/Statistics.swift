import K2Core

#if canImport(Glibc)
import Glibc
#endif

/// The statistics the regression gate uses: medians, quantiles, the Mann-Whitney U test and a
/// seeded bootstrap confidence interval. Plain functions on `[Double]`.
package enum Statistics {
    package static func median(_ xs: [Double]) -> Double { quantile(xs, 0.5) }

    /// Quantile with linear interpolation between order statistics (type 7, R's default).
    package static func quantile(_ xs: [Double], _ q: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        let sorted = xs.sorted()
        let position = Double(sorted.count - 1) * Swift.min(1, Swift.max(0, q))
        let lo = Int(position.rounded(.down))
        let hi = Swift.min(lo + 1, sorted.count - 1)
        return sorted[lo] + (position - Double(lo)) * (sorted[hi] - sorted[lo])
    }

    package static func mean(_ xs: [Double]) -> Double {
        xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count)
    }

    /// The result of a two-sided Mann-Whitney U test.
    package struct MannWhitney: Sendable, Equatable {
        /// U statistic of the first sample.
        package var uStatistic: Double
        /// Normal approximation z score (tie- and continuity-corrected).
        package var zScore: Double
        /// Two-sided p-value (exact for small samples without ties, normal approximation otherwise).
        package var pValue: Double
    }

    /// Two-sided Mann-Whitney U test of `a` against `b` (do the samples come from one distribution?).
    package static func mannWhitney(_ a: [Double], _ b: [Double]) -> MannWhitney {
        let n1 = a.count, n2 = b.count
        guard n1 > 0, n2 > 0 else { return MannWhitney(uStatistic: 0, zScore: 0, pValue: 1) }
        // Rank the pooled sample with average ranks for ties.
        var pooled = a.map { ($0, 0) } + b.map { ($0, 1) }
        pooled.sort { $0.0 < $1.0 }
        var ranks = [Double](repeating: 0, count: pooled.count)
        var tieTerm = 0.0
        var runStart = 0
        while runStart < pooled.count {
            var runEnd = runStart
            while runEnd + 1 < pooled.count && pooled[runEnd + 1].0 == pooled[runStart].0 { runEnd += 1 }
            let averageRank = Double(runStart + runEnd) / 2 + 1
            for k in runStart...runEnd { ranks[k] = averageRank }
            let tieCount = Double(runEnd - runStart + 1)
            tieTerm += tieCount * tieCount * tieCount - tieCount
            runStart = runEnd + 1
        }
        var r1 = 0.0
        for (k, p) in pooled.enumerated() where p.1 == 0 { r1 += ranks[k] }
        let u1 = r1 - Double(n1 * (n1 + 1)) / 2
        let mu = Double(n1 * n2) / 2
        let sampleCount = Double(n1 + n2)
        let sigma2 = Double(n1 * n2) / 12 * ((sampleCount + 1) - tieTerm / (sampleCount * (sampleCount - 1)))
        let sigma = sigma2 > 0 ? sigma2.squareRoot() : 0
        let diff = u1 - mu
        let zScore = sigma > 0 ? (abs(diff) - 0.5).clampedAtZero() / sigma * (diff < 0 ? -1 : 1) : 0
        var pValue = sigma > 0 ? erfc(abs(zScore) / 2.0.squareRoot()) : 1
        if tieTerm == 0 && n1 * n2 <= 400 && n1 + n2 <= 40 {
            pValue = exactP(u: u1, n1: n1, n2: n2)
        }
        return MannWhitney(uStatistic: u1, zScore: zScore, pValue: Swift.min(1, pValue))
    }

    /// Exact two-sided p-value of U for small samples without ties (counting arrangements).
    static func exactP(u: Double, n1: Int, n2: Int) -> Double {
        // f[i][j][k]: arrangements of i and j elements with U = k, rolled into one table per (i, j).
        let maxU = n1 * n2
        var table = [[[Double]]](repeating: [[Double]](repeating: [], count: n2 + 1), count: n1 + 1)
        for i in 0...n1 {
            for j in 0...n2 {
                var arrangements = [Double](repeating: 0, count: i * j + 1)
                if i == 0 || j == 0 {
                    arrangements[0] = 1
                } else {
                    // The largest element is from the first sample (adds j to U) or from the second.
                    let largestFirst = table[i - 1][j], largestSecond = table[i][j - 1]
                    for k in 0..<largestFirst.count { arrangements[k + j] += largestFirst[k] }
                    for k in 0..<largestSecond.count { arrangements[k] += largestSecond[k] }
                }
                table[i][j] = arrangements
            }
        }
        let distribution = table[n1][n2]
        let total = distribution.reduce(0, +)
        let lowU = Swift.min(u, Double(maxU) - u)
        var tail = 0.0
        for k in 0...maxU where Double(k) <= lowU + 1e-9 { tail += distribution[k] }
        return Swift.min(1, 2 * tail / total)
    }

    /// A seeded bootstrap confidence interval for the ratio of medians `median(b) / median(a)`.
    package static func bootstrapRatioCI(
        _ a: [Double], _ b: [Double], confidence: Double = 0.95,
        resamples: Int = 1000, seed: UInt64 = 42
    ) -> ClosedRange<Double> {
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
