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
    package static func compare(baseline: BenchReport, current: BenchReport, metrics: [String] = [],
                               thresholds: [(String, Threshold)] = [], defaultThreshold: Threshold = Threshold(),
                               normalize: Bool = false) -> Comparison {
        let bRef = baseline.reference?.median, cRef = current.reference?.median
        let useRef = normalize && bRef != nil && cRef != nil && bRef! > 0 && cRef! > 0
        var rows: [MetricComparison] = []
        for name in baseline.metrics.keys.sorted() {
            guard let b = baseline.metrics[name], let c = current.metrics[name] else { continue }
            if !metrics.isEmpty && !metrics.contains(where: { matches(name, $0) }) { continue }
            let t = thresholds.first(where: { matches(name, $0.0) })?.1 ?? defaultThreshold
            var bs = b.samples ?? [b.value], cs = c.samples ?? [c.value]
            guard let conv = Units.convert(1, from: c.unit, to: b.unit) else { continue }
            cs = cs.map { $0 * conv }
            if useRef {
                // Faster machine (bigger reference) → expect more throughput and less latency.
                let higher = b.direction == .higher
                bs = bs.map { higher ? $0 / bRef! : $0 * bRef! }
                cs = cs.map { higher ? $0 / cRef! : $0 * cRef! }
            }
            var row = MetricComparison.compare(name: name, unit: b.unit, better: b.direction, baseline: bs, current: cs, threshold: t)
            if useRef {
                // Show medians in the metric's unit, scaled to the baseline machine.
                let higher = b.direction == .higher
                row.baselineMedian = higher ? row.baselineMedian * bRef! : row.baselineMedian / bRef!
                row.currentMedian = higher ? row.currentMedian * bRef! : row.currentMedian / bRef!
            }
            rows.append(row)
        }
        var c = Comparison(rows: rows, normalized: useRef, baselineReference: bRef, currentReference: cRef)
        if defaultThreshold.best && thresholds.allSatisfy({ $0.1.best }) { c.statistic = "best" }
        return c
    }

    package func markdown() -> String {
        var out = "### k2 bench compare\n\n"
        if normalized, let b = baselineReference, let c = currentReference {
            out += "Normalised by the same-run reference (baseline \(Units.format(b)), current \(Units.format(c)); current figures scaled to the baseline machine).\n\n"
        }
        out += "| metric | baseline (\(statistic)) | current (\(statistic)) | change | p | verdict | why |\n|---|---|---|---|---|---|---|\n"
        for r in rows {
            let change = (r.change >= 0 ? "+" : "") + Units.format(r.change * 100) + "%"
            let p = r.p.map { MetricComparison.pValue($0) } ?? "–"
            let v: String
            switch r.verdict {
            case .same: v = "same"
            case .regression: v = "**REGRESSION**"
            case .improvement: v = "improvement"
            }
            out += "| \(r.name) | \(Units.format(r.baselineMedian)) \(r.unit) (n=\(r.baselineCount)) | \(Units.format(r.currentMedian)) \(r.unit) (n=\(r.currentCount)) | \(change) | \(p) | \(v) | \(r.reason) |\n"
        }
        let reg = rows.filter { $0.verdict == .regression }.count
        let imp = rows.filter { $0.verdict == .improvement }.count
        out += "\n\(rows.count) metric(s): \(reg) regression(s), \(imp) improvement(s) — exit \(exitCode)\n"
        return out
    }
}
