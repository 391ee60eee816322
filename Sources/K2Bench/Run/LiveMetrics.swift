import K2Core
import K2Replay

/// What `--metrics-port` exposes while a run goes on (names in docs/bench.md): rates of the last
/// interval, backlog and consumer lag, per-sink message counters, latency quantiles of the
/// measured window so far, and CPU/memory of the watched processes.
package enum LiveMetrics {
    package struct State {
        package var workload: String
        package var repetition: Int
        package var interval: BenchReport.IntervalPoint?
        package var sinks: [(uri: String, counts: SinkCounts)]
        /// Messages the consumer read back so far this repetition.
        package var consumed: UInt64?
        /// Latency histograms so far, keyed `kind.basis` (ns).
        package var latencies: [String: Histogram]
        package var resources: [ResourceSeries]
        /// The replay's last closed harness interval (its label and evidence), nil before the first.
        package var harness: HarnessLoad?

        package init(
            workload: String, repetition: Int, interval: BenchReport.IntervalPoint? = nil, sinks: [(uri: String, counts: SinkCounts)] = [],
            consumed: UInt64? = nil, latencies: [String: Histogram] = [:], resources: [ResourceSeries] = [], harness: HarnessLoad? = nil
        ) {
            self.harness = harness
            self.workload = workload
            self.repetition = repetition
            self.interval = interval
            self.sinks = sinks
            self.consumed = consumed
            self.latencies = latencies
            self.resources = resources
        }
    }

    /// The quantiles exposed per latency kind (1 = max).
    static let quantiles: [(String, Double)] = [("0.5", 50), ("0.9", 90), ("0.99", 99), ("0.999", 99.9), ("1", 100)]

    package static func samples(_ s: State) -> [PrometheusText.Sample] {
        typealias S = PrometheusText.Sample
        var out: [S] = [S("k2_bench_repetition", Double(s.repetition + 1), help: "Repetition running (1-based).", labels: [("workload", s.workload)])]
        if let iv = s.interval {
            let secs = Swift.max(iv.seconds, 1e-9)
            out.append(
                S("k2_bench_offered_messages_per_second", iv.offeredMsgs / secs, help: "Messages the schedule intended to send, last interval."))
            out.append(S("k2_bench_sent_messages_per_second", iv.sentMsgs / secs, help: "Messages handed to the sinks, last interval."))
            for (i, sink) in s.sinks.enumerated() where i < iv.deliveredMsgs.count {
                out.append(
                    S(
                        "k2_bench_delivered_messages_per_second", iv.deliveredMsgs[i] / secs, help: "Messages a sink acknowledged, last interval.",
                        labels: [("sink", sink.uri)]))
            }
            for (i, sink) in s.sinks.enumerated() where i < iv.backlog.count {
                out.append(
                    S(
                        "k2_bench_backlog_messages", iv.backlog[i], help: "Messages sent to a sink, not yet acknowledged.",
                        labels: [("sink", sink.uri)]))
            }
            if let consumed = iv.consumedMsgs {
                out.append(S("k2_bench_consumed_messages_per_second", consumed / secs, help: "Messages the consumer read back, last interval."))
            }
            if let lateness = iv.latenessP99Ms {
                out.append(S("k2_bench_lateness_p99_seconds", lateness / 1e3, help: "Replay lateness p99 over the last interval."))
            }
        }
        if let consumed = s.consumed {
            let produced = s.sinks.filter { $0.uri.hasPrefix("kafka://") }.map(\.counts.delivered).max() ?? 0
            out.append(
                S(
                    "k2_bench_consumer_lag_messages", Double(produced > consumed ? produced - consumed : 0),
                    help: "Messages acknowledged by the broker and not yet read back by the consumer."))
        }
        out += sinkCounters(prefix: "k2_bench", scope: "this repetition", s.sinks)
        if let harness = s.harness { out += boundSamples(prefix: "k2_bench", harness) }
        for key in s.latencies.keys.sorted() {
            let histogram = s.latencies[key]!
            guard histogram.totalCount > 0 else { continue }
            let parts = key.split(separator: ".").map(String.init)
            let kind = parts[0], basis = parts.count > 1 ? parts[1] : "actual"
            let scale = Double(histogram.unit.nanos) / 1e9
            for (label, percentile) in quantiles {
                let value = Double(percentile == 100 ? histogram.max : histogram.valueAtPercentile(percentile)) * scale
                out.append(
                    S(
                        "k2_bench_latency_seconds", value, help: "Latency quantiles over the measured window so far (quantile 1 = max).",
                        labels: [("kind", kind), ("basis", basis), ("quantile", label)]))
            }
            out.append(
                S(
                    "k2_bench_latency_count", Double(histogram.totalCount), help: "Messages in the latency histogram.", type: "counter",
                    labels: [("kind", kind), ("basis", basis)]))
        }
        for series in s.resources {
            guard let last = series.samples.last else { continue }
            out.append(
                S(
                    "k2_bench_cpu_cores", last.cpuCores, help: "CPU of a watched process tree or cgroup (cores), last sample.",
                    labels: [("process", series.name), ("kind", series.kind)]))
            out.append(
                S(
                    "k2_bench_memory_bytes", Double(last.memoryBytes), help: "RSS (or memory.current) of a watched process tree or cgroup.",
                    labels: [("process", series.name), ("kind", series.kind)]))
        }
        return out
    }

    /// Per sink: messages sent, delivered and failed (`PREFIX_messages_sent_total{sink=…}` …).
    static func sinkCounters(prefix: String, scope: String, _ sinks: [(uri: String, counts: SinkCounts)]) -> [PrometheusText.Sample] {
        var out: [PrometheusText.Sample] = []
        for (name, what, key) in [
            ("sent", "handed to a sink", \SinkCounts.sent),
            ("delivered", "a sink delivered", \SinkCounts.delivered),
            ("failed", "a sink failed", \SinkCounts.failed),
        ] {
            for sink in sinks {
                out.append(
                    .init(
                        "\(prefix)_messages_\(name)_total", Double(sink.counts[keyPath: key]), help: "Messages \(what) (\(scope)).",
                        type: "counter", labels: [("sink", sink.uri)]))
            }
        }
        return out
    }

    /// The last interval's label as a gauge per label (`PREFIX_bound{bound="harness-bound"} 1`,
    /// the other 0, so a dashboard can plot either), with the evidence it was decided from.
    static func boundSamples(prefix: String, _ load: HarnessLoad) -> [PrometheusText.Sample] {
        typealias S = PrometheusText.Sample
        var out = [Bottleneck.harness, .system].map { label in
            S(
                "\(prefix)_bound", load.bound == label ? 1 : 0,
                help: "1 for what limited the last interval's figures: the harness (k2) or the system under test (docs/bench.md).",
                labels: [("bound", label.rawValue)])
        }
        out.append(S("\(prefix)_sending_busy_ratio", load.busyFraction, help: "Share of the last interval the sending thread was busy."))
        out.append(
            S("\(prefix)_sink_blocked_ratio", load.blockedFraction, help: "Share of the last interval the sending thread waited for room in sinks."))
        if let p99 = load.latenessP99Nanos {
            out.append(S("\(prefix)_interval_lateness_p99_seconds", Double(p99) / 1e9, help: "Lateness p99 in the last harness interval."))
        }
        return out
    }

    /// What `k2 replay --metrics-port` exposes, from the engine's progress snapshot (about twice
    /// a second) and the sinks' counters.
    package static func replaySamples(_ p: ReplayProgress, sinks: [(uri: String, counts: SinkCounts)]) -> [PrometheusText.Sample] {
        typealias S = PrometheusText.Sample
        var out: [S] = [
            S("k2_replay_messages_per_second", p.rate, help: "Messages handed to the sinks per second, since the previous snapshot."),
            S("k2_replay_lag_seconds", Double(p.lagNanos) / 1e9, help: "How far the replay is behind its schedule (0 at --speed max)."),
            S("k2_replay_elapsed_seconds", Double(p.elapsedNanos) / 1e9, help: "Time since the first message."),
            S("k2_replay_bytes_total", Double(p.bytes), help: "Payload bytes handed to the sinks.", type: "counter"),
        ]
        if let fraction = p.fraction {
            out.append(S("k2_replay_progress_ratio", fraction, help: "Fraction of the capture time (all loops) replayed."))
        }
        if let eta = p.etaNanos { out.append(S("k2_replay_eta_seconds", Double(eta) / 1e9, help: "Estimated time to the end.")) }
        if let harness = p.harness { out += boundSamples(prefix: "k2_replay", harness) }
        return out + sinkCounters(prefix: "k2_replay", scope: "this run", sinks)
    }
}
