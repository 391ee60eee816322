/// The ledger section of report.md and report.html (runs with faults, from the `ledger.*`
/// metrics): each stage k2 can see with what it holds, lost and duplicated, then the verdict
/// rows. Losses and duplicates made by k2 fail; those made by the system under test are findings.
enum ReportLedger {
    static let header = ["stage", "holds", "lost", "duplicated"]

    /// The stages; a discrepancy whose first ids have send times (`ledger.NAME.first_s`) says
    /// when the first was sent against the fault schedule (`faults`: the first repetition's).
    static func rows(_ metrics: [String: BenchReport.Metric], faults: [BenchReport.FaultWindow] = []) -> [[String]] {
        func text(_ name: String) -> String { metrics["ledger." + name].map { Units.format($0.value) } ?? "–" }
        /// The figure, and when its first id was sent when it is not 0.
        func placed(_ name: String, firstOf timed: String) -> String {
            guard let value = metrics["ledger." + name]?.value, value > 0, let first = metrics["ledger.\(timed).first_s"]?.value else {
                return text(name)
            }
            return text(name) + " (first sent at \(Units.format(first)) s, " + when(first, faults) + ")"
        }
        return [
            ["sent by k2's Kafka sink", text("kafka.sent"), text("kafka.no_fate") + " without a fate", "–"],
            ["acknowledged by the broker", text("kafka.delivered"), text("kafka.failed") + " failed, " + text("kafka.unknown") + " unknown", "–"],
            [
                "on the broker (probes excluded; lost and extra by k2-id when read back)", text("broker.messages"),
                placed("broker.missing", firstOf: "topic.lost"), text("broker.extra"),
            ],
            [
                "freshness probes acknowledged, read back by k2-id", text("broker.probes") + ", " + text("topic.probes"),
                placed("broker.probes_lost", firstOf: "broker.probes_lost"), "–",
            ],
            [
                "read back from the topic by k2-id", text("topic.read"), placed("topic.lost", firstOf: "topic.lost"),
                placed("topic.duplicates", firstOf: "topic.duplicates") + " ("
                    + placed("topic.reordered", firstOf: "topic.reordered") + " out of order within their key)",
            ],
            ["rows in ClickHouse bronze (probes excluded)", text("clickhouse.rows"), text("clickhouse.missing"), text("clickhouse.extra")],
        ]
    }

    /// Where `seconds` (from the start of the measured window) falls in the fault schedule:
    /// during a fault, how long after the last one ended, or before the first.
    static func when(_ seconds: Double, _ faults: [BenchReport.FaultWindow]) -> String {
        func span(_ fault: BenchReport.FaultWindow) -> String {
            fault.endSeconds > fault.startSeconds
                ? "\(Units.format(fault.startSeconds))–\(Units.format(fault.endSeconds)) s" : "at \(Units.format(fault.startSeconds)) s"
        }
        if let during = faults.first(where: { $0.endSeconds > $0.startSeconds && seconds >= $0.startSeconds && seconds <= $0.endSeconds }) {
            return "during \(during.what), \(span(during))"
        }
        if let before = faults.filter({ $0.endSeconds <= seconds }).max(by: { $0.endSeconds < $1.endSeconds }) {
            return "\(Units.format(seconds - before.endSeconds)) s after \(before.what) (\(span(before)))"
        }
        return faults.isEmpty ? "no faults" : "before the first fault"
    }

    /// The fault windows the ledger's times are placed against: the first repetition's (whose
    /// ledger figures the report keeps).
    static func faults(_ report: BenchReport) -> [BenchReport.FaultWindow] { report.runs.first?.faults ?? [] }

    /// (row, value, verdict): k2's own losses and duplicates pass at 0 and fail otherwise; the
    /// system's are findings.
    static func verdicts(_ metrics: [String: BenchReport.Metric]) -> [[String]] {
        func row(_ what: String, _ name: String, k2: Bool) -> [String]? {
            guard let value = metrics["ledger." + name]?.value else { return nil }
            let verdict = k2 ? (value == 0 ? "pass" : "FAIL (a k2 bug)") : (value == 0 ? "none" : "finding about the system")
            return [what, Units.format(value), verdict]
        }
        return [
            row("messages lost by k2", "lost.k2", k2: true), row("duplicates by k2", "duplicates.k2", k2: true),
            row("messages lost by the system under test", "lost.system", k2: false),
            row("duplicates by the system under test", "duplicates.system", k2: false),
        ].compactMap { $0 }
    }

    static func markdown(_ report: BenchReport) -> String {
        guard report.metrics["ledger.kafka.sent"] != nil else { return "" }
        func table(_ header: [String], _ rows: [[String]]) -> String {
            "| " + header.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: header.count) + "\n"
                + rows.map { "| " + $0.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }.joined()
        }
        var out = "\n### Ledger (messages, first repetition's ClickHouse count)\n\n" + table(header, rows(report.metrics, faults: faults(report)))
        out += "\n" + table(["verdict", "messages", "result"], verdicts(report.metrics))
        return out
    }

    static func html(_ report: BenchReport) -> String {
        guard report.metrics["ledger.kafka.sent"] != nil else { return "" }
        let esc = HTMLText.escape
        func table(_ header: [String], _ rows: [[String]]) -> String {
            "<table><tr>" + header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
                + rows.map { "<tr>" + $0.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
        }
        return "<h2>Ledger (messages, first repetition's ClickHouse count)</h2>" + table(header, rows(report.metrics, faults: faults(report)))
            + table(["verdict", "messages", "result"], verdicts(report.metrics))
    }
}
