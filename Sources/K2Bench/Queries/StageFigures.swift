import K2Core

/// What an open-loop stage (`OpenLoopScheduler`: the query stage, the HTTP stage) gives the
/// report, collected from its class results in one way: latency histograms `KIND.NAME` (from the
/// intended start) and `KIND_uncorrected.NAME` (from the actual start), so the metrics are
/// `latency.KIND.NAME.p99` …; `PREFIX.NAME.count` (good answers) and `PREFIX.NAME.errors` (no
/// answer or a failed check); a note when the stage did not run, and per class one on its
/// failures and one on the requests due in the window that never started. A stage adds its own
/// metrics (HTTP statuses, rows) to `metrics`.
struct StageFigures: Sendable {
    var latencies: [String: Histogram] = [:]
    var metrics: [String: BenchReport.Metric] = [:]
    var notes: [String] = []

    /// `error`: why the stage did not run (noted as "`stage` did not run: …"; then only the
    /// latencies measured are kept). `unit`: what the counts count. `failedNote` and
    /// `notStartedNote`: a class's notes, asked only when it has failures / requests never started.
    init(
        _ results: [OpenLoopScheduler.ClassResult], error: String?, stage: String, latency kind: String, metric prefix: String,
        unit: String, failedNote: (OpenLoopScheduler.ClassResult) -> String,
        notStartedNote: (OpenLoopScheduler.ClassResult) -> String
    ) {
        if let error { notes.append("\(stage) did not run: \(error)") }
        for result in results {
            if result.corrected.totalCount > 0 {
                latencies["\(kind).\(result.name)"] = result.corrected
                latencies["\(kind)_uncorrected.\(result.name)"] = result.uncorrected
            }
            guard error == nil else { continue }
            metrics["\(prefix).\(result.name).count"] = .init(value: Double(result.succeeded), unit: unit, better: .higher)
            metrics["\(prefix).\(result.name).errors"] = .init(value: Double(result.failed), unit: unit, better: .lower)
            if result.failed > 0 { notes.append(failedNote(result)) }
            if result.notStarted > 0 { notes.append(notStartedNote(result)) }
        }
    }
}
