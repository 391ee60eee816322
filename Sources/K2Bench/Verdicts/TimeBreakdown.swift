/// "Where the time goes": a one-line breakdown of a failing latency figure from the figures the
/// report already has, at the same percentile and basis as the failing metric:
///
///     to the broker and back   = publish
///     broker to consumer       = end_to_end
///     broker to queryable      = freshness − end_to_end   (the ClickHouse Kafka engine's flush)
///
/// Percentiles of different kinds are subtracted (each kind is its own histogram, over different
/// messages): an attribution, not an exact decomposition. For a query class the split is the
/// wait for a free slot (from the intended start) against the query itself (from the actual start).
enum TimeBreakdown {
    /// The line for `metric` (`latency.KIND.BASIS.PCT`), or nil when it is not a latency the
    /// report can break down.
    static func line(for metric: String, in report: BenchReport) -> String? {
        let parts = metric.split(separator: ".").map(String.init)
        guard parts.count == 4, parts[0] == "latency" else { return nil }
        let (kind, basis, percentile) = (parts[1], parts[2], parts[3])
        func value(_ name: String) -> Double? { report.metrics[name].flatMap { Units.convert($0.value, from: $0.unit, to: "ms") } }
        if kind == "query" {
            return query(
                class: basis, percentile: percentile, corrected: value(metric),
                uncorrected: value("latency.query_uncorrected.\(basis).\(percentile)"))
        }
        guard ["freshness", "end_to_end", "publish"].contains(kind) else { return nil }
        return ingestion(
            percentile: percentile, basis: basis,
            publish: value("latency.publish.\(basis).\(percentile)"),
            endToEnd: value("latency.end_to_end.\(basis).\(percentile)"),
            freshness: value("latency.freshness.\(basis).\(percentile)"),
            lateness: basis == "intended" ? value("latency.lateness.intended.\(percentile)") : nil,
            settings: report.workload.clickhouseSettings ?? [:])
    }

    static func ms(_ value: Double) -> String { Units.format(value) + " ms" }

    static func ingestion(
        percentile: String, basis: String, publish: Double?, endToEnd: Double?, freshness: Double?,
        lateness: Double?, settings: [String: String]
    ) -> String? {
        var segments: [String] = []
        if let publish { segments.append("to the broker and back (publish) \(ms(publish))") }
        if let endToEnd { segments.append("broker to consumer (end to end) \(ms(endToEnd))") }
        var flush: Double?
        if let freshness, let endToEnd {
            flush = Swift.max(0, freshness - endToEnd)
            segments.append("broker to queryable (freshness − end to end) \(ms(flush!))")
        } else if let freshness, endToEnd == nil {
            segments.append("send to queryable (freshness) \(ms(freshness))")
        }
        guard !segments.isEmpty else { return nil }
        let total = [freshness, endToEnd, publish].compactMap { $0 }.first ?? 0
        var out =
            "where the time goes (\(percentile) from the \(basis == "intended" ? "intended" : "actual") send): "
            + segments.joined(separator: " · ")
        if let lateness, total > 0, lateness >= 0.1 * total {
            out += " · of it the replay's own lateness \(ms(lateness)) (the harness did not keep up)"
        }
        // Kinds are measured on different messages (probes are sent apart from the replay), so a
        // part can exceed the figure's total: shares are capped at 100 %.
        func share(_ part: Double) -> String { Units.format(Swift.min(100, (part / total * 100).rounded())) + " %" }
        if let lateness, total > 0, lateness >= 0.5 * total {
            out +=
                " — the replay itself fell behind its schedule (lateness \(ms(lateness))): a limit of the harness on this machine, not the pipeline's;"
                + " the kinds measured on the replayed messages carry it (run the release build, or a lower rate)"
        } else if let flush, total > 0, flush >= 0.5 * total {
            out += " — the ClickHouse Kafka engine's flush holds \(share(flush)) of it: " + flushSettings(settings)
        } else if let publish, total > 0, publish >= 0.5 * total {
            out += " — the broker's acknowledgement holds \(share(publish)) of it (producer batch.num.messages, linger.ms, acks; the broker's load)"
        } else if let endToEnd, let publish, total > 0, endToEnd - publish >= 0.5 * total {
            out += " — reading the topic back holds \(share(endToEnd - publish)) of it (the consumer's fetch.wait.max.ms, the broker's fetch path)"
        }
        return out
    }

    /// The settings that govern when the Kafka engine writes a block, with the values the workload gave.
    static func flushSettings(_ settings: [String: String]) -> String {
        func setting(_ name: String, _ otherwise: String) -> String {
            settings[name].map { "\(name) = \($0) (embedded.clickhouse_settings)" } ?? "\(name) (\(otherwise))"
        }
        return setting("stream_flush_interval_ms", "18.16's profile default 7,500")
            + ", kafka_max_block_size (the Kafka table in the schema: a block is written when full or the topic goes quiet)"
            + ", " + setting("kafka_flush_interval_ms", "the Kafka table's setting on current releases")
    }

    static func query(class name: String, percentile: String, corrected: Double?, uncorrected: Double?) -> String? {
        guard let corrected, let uncorrected else { return nil }
        let waited = Swift.max(0, corrected - uncorrected)
        var out =
            "where the time goes (\(percentile), class \(name)): the query itself (from its actual start) \(ms(uncorrected))"
            + " · waiting for a free slot (intended − actual start) \(ms(waited))"
        if corrected > 0, waited >= 0.5 * corrected {
            out += " — queueing holds it: raise queries.concurrency or lower the class's rate"
        }
        return out
    }
}
