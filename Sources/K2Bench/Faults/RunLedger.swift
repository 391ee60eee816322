import K2Replay

/// The message ledger of one repetition through the embedded broker and the ClickHouse pipeline:
/// every message the Kafka sink was handed has a fate (delivered, failed, unknown); the broker
/// holds exactly the delivered ones (its high watermarks, less the freshness probes on the same
/// topic); ClickHouse's bronze table holds as many rows. Figures become `ledger.*` metrics.
struct RunLedger: Equatable {
    /// The Kafka sink's counts at the end of the repetition.
    var counts: SinkCounts
    /// Messages the topic took during the repetition (high-watermark delta, probes excluded); nil when unreadable.
    var brokerMessages: Int64?
    /// Freshness probes on the same topic, subtracted from its high-watermark growth.
    var probes: UInt64 = 0
    /// Replayed rows in bronze (probe rows excluded); nil when not counted.
    var clickhouseRows: Int64?

    /// Messages with no fate: sent but neither delivered, failed nor of unknown fate at the end.
    var noFate: UInt64 { counts.inFlight }
    /// Messages on the broker that the sink did not count as delivered (k2 duplicates, or
    /// failed/unknown ones that landed after all); 0 when the broker matches.
    var brokerExtra: Int64? { brokerMessages.map { max(0, $0 - Int64(counts.delivered)) } }
    /// Delivered messages the broker does not hold (lost after the acknowledgement).
    var brokerMissing: Int64? { brokerMessages.map { max(0, Int64(counts.delivered) - $0) } }
    /// Rows beyond the broker's messages: duplicates made by the pipeline (a finding about the
    /// system under test, e.g. the Kafka engine's at-least-once after a crash).
    var clickhouseExtra: Int64? { both(clickhouseRows, brokerMessages).map { pair in max(0, pair.0 - pair.1) } }
    /// Broker messages with no row in ClickHouse.
    var clickhouseMissing: Int64? { both(clickhouseRows, brokerMessages).map { pair in max(0, pair.1 - pair.0) } }

    /// Lost by k2 or the pipeline: no fate, plus missing at the broker and in ClickHouse.
    var lost: Int64 { Int64(noFate) + (brokerMissing ?? 0) + (clickhouseMissing ?? 0) }

    var metrics: [String: BenchReport.Metric] {
        var out: [String: BenchReport.Metric] = [:]
        func put(_ name: String, _ value: Int64?) {
            if let value { out["ledger." + name] = .init(value: Double(value), unit: "messages", better: .lower) }
        }
        out["ledger.kafka.sent"] = .init(value: Double(counts.sent), unit: "messages", better: .higher)
        out["ledger.kafka.delivered"] = .init(value: Double(counts.delivered), unit: "messages", better: .higher)
        put("kafka.failed", Int64(counts.failed))
        put("kafka.unknown", Int64(counts.unknown))
        put("kafka.no_fate", Int64(noFate))
        out["ledger.broker.probes"] = .init(value: Double(probes), unit: "messages", better: .lower)
        if let brokerMessages { out["ledger.broker.messages"] = .init(value: Double(brokerMessages), unit: "messages", better: .higher) }
        put("broker.extra", brokerExtra)
        put("broker.missing", brokerMissing)
        if let clickhouseRows { out["ledger.clickhouse.rows"] = .init(value: Double(clickhouseRows), unit: "rows", better: .higher) }
        put("clickhouse.extra", clickhouseExtra)
        put("clickhouse.missing", clickhouseMissing)
        put("lost", lost)
        return out
    }

    /// One line per discrepancy, for the report's notes.
    var notes: [String] {
        var out: [String] = []
        if noFate > 0 { out.append("ledger: \(noFate) message(s) sent to Kafka have no fate (neither delivered, failed nor unknown)") }
        if let extra = brokerExtra, extra > 0 {
            out.append("ledger: the broker holds \(extra) message(s) more than k2 counted as delivered (\(counts.failed) failed, \(counts.unknown) unknown): duplicates by k2 if more than those")
        }
        if let missing = brokerMissing, missing > 0 { out.append("ledger: \(missing) delivered message(s) are not on the broker (high watermarks)") }
        if let extra = clickhouseExtra, extra > 0 { out.append("ledger: ClickHouse holds \(extra) row(s) more than the broker's messages: duplicates made by the pipeline (a finding about the system)") }
        if let missing = clickhouseMissing, missing > 0 { out.append("ledger: \(missing) message(s) on the broker never landed in ClickHouse") }
        if brokerMessages == nil { out.append("ledger: the broker's high watermarks could not be read") }
        return out
    }
}

/// Both values, or nil.
private func both(_ first: Int64?, _ second: Int64?) -> (Int64, Int64)? {
    guard let first, let second else { return nil }
    return (first, second)
}
