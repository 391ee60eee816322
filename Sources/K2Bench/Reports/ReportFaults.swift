/// The faults section of report.md and report.html: one row per fault of the last repetition
/// (what, target, start, end, outcome, recovery, maxima), the lag levels, and the chart bands.
enum ReportFaults {
    static func rows(_ run: BenchReport.Run) -> [[String]] {
        (run.faults ?? []).map { window in
            [
                window.what, window.target, Units.format(window.startSeconds) + " s", Units.format(window.endSeconds) + " s", window.outcome,
                window.recoverySeconds.map { Units.format($0) + " s" } ?? (window.recoveryNote ?? "–"),
                window.maxBacklog.map { Units.format($0) } ?? "–", window.maxLag.map { Units.format($0) } ?? "–",
                window.freshnessRecoverySeconds.map { Units.format($0) + " s" } ?? (window.freshnessNote ?? "–"),
                window.maxFreshnessSeconds.map { Units.format($0) + " s" } ?? "–",
            ]
        }
    }

    static let header = [
        "fault", "target", "start", "end", "outcome", "recovery", "max backlog", "max lag", "freshness back", "max freshness",
    ]

    static func levels(_ run: BenchReport.Run) -> String? {
        guard let levels = run.lagLevels, !levels.isEmpty else { return nil }
        return "Consumer lag levels: "
            + levels.map { level in
                Units.format(level.level) + " " + (level.crossedAtSeconds.map { "crossed at \(Units.format($0)) s" } ?? "not reached")
            }.joined(separator: ", ") + "."
    }

    static func markdown(_ report: BenchReport) -> String {
        guard let run = report.runs.last, let faults = run.faults, !faults.isEmpty else { return "" }
        var out = "\n### Faults (repetition \(run.index + 1), seconds from the start of measuring)\n\n"
        out += "| " + header.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: header.count) + "\n"
        for row in rows(run) { out += "| " + row.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }
        if let levels = levels(run) { out += "\n" + levels + "\n" }
        return out
    }

    static func html(_ report: BenchReport) -> String {
        guard let run = report.runs.last, let faults = run.faults, !faults.isEmpty else { return "" }
        let esc = HTMLText.escape
        var html = "<h2>Faults (repetition \(run.index + 1), seconds from the start of measuring)</h2><table><tr>"
        html += header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
        for row in rows(run) { html += "<tr>" + row.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }
        html += "</table>"
        if let levels = levels(run) { html += "<p>\(esc(levels))</p>" }
        return html
    }

    /// The fault windows as chart bands.
    static func bands(_ run: BenchReport.Run) -> [(from: Double, to: Double, label: String)] {
        (run.faults ?? []).map { (from: $0.startSeconds, to: $0.endSeconds, label: $0.what) }
    }
}
