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
    /// The report's INCOMPLETE note when it is a merge that lacks shards (`k2 bench merge`): its
    /// counts and throughput under-count the run, so the verdict is never a pass.
    package var incomplete: String?

    package var failed: Bool { incomplete != nil || rows.contains { $0.verdict == .fail } }
    package var passedCount: Int { rows.filter { $0.verdict == .pass }.count }
    package var failedCount: Int { rows.filter { $0.verdict == .fail }.count }

    /// Builds the table from a report's metrics.
    package static func verify(_ report: BenchReport, targets: TargetsFile) -> Verification {
        var rows: [Row] = []
        for figure in targets.figures {
            var measured: Double?
            var metric: String?
            let skipped = report.workload.notTested?.contains(figure.id) ?? false
            if let reason = figure.notApplicable {
                rows.append(Row(figure: figure, measured: nil, metric: nil, verdict: .notApplicable, ratioVsV1: nil, detail: "– (\(reason))"))
                continue
            }
            if !skipped, let bound = figure.v2,
                let (name, usPerMessage) = figure.extrapolatedBy.lazy.compactMap({ name in
                    report.metrics[name].flatMap { m in Units.convert(m.value, from: m.unit, to: "us").map { (name, $0) } }
                }).first
            {
                let cores = bound.value * usPerMessage / 1e6
                let nodes = (cores / figure.nodeCores).rounded(.up)
                let detail =
                    "\(Units.format(bound.value)) \(figure.unit) ≈ \(Units.format(cores)) cores ≈ \(Units.format(nodes)) node(s) of \(Units.format(figure.nodeCores)) cores"
                    + " (linear in \(name) = \(Units.format(usPerMessage)) µs/msg measured here; extrapolated, not measured)"
                rows.append(Row(figure: figure, measured: nil, metric: name, verdict: .extrapolated, ratioVsV1: nil, detail: detail))
                continue
            }
            for name in figure.measuredBy where !skipped {
                if let found = report.metrics[name], let converted = Units.convert(found.value, from: found.unit, to: figure.unit) {
                    measured = converted
                    metric = name
                    break
                }
            }
            var ratio: Double?
            if let measured, let ref = figure.v1?.reference(figure.better), measured > 0, ref > 0 {
                ratio = figure.better == .lower ? ref / measured : measured / ref
            }
            let verdict: Verdict
            switch (measured, figure.v2) {
            case (nil, _): verdict = .notMeasured
            case let (m?, bound?): verdict = bound.holds(m) ? .pass : .fail
            case (_?, nil): verdict = .info
            }
            var row = Row(figure: figure, measured: measured, metric: metric, verdict: verdict, ratioVsV1: ratio)
            if verdict == .fail, let metric { row.breakdown = TimeBreakdown.line(for: metric, in: report) }
            rows.append(row)
        }
        var verification = Verification(targets: targets, rows: rows)
        if ReportMerge.isIncomplete(report) {
            verification.incomplete = report.notes.first { $0.hasPrefix("INCOMPLETE") } ?? "INCOMPLETE: the merge lacks shards (shards.missing > 0)"
        }
        return verification
    }

    /// The table as Markdown (also readable as plain text on a terminal).
    package func markdown(includeUnmeasured: Bool = true) -> String {
        var out = incomplete.map { "**\($0)** No verdict of this report is a pass.\n\n" } ?? ""
        out += "| figure | v1 baseline | v2 target | measured | verdict | ratio vs v1 |\n"
        out += "|---|---|---|---|---|---|\n"
        for row in rows where includeUnmeasured || row.verdict != .notMeasured {
            let unit = row.figure.unit
            let v1 = row.figure.v1.map { "\($0.text) \(unit) (\($0.source.label))" } ?? "–"
            let v2 = row.figure.v2.map { "\($0.text) \(unit) (\($0.source.label))" } ?? "–"
            let measuredText = row.measuredText
            let verdict: String
            switch row.verdict {
            case .pass: verdict = "**PASS**"
            case .fail: verdict = "**FAIL**"
            case .notMeasured, .info, .notApplicable, .extrapolated: verdict = row.verdict.rawValue
            }
            let ratio = row.ratioVsV1.map { Units.format($0) + "x" + ($0 >= 1 ? " better" : " worse") } ?? "–"
            out += "| \(row.figure.figure) | \(v1) | \(v2) | \(measuredText) | \(verdict) | \(ratio) |\n"
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
        for documented in targets.claims {
            let measured = documented.about.compactMap { id -> String? in
                guard let row = rows.first(where: { $0.figure.id == id }), let ratio = row.ratioVsV1 else { return nil }
                return "\(id) \(Units.format(ratio))x"
            }
            let claim =
                documented.factorMin == documented.factorMax
                ? "\(Units.format(documented.factorMin))x" : "\(Units.format(documented.factorMin))–\(Units.format(documented.factorMax))x"
            let status = measured.isEmpty ? "not measured" : "measured: " + measured.joined(separator: ", ")
            out += "- \"\(documented.text)\" (\(claim), source \(documented.source.label)) — \(status)\n"
        }
        return out
    }

    package var summary: String {
        let nm = rows.filter { $0.verdict == .notMeasured && $0.figure.v2 != nil }.count
        return "\(passedCount) pass, \(failedCount) fail, \(nm) target(s) not measured — "
            + (incomplete != nil ? "INCOMPLETE (a merge without every shard): FAIL" : failed ? "FAIL" : "PASS")
    }
}
