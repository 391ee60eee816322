/// Thresholds of the regression gate for one metric: a change must be larger than `relative`
/// AND than `absolute` AND (with enough samples) statistically significant to count.
package struct Threshold: Sendable, Equatable {
    /// Relative change of the median that matters (0.10 = 10 %).
    package var relative: Double = 0.10
    /// Absolute change of the median that matters, in the metric's unit (0 = any).
    package var absolute: Double = 0
    /// Significance level of the Mann-Whitney U test (two-sided).
    package var alpha: Double = 0.01
    /// Fewest samples per side for the statistical test; below it the thresholds decide alone.
    package var minSamples: Int = 3
    /// Compare each side's best sample (the minimum for lower-is-better, the maximum for
    /// higher-is-better: the least disturbed repetition on a shared machine) instead of the
    /// medians, without a statistical test. Default false.
    package var best: Bool = false

    package init(relative: Double = 0.10, absolute: Double = 0, alpha: Double = 0.01, minSamples: Int = 3, best: Bool = false) {
        self.best = best
        self.relative = relative
        self.absolute = absolute
        self.alpha = alpha
        self.minSamples = minSamples
    }
}

/// One metric of a baseline compared with the current run.
package struct MetricComparison: Sendable, Equatable {
    package enum Verdict: String, Sendable, Equatable {
        case same, regression, improvement
    }

    package var name: String
    package var unit: String
    package var better: Direction
    var baselineMedian: Double
    package var currentMedian: Double
    var baselineCount: Int
    var currentCount: Int
    /// (current − baseline) / baseline of the medians.
    package var change: Double
    /// Mann-Whitney p-value when both sides had enough samples.
    package var pValue: Double?
    /// 95 % bootstrap interval of current/baseline medians when both sides had enough samples.
    var ratioInterval: ClosedRange<Double>?
    package var verdict: Verdict
    /// Why (for the Markdown table).
    package var reason: String

    package static func compare(
        name: String, unit: String = "", better: Direction, baseline: [Double], current: [Double],
        threshold: Threshold
    ) -> MetricComparison {
        func pick(_ xs: [Double]) -> Double {
            guard threshold.best, !xs.isEmpty else { return Statistics.median(xs) }
            return better == .lower ? xs.min()! : xs.max()!
        }
        let mb = pick(baseline), mc = pick(current)
        let change = mb != 0 ? (mc - mb) / abs(mb) : (mc == 0 ? 0 : .infinity)
        var comparison = MetricComparison(
            name: name, unit: unit, better: better, baselineMedian: mb, currentMedian: mc,
            baselineCount: baseline.count, currentCount: current.count, change: change,
            pValue: nil, ratioInterval: nil, verdict: .same, reason: "")
        guard !baseline.isEmpty, !current.isEmpty, mb.isFinite, mc.isFinite else {
            comparison.reason = "no samples on one side"
            return comparison
        }
        let worse = better == .higher ? mc < mb : mc > mb
        let bigEnough = abs(change) > threshold.relative && abs(mc - mb) > threshold.absolute
        let tested = !threshold.best && baseline.count >= threshold.minSamples && current.count >= threshold.minSamples
        var significant = true
        if tested {
            let test = Statistics.mannWhitney(baseline, current)
            comparison.pValue = test.pValue
            comparison.ratioInterval = Statistics.bootstrapRatioCI(baseline, current)
            significant = test.pValue < threshold.alpha
        }
        let pct = Units.format(abs(change) * 100) + "%"
        let limit = Units.format(threshold.relative * 100) + "%"
        if !bigEnough {
            comparison.reason = (threshold.best ? "best sample moved" : "median moved") + " \(pct), within \(limit)"
        } else if !significant {
            comparison.reason = "median moved \(pct) but p = \(Units.format(comparison.pValue ?? 1)) ≥ \(Units.format(threshold.alpha)) (noise)"
        } else {
            comparison.verdict = worse ? .regression : .improvement
            comparison.reason =
                (worse ? "worse" : "better") + " by \(pct) (> \(limit)"
                + (tested
                    ? ", p = \(pValue(comparison.pValue ?? 0)))"
                    : threshold.best ? "; best samples, no test)" : "; fewer than \(threshold.minSamples) samples, no test)")
        }
        return comparison
    }

    static func pValue(_ p: Double) -> String {
        p < 0.0001 ? "< 0.0001" : Units.format(p)
    }
}
