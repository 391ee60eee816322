/// The verdict table: every figure of a targets file with its v1 baseline, v2 target, the
/// measured value from a report, the verdict and the ratio vs v1.
package struct Verification: Sendable, Equatable {
    package enum Verdict: String, Sendable, Equatable {
        /// Measured and within the v2 target.
        case pass
        /// Measured and outside the v2 target.
        case fail
        /// The report has no metric for the figure (never counted as a pass).
        case notMeasured = "not measured"
        /// Measured, but the figure has no v2 target (a v1 baseline to compare with).
        case info = "baseline only"
        /// The figure belongs to v1's architecture (`not_applicable:` says why); never a pass.
        case notApplicable = "not applicable to v2"
        /// Worked out from a measured cost (`extrapolated_by:`), not measured; never a pass.
        case extrapolated
    }

    package struct Row: Sendable, Equatable {
        package var figure: TargetFigure
        /// Measured value in the figure's unit.
        package var measured: Double?
        /// The report metric it came from.
        package var metric: String?
        package var verdict: Verdict
        /// How many times better than v1 (>1 = better), using the v1 end most favourable to v1.
        package var ratioVsV1: Double?
        /// What the measured column says instead of a value (the extrapolation, the reason). Default nil.
        package var detail: String? = nil
        /// For a failing latency figure: where the time goes (`TimeBreakdown`). Default nil.
        package var breakdown: String? = nil

        /// The measured column: the value in the figure's unit, or the detail, or "not measured".
        package var measuredText: String {
            if let detail { return detail }
            return measured.map { "\(Units.format($0)) \(figure.unit)" } ?? "not measured"
        }
    }

    package var targets: TargetsFile
    package var rows: [Row]

    package var failed: Bool { rows.contains { $0.verdict == .fail } }
    var passedCount: Int { rows.filter { $0.verdict == .pass }.count }
    var failedCount: Int { rows.filter { $0.verdict == .fail }.count }

    /// Builds the table from a report's metrics.
    package static func verify(_ report: BenchReport, targets: TargetsFile) -> Verification {
        var rows: [Row] = []
        for f in targets.figures {
            var measured: Double?
            var metric: String?
            let skipped = report.workload.notTested?.contains(f.id) ?? false
            if let reason = f.notApplicable {
                rows.append(Row(figure: f, measured: nil, metric: nil, verdict: .notApplicable, ratioVsV1: nil, detail: "– (\(reason))"))
                continue
            }
            if !skipped, let bound = f.v2, let (name, usPerMessage) = f.extrapolatedBy.lazy.compactMap({ name in
                report.metrics[name].flatMap { m in Units.convert(m.value, from: m.unit, to: "us").map { (name, $0) } }
            }).first {
                let cores = bound.value * usPerMessage / 1e6
                let nodes = (cores / f.nodeCores).rounded(.up)
                let detail = "\(Units.format(bound.value)) \(f.unit) ≈ \(Units.format(cores)) cores ≈ \(Units.format(nodes)) node(s) of \(Units.format(f.nodeCores)) cores"
                    + " (linear in \(name) = \(Units.format(usPerMessage)) µs/msg measured here; extrapolated, not measured)"
                rows.append(Row(figure: f, measured: nil, metric: name, verdict: .extrapolated, ratioVsV1: nil, detail: detail))
                continue
            }
            for name in f.measuredBy where !skipped {
                if let m = report.metrics[name], let v = Units.convert(m.value, from: m.unit, to: f.unit) {
                    measured = v
                    metric = name
                    break
                }
            }
            var ratio: Double?
            if let measured, let ref = f.v1?.reference(f.better), measured > 0, ref > 0 {
                ratio = f.better == .lower ? ref / measured : measured / ref
            }
            let verdict: Verdict
            switch (measured, f.v2) {
            case (nil, _): verdict = .notMeasured
            case let (m?, bound?): verdict = bound.holds(m) ? .pass : .fail
            case (_?, nil): verdict = .info
            }
            var row = Row(figure: f, measured: measured, metric: metric, verdict: verdict, ratioVsV1: ratio)
            if verdict == .fail, let metric { row.breakdown = TimeBreakdown.line(for: metric, in: report) }
            rows.append(row)
        }
        return Verification(targets: targets, rows: rows)
    }

    /// The table as Markdown (also readable as plain text on a terminal).
    package func markdown(includeUnmeasured: Bool = true) -> String {
        var out = "| figure | v1 baseline | v2 target | measured | verdict | ratio vs v1 |\n"
        out += "|---|---|---|---|---|---|\n"
        for r in rows where includeUnmeasured || r.verdict != .notMeasured {
            let u = r.figure.unit
            let v1 = r.figure.v1.map { "\($0.text) \(u) (\($0.source.label))" } ?? "–"
            let v2 = r.figure.v2.map { "\($0.text) \(u) (\($0.source.label))" } ?? "–"
            let m = r.measuredText
            let verdict: String
            switch r.verdict {
            case .pass: verdict = "**PASS**"
            case .fail: verdict = "**FAIL**"
            case .notMeasured, .info, .notApplicable, .extrapolated: verdict = r.verdict.rawValue
            }
            let ratio = r.ratioVsV1.map { Units.format($0) + "x" + ($0 >= 1 ? " better" : " worse") } ?? "–"
            out += "| \(r.figure.figure) | \(v1) | \(v2) | \(m) | \(verdict) | \(ratio) |\n"
        }
        let explained = rows.filter { $0.breakdown != nil && (includeUnmeasured || $0.verdict != .notMeasured) }
        if !explained.isEmpty {
            out += "\n" + explained.map { "- \($0.figure.figure) fails: \($0.breakdown!)\n" }.joined()
        }
        return out
    }

    /// The claims the documents make, with the measured ratios they are about.
    package func claimsText() -> String {
        guard !targets.claims.isEmpty else { return "" }
        var out = "Latency claims in the documents (recorded, not tested):\n"
        for c in targets.claims {
            let measured = c.about.compactMap { id -> String? in
                guard let r = rows.first(where: { $0.figure.id == id }), let ratio = r.ratioVsV1 else { return nil }
                return "\(id) \(Units.format(ratio))x"
            }
            let claim = c.factorMin == c.factorMax ? "\(Units.format(c.factorMin))x" : "\(Units.format(c.factorMin))–\(Units.format(c.factorMax))x"
            let status = measured.isEmpty ? "not measured" : "measured: " + measured.joined(separator: ", ")
            out += "- \"\(c.text)\" (\(claim), source \(c.source.label)) — \(status)\n"
        }
        return out
    }

    package var summary: String {
        let nm = rows.filter { $0.verdict == .notMeasured && $0.figure.v2 != nil }.count
        return "\(passedCount) pass, \(failedCount) fail, \(nm) target(s) not measured — " + (failed ? "FAIL" : "PASS")
    }
}
