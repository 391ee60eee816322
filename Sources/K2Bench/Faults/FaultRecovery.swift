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
    /// Freshness is "back" when probes become visible within this: the v2 platform's sub-second
    /// WebSocket-to-queryable target (reports/targets/k2-v2.yaml `ws-to-queryable`, < 1000 ms).
    package static let freshnessTargetSeconds = 1.0
    /// Probes in a row within the target that count as recovered (one fast probe is not a trend).
    static let freshnessProbesInARow = 3

    /// One freshness probe: when it was meant to be sent (seconds from the start of measuring)
    /// and how long until it was visible in ClickHouse (nil: never seen).
    package struct ProbePoint: Sendable, Equatable {
        package var sentSeconds: Double
        package var freshnessSeconds: Double?
        package init(sentSeconds: Double, freshnessSeconds: Double?) {
            self.sentSeconds = sentSeconds
            self.freshnessSeconds = freshnessSeconds
        }
    }

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
    /// With `probes` (pipeline workloads), each window also gets its freshness recovery.
    package static func apply(
        _ windows: [BenchReport.FaultWindow], intervals: [BenchReport.IntervalPoint], probes: [ProbePoint]? = nil
    ) -> (windows: [BenchReport.FaultWindow], levels: [BenchReport.LagLevel]) {
        let (out, levels) = applyBacklogAndLag(windows, intervals: intervals)
        guard let probes else { return (out, levels) }
        return (out.map { freshness($0, probes: probes) }, levels)
    }

    /// `window` with its freshness recovery from the probes (sorted by send time).
    static func freshness(_ window: BenchReport.FaultWindow, probes: [ProbePoint]) -> BenchReport.FaultWindow {
        var out = window
        let sorted = probes.sorted { $0.sentSeconds < $1.sentSeconds }
        let inTarget = { (probe: ProbePoint) in probe.freshnessSeconds.map { $0 <= freshnessTargetSeconds } ?? false }
        let after = sorted.indices.filter { sorted[$0].sentSeconds >= window.endSeconds }
        var recovered: Int?
        for position in after.indices {
            let run = after[position..<min(after.count, position + freshnessProbesInARow)]
            guard run.count == freshnessProbesInARow else { break }
            if run.allSatisfy({ inTarget(sorted[$0]) }) {
                recovered = after[position]
                break
            }
        }
        let lastSent = sorted.last?.sentSeconds ?? window.startSeconds
        let during = sorted.filter {
            $0.sentSeconds >= window.startSeconds && $0.sentSeconds <= (recovered.map { sorted[$0].sentSeconds } ?? lastSent)
        }
        out.maxFreshnessSeconds = during.map { $0.freshnessSeconds ?? max(0, lastSent - $0.sentSeconds) }.max()
        if sorted.isEmpty {
            out.freshnessNote = "no freshness probes in the run"
        } else if let recovered, let freshness = sorted[recovered].freshnessSeconds {
            out.freshnessRecoverySeconds = max(0, sorted[recovered].sentSeconds + freshness - window.endSeconds)
        } else {
            out.freshnessNote = "freshness not back under \(Units.format(freshnessTargetSeconds)) s by the end of the run"
        }
        return out
    }

    static func applyBacklogAndLag(_ windows: [BenchReport.FaultWindow], intervals: [BenchReport.IntervalPoint])
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
