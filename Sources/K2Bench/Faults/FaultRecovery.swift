/// Recovery figures per fault from a run's 1 s intervals: the time from a fault's end until the
/// Kafka sink's backlog and the consumer lag are back to normal, and their maxima meanwhile;
/// and when the lag first crossed the v2 platform's degradation levels.
///
/// "Normal" is measured before the first fault: 1.5 × the highest value of the intervals that
/// ended before it, plus 100 messages (so a near-zero baseline does not make every jitter a
/// fault). The lag is ClickHouse's rows behind (pipeline workloads), else the messages the
/// Kafka sink delivered that the consumer had not read yet; without either, only the backlog counts.
package enum FaultRecovery {
    /// The platform's degradation levels by consumer lag, messages.
    package static let lagLevels: [Double] = [100_000, 500_000, 1_000_000, 5_000_000]

    /// The consumer lag at the end of each interval (nil where it cannot be told).
    package static func lag(_ intervals: [BenchReport.IntervalPoint]) -> [Double?] {
        var delivered = 0.0, consumed = 0.0
        return intervals.map { point in
            if let behind = point.clickhouseBehind { return behind }
            guard let read = point.consumedMsgs, let first = point.deliveredMsgs.first else { return nil }
            delivered += first
            consumed += read
            return max(0, delivered - consumed)
        }
    }

    /// The Kafka sink's backlog (the first sink's) at the end of each interval.
    static func backlog(_ intervals: [BenchReport.IntervalPoint]) -> [Double?] { intervals.map { $0.backlog.first } }

    /// `windows` with recovery time and maxima filled in, and the lag levels' crossing times.
    package static func apply(_ windows: [BenchReport.FaultWindow], intervals: [BenchReport.IntervalPoint])
        -> (windows: [BenchReport.FaultWindow], levels: [BenchReport.LagLevel])
    {
        let lagSeries = lag(intervals)
        let backlogSeries = backlog(intervals)
        let levels = lagLevels.map { level in
            BenchReport.LagLevel(level: level, crossedAtSeconds: intervals.indices.first { (lagSeries[$0] ?? 0) >= level }.map { intervals[$0].t })
        }
        guard let firstStart = windows.map(\.startSeconds).min() else { return (windows, levels) }
        let before = intervals.indices.filter { intervals[$0].t <= firstStart }
        func normal(_ series: [Double?]) -> Double? {
            let values = before.compactMap { series[$0] }
            guard !values.isEmpty else { return nil }
            return 1.5 * (values.max() ?? 0) + 100
        }
        let normalBacklog = normal(backlogSeries)
        let normalLag = normal(lagSeries)
        var out = windows
        for k in out.indices {
            let window = out[k]
            // Intervals that overlap the fault or come after it.
            let from = intervals.indices.first { intervals[$0].t > window.startSeconds } ?? intervals.count
            var recoveredAt: Int?
            if normalBacklog != nil || normalLag != nil {
                recoveredAt = intervals.indices.first { index in
                    guard intervals[index].t >= window.endSeconds else { return false }
                    // An interval without the figure (ClickHouse down, say) is not "normal".
                    let backlogOK = normalBacklog.map { normal in backlogSeries[index].map { $0 <= normal } ?? false } ?? true
                    let lagOK = normalLag.map { normal in lagSeries[index].map { $0 <= normal } ?? false } ?? true
                    return backlogOK && lagOK
                }
            }
            let through = recoveredAt ?? (intervals.count - 1)
            if from <= through {
                out[k].maxBacklog = (from...through).compactMap { backlogSeries[$0] }.max()
                out[k].maxLag = (from...through).compactMap { lagSeries[$0] }.max()
            }
            if normalBacklog == nil && normalLag == nil {
                out[k].recoveryNote = "no interval before the first fault to tell the normal backlog from"
            } else if let recoveredAt {
                out[k].recoverySeconds = max(0, intervals[recoveredAt].t - window.endSeconds)
            } else {
                out[k].recoveryNote = "not back to normal by the end of the run"
            }
        }
        return (out, levels)
    }
}
