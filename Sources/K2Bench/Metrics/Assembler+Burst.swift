extension Assembler {
    /// What a burst phase (`burst:`) left behind, from one repetition's 1 s intervals (`t` is the
    /// end of an interval in seconds since measuring started):
    ///
    /// - `burst.offered.msgs_per_s`: the burst's rate (what was offered);
    /// - `burst.achieved.peak_msgs_per_s`: the best 1 s interval the slowest sink acknowledged
    ///   from the burst's start to the run's end (the burst figure, "absorbed");
    /// - `burst.backlog.broker.max.messages`: the most messages sent and not yet acknowledged at
    ///   an interval's end, from the burst's start on;
    /// - `burst.backlog.clickhouse.max.rows`: the most rows ClickHouse was behind (delivered to
    ///   the broker, not landed), from the burst's start on;
    /// - `burst.catch_up.s`: from the burst's (scheduled) end to the end of the first interval,
    ///   at or after the one ClickHouse was furthest behind in, where it was no more behind than
    ///   at its worst before the burst (the steady state's own flush backlog). Absent when it
    ///   never got there: `notes` says how far behind it stayed.
    package static func burstMetrics(intervals: [BenchReport.IntervalPoint], burst: Workload.Burst)
        -> (metrics: [String: BenchReport.Metric], notes: [String])
    {
        var result: [String: BenchReport.Metric] = [:]
        var notes: [String] = []
        let start = Double(burst.atNanos) / 1e9, end = Double(burst.atNanos + burst.lengthNanos) / 1e9
        result["burst.offered.msgs_per_s"] = .init(value: burst.rate, unit: "msg/s", better: .higher)
        let iv = intervals.filter { $0.seconds > 0 }
        // An interval is in or after the burst when it ends after the burst started.
        let from = iv.filter { $0.t > start + 1e-9 }
        guard !from.isEmpty else { return (result, ["the run ended before its burst phase started"]) }
        let achieved = from.map { p in (p.deliveredMsgs.min() ?? p.sentMsgs) / p.seconds }
        result["burst.achieved.peak_msgs_per_s"] = .init(value: achieved.max() ?? 0, unit: "msg/s", better: .higher)
        if from.allSatisfy({ !$0.backlog.isEmpty }) {
            result["burst.backlog.broker.max.messages"] = .init(
                value: from.map { $0.backlog.max() ?? 0 }.max() ?? 0, unit: "messages", better: .lower)
        }
        let behind = from.compactMap(\.clickhouseBehind)
        guard behind.count == from.count else { return (result, notes) }
        result["burst.backlog.clickhouse.max.rows"] = .init(value: behind.max() ?? 0, unit: "rows", better: .lower)
        let steady = iv.filter { $0.t <= start + 1e-9 }.compactMap(\.clickhouseBehind).max() ?? 0
        // From the worst point on (a harness that fell behind sends the burst late, and the
        // backlog peaks after the scheduled end): the first interval back at the steady lag.
        let worst = from.first { $0.clickhouseBehind == behind.max() }?.t ?? end
        if let caughtUp = iv.first(where: { $0.t >= Swift.max(end, worst) - 1e-9 && ($0.clickhouseBehind ?? .infinity) <= steady }) {
            result["burst.catch_up.s"] = .init(value: Swift.max(0, caughtUp.t - end), unit: "s", better: .lower)
        } else if let last = iv.last {
            notes.append(
                "after the burst ClickHouse had not caught up by the end of the run: \(Units.format(last.clickhouseBehind ?? 0)) rows behind "
                    + "\(Units.format(last.t - end)) s after the burst (at most \(Units.format(steady)) before it); run longer after the burst to see the catch-up"
            )
        }
        return (result, notes)
    }
}
