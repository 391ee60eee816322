/// `k2 bench compare BASELINE CURRENT`: every metric both reports have, compared with
/// `MetricComparison` (medians, Mann-Whitney U, thresholds). Optionally normalised by each
/// report's same-run reference so a slower machine does not look like a regression.
package struct Comparison: Sendable, Equatable {
    package var rows: [MetricComparison]
    /// Whether figures were divided by the same-run reference (e.g. zstd -d MB/s).
    package var normalized: Bool
    var baselineReference: Double?
    var currentReference: Double?
    /// "median", or "best" when every threshold compares best samples.
    var statistic = "median"

    /// The exit code convention of package-benchmark: 0 same, 2 any regression, 4 only improvements.
    package var exitCode: Int32 {
        if rows.contains(where: { $0.verdict == .regression }) { return 2 }
        if rows.contains(where: { $0.verdict == .improvement }) { return 4 }
        return 0
    }

    /// Metric names matching a pattern: exact, or a prefix ending in `*`.
    static func matches(_ name: String, _ pattern: String) -> Bool {
        pattern.hasSuffix("*") ? name.hasPrefix(String(pattern.dropLast())) : name == pattern
    }

    /// Compares `current` against `baseline`.
    /// - metrics: which metrics (patterns) to gate; empty = every metric both reports hold.
    /// - thresholds: per-metric thresholds (first matching pattern wins), else `defaultThreshold`.
    /// - normalize: divide each side's samples by its median reference (throughput-like metrics
    ///   are divided, latency-like metrics multiplied) when both reports have one.
    package static func compare(
        baseline: BenchReport, current: BenchReport, metrics: [String] = [],
        thresholds: [(String, Threshold)] = [], defaultThreshold: Threshold = Threshold(),
        normalize: Bool = false
    ) -> Comparison {
        let bRef = baseline.reference?.median, cRef = current.reference?.median
        let useRef = normalize && bRef != nil && cRef != nil && bRef! > 0 && cRef! > 0
        var rows: [MetricComparison] = []
        for name in baseline.metrics.keys.sorted() {
            guard let baselineMetric = baseline.metrics[name], let currentMetric = current.metrics[name] else { continue }
            if !metrics.isEmpty && !metrics.contains(where: { matches(name, $0) }) { continue }
            let threshold = thresholds.first(where: { matches(name, $0.0) })?.1 ?? defaultThreshold
            var bs = baselineMetric.samples ?? [baselineMetric.value], cs = currentMetric.samples ?? [currentMetric.value]
            guard let conv = Units.convert(1, from: currentMetric.unit, to: baselineMetric.unit) else { continue }
            cs = cs.map { $0 * conv }
            if useRef {
                // Faster machine (bigger reference) → expect more throughput and less latency.
                let higher = baselineMetric.direction == .higher
                bs = bs.map { higher ? $0 / bRef! : $0 * bRef! }
                cs = cs.map { higher ? $0 / cRef! : $0 * cRef! }
            }
            var row = MetricComparison.compare(
                name: name, unit: baselineMetric.unit, better: baselineMetric.direction, baseline: bs, current: cs, threshold: threshold)
            if useRef {
                // Show medians in the metric's unit, scaled to the baseline machine.
                let higher = baselineMetric.direction == .higher
                row.baselineMedian = higher ? row.baselineMedian * bRef! : row.baselineMedian / bRef!
                row.currentMedian = higher ? row.currentMedian * bRef! : row.currentMedian / bRef!
            }
            rows.append(row)
        }
        var comparison = Comparison(rows: rows, normalized: useRef, baselineReference: bRef, currentReference: cRef)
        if defaultThreshold.best && thresholds.allSatisfy({ $0.1.best }) { comparison.statistic = "best" }
        return comparison
    }

    package func markdown() -> String {
        var out = "### k2 bench compare\n\n"
        if normalized, let baselineValue = baselineReference, let currentValue = currentReference {
            out +=
                "Normalised by the same-run reference (baseline \(Units.format(baselineValue)), current \(Units.format(currentValue)); current figures scaled to the baseline machine).\n\n"
        }
        out += "| metric | baseline (\(statistic)) | current (\(statistic)) | change | p | verdict | why |\n|---|---|---|---|---|---|---|\n"
        for row in rows {
            let change = (row.change >= 0 ? "+" : "") + Units.format(row.change * 100) + "%"
            let pText = row.pValue.map { MetricComparison.pValue($0) } ?? "–"
            let verdict: String
            switch row.verdict {
            case .same: verdict = "same"
            case .regression: verdict = "**REGRESSION**"
            case .improvement: verdict = "improvement"
            }
            out +=
                "| \(row.name) | \(Units.format(row.baselineMedian)) \(row.unit) (n=\(row.baselineCount)) | \(Units.format(row.currentMedian)) \(row.unit) (n=\(row.currentCount)) | \(change) | \(pText) | \(verdict) | \(row.reason) |\n"
        }
        let reg = rows.filter { $0.verdict == .regression }.count
        let imp = rows.filter { $0.verdict == .improvement }.count
        out += "\n\(rows.count) metric(s): \(reg) regression(s), \(imp) improvement(s) — exit \(exitCode)\n"
        return out
    }
}
