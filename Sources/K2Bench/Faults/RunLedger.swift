import K2Replay

/// The message ledger of one repetition through the embedded broker and the ClickHouse pipeline:
/// every message the Kafka sink was handed has a fate (delivered, failed, unknown); the broker
/// holds exactly the delivered ones (by `k2-id` when the topic is read back, else by its high
/// watermarks, less the freshness probes on the same topic); ClickHouse's bronze table holds as
/// many rows. Figures become `ledger.*` metrics.
struct RunLedger: Equatable {
    /// The Kafka sink's counts at the end of the repetition.
    var counts: SinkCounts
    /// Replayed messages the topic took during the repetition (high-watermark delta less the
    /// probes on the topic, `probesOnTopic`); nil when unreadable.
    var brokerMessages: Int64?
    /// Freshness probes on the same topic the broker acknowledged.
    var probes: UInt64 = 0
    /// Replayed rows in bronze (probe rows excluded); nil when not counted.
    var clickhouseRows: Int64?
    /// Messages of this repetition the broker deleted by retention before the end (sum over
    /// partitions of the low watermark's rise above the start's high watermark; probes
    /// included); nil when unreadable. The embedded broker (librdkafka's mock cluster) keeps
    /// only ~5 MiB per partition: a consumer further behind than that skips what was deleted.
    var retentionDeleted: Int64?
    /// The read-back stage: the topic read by `k2-id` during the run; nil without it.
    var readBack: ReadBack?
    /// The Kafka sink's run id (the first half of its `k2-id`s).
    var readBackRun: UInt64?
    /// The freshness probes' run id (their `k2-id`s); nil without probes read back.
    var probeRun: UInt64?
    /// When the first ids of each discrepancy were sent, seconds from the start of the measured
    /// window (the fault schedule's origin), in the order of their id lists, by the name of their
    /// figure: `topic.lost`, `topic.unacknowledged`, `topic.duplicates`, `topic.reordered`,
    /// `broker.probes_lost`. Nil entries: send time unknown. Set by `placeFirstIDs`.
    var firstSent: [String: [Double?]] = [:]

    /// Fills `firstSent` from the send times of the replayed messages' and the probes' `k2-id`
    /// sequences (monotonic ns) and the measured window's start `origin` (monotonic ns).
    mutating func placeFirstIDs(replayed: (UInt64) -> Int64?, probes: (UInt64) -> Int64?, origin: Int64) {
        guard let readBack else { return }
        func seconds(_ ids: [UInt64], _ sent: (UInt64) -> Int64?) -> [Double?] {
            ids.map { id in sent(id).map { Double($0 - origin) / 1e9 } }
        }
        firstSent["topic.lost"] = seconds(readBack.lost.first, replayed)
        firstSent["topic.unacknowledged"] = seconds(readBack.unacknowledged.first, replayed)
        firstSent["topic.duplicates"] = seconds(readBack.tally.firstDuplicates, replayed)
        firstSent["topic.reordered"] = seconds(readBack.tally.firstReordered, replayed)
        if let lost = readBack.probesLost { firstSent["broker.probes_lost"] = seconds(lost.first, probes) }
    }

    /// The topic read back by id beside what the broker acknowledged.
    struct ReadBack: Equatable {
        var tally: TopicIDReader.Tally
        /// Sequences the broker acknowledged (the Kafka sink's delivery reports).
        var acknowledged: SequenceBitmap
        /// Probe ids the broker acknowledged; nil when the probes are not told apart by id.
        var probesAcknowledged: SequenceBitmap? = nil
        /// Probes acknowledged but never read back (lost after the acknowledgement), first ids.
        var probesLost: (count: Int, first: [UInt64])? {
            probesAcknowledged.map { $0.subtracting(tally.probesRead, first: TopicIDReader.firstLimit) }
        }
        /// Acknowledged but never read back (lost after the acknowledgement), first ids.
        var lost: (count: Int, first: [UInt64]) { acknowledged.subtracting(tally.read, first: TopicIDReader.firstLimit) }
        /// Read back but not acknowledged (failed or unknown messages that landed after all).
        var unacknowledged: (count: Int, first: [UInt64]) { tally.read.subtracting(acknowledged, first: TopicIDReader.firstLimit) }
    }

    /// Messages with no fate: sent but neither delivered, failed nor of unknown fate at the end.
    var noFate: UInt64 { counts.inFlight }
    /// The read-back when it reached the topic's end: its figures are exact.
    private var completeReadBack: ReadBack? { readBack.flatMap { $0.tally.complete ? $0 : nil } }
    /// Probes on the topic: read back by id (duplicates included) when the probes are told
    /// apart, else the acknowledged ones.
    var probesOnTopic: Int64 {
        if let readBack = completeReadBack, readBack.probesAcknowledged != nil {
            return Int64(readBack.tally.probesRead.count + readBack.tally.probeDuplicates)
        }
        return Int64(probes)
    }
    /// Messages on the broker that the sink did not count as delivered (k2 duplicates, or
    /// failed/unknown ones that landed after all); 0 when the broker matches. By id when read
    /// back (unacknowledged ids and ids read twice), else by high watermark.
    var brokerExtra: Int64? {
        if let readBack = completeReadBack { return Int64(readBack.unacknowledged.count + readBack.tally.duplicates) }
        return brokerMessages.map { max(0, $0 - Int64(counts.delivered)) }
    }
    /// Delivered messages the broker does not hold (lost after the acknowledgement): acknowledged
    /// ids not read back, else by high watermark (which cannot tell them from lost probes).
    var brokerMissing: Int64? {
        if let readBack = completeReadBack { return Int64(readBack.lost.count) }
        return brokerMessages.map { max(0, Int64(counts.delivered) - $0) }
    }
    /// Acknowledged probes not read back: the broker's loss after the acknowledgement, apart
    /// from the replayed messages'; nil when the probes are not told apart by id.
    var probesLost: Int64? { completeReadBack?.probesLost.map { Int64($0.count) } }
    /// Rows beyond the broker's messages: duplicates made by the pipeline (a finding about the
    /// system under test, e.g. the Kafka engine's at-least-once after a crash).
    var clickhouseExtra: Int64? { both(clickhouseRows, brokerMessages).map { pair in max(0, pair.0 - pair.1) } }
    /// Broker messages with no row in ClickHouse.
    var clickhouseMissing: Int64? { both(clickhouseRows, brokerMessages).map { pair in max(0, pair.1 - pair.0) } }

    /// Lost by k2 or the pipeline: no fate, plus missing at the broker and in ClickHouse.
    var lost: Int64 { lostByK2 + lostBySystem }
    /// Lost by k2 itself: messages its Kafka sink was handed that have no fate.
    var lostByK2: Int64 { Int64(noFate) }
    /// Lost by the system under test: acknowledged but not on the broker, or on the broker and
    /// never in ClickHouse (a finding about the system, not a k2 failure).
    var lostBySystem: Int64 { (brokerMissing ?? 0) + (clickhouseMissing ?? 0) }
    /// Acknowledged messages the read-back did not find (nil without a complete read-back).
    var readBackLost: Int? { readBack.flatMap { $0.tally.complete ? $0.lost.count : nil } }
    /// Duplicates made by k2's producer: more messages on the broker than k2 counted delivered,
    /// beyond the failed and unknown ones (which may have landed after all). A k2 bug.
    var duplicatesByK2: Int64 {
        if let readBack = completeReadBack { return Int64(readBack.tally.duplicates) }
        return max(max(0, (brokerExtra ?? 0) - Int64(counts.failed) - Int64(counts.unknown)), Int64(readBack?.tally.duplicates ?? 0))
    }
    /// Duplicates made by the system under test (rows beyond the broker's messages).
    var duplicatesBySystem: Int64 { clickhouseExtra ?? 0 }

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
        put("broker.probes_lost", probesLost)
        if let brokerMessages { out["ledger.broker.messages"] = .init(value: Double(brokerMessages), unit: "messages", better: .higher) }
        put("broker.extra", brokerExtra)
        put("broker.missing", brokerMissing)
        if let clickhouseRows { out["ledger.clickhouse.rows"] = .init(value: Double(clickhouseRows), unit: "rows", better: .higher) }
        put("clickhouse.extra", clickhouseExtra)
        put("clickhouse.missing", clickhouseMissing)
        put("broker.retention_deleted", retentionDeleted)
        if let readBack {
            out["ledger.topic.read"] = .init(value: Double(readBack.tally.read.count), unit: "messages", better: .higher)
            put("topic.lost", readBackLost.map(Int64.init))
            put("topic.unacknowledged", Int64(readBack.unacknowledged.count))
            put("topic.duplicates", Int64(readBack.tally.duplicates))
            put("topic.reordered", Int64(readBack.tally.reordered))
            if readBack.probesAcknowledged != nil { put("topic.probes", Int64(readBack.tally.probesRead.count)) }
        }
        put("lost", lost)
        put("lost.k2", lostByK2)
        put("lost.system", lostBySystem)
        put("duplicates.k2", duplicatesByK2)
        put("duplicates.system", duplicatesBySystem)
        // When the earliest of the first ids of each discrepancy was sent (seconds from the start
        // of the measured window: the fault schedule's origin).
        for (name, times) in firstSent {
            if let first = times.compactMap({ $0 }).min() { out["ledger.\(name).first_s"] = .init(value: first, unit: "s", better: .higher) }
        }
        return out
    }

    /// `RUNID-SEQ sent at T s, …`: the first ids of a discrepancy with their send times (`firstSent[name]`).
    private func idList(_ ids: [UInt64], run: UInt64, name: String) -> String {
        let sent = firstSent[name] ?? []
        return ids.enumerated().map { index, sequence in
            MessageID.text(run: run, sequence: sequence) + ((index < sent.count ? sent[index] : nil).map { " sent at \(Units.format($0)) s" } ?? "")
        }.joined(separator: ", ")
    }

    /// One line per discrepancy, for the report's notes.
    var notes: [String] {
        var out: [String] = []
        if noFate > 0 { out.append("ledger: \(noFate) message(s) sent to Kafka have no fate (neither delivered, failed nor unknown)") }
        if let extra = brokerExtra, extra > 0 {
            out.append(
                "ledger: the broker holds \(extra) message(s) more than k2 counted as delivered (\(counts.failed) failed, \(counts.unknown) unknown): duplicates by k2 if more than those"
            )
        }
        if let missing = brokerMissing, missing > 0 {
            out.append(
                "ledger: \(missing) delivered message(s) are not on the broker (\(completeReadBack == nil ? "high watermarks" : "by k2-id")): acknowledged, then lost by the system under test (a finding)"
            )
        }
        if let lost = completeReadBack?.probesLost, lost.count > 0 {
            let ids = idList(lost.first, run: probeRun ?? 0, name: "broker.probes_lost")
            out.append(
                "ledger: \(lost.count) acknowledged freshness probe(s) were not read back from the topic (first k2-id: \(ids)): lost by the broker after the acknowledgement, not counted against the replayed messages"
            )
        }
        if let extra = clickhouseExtra, extra > 0 {
            out.append(
                "ledger: ClickHouse holds \(extra) row(s) more than the broker's messages: duplicates made by the pipeline (a finding about the system)"
            )
        }
        if let missing = clickhouseMissing, missing > 0 {
            var line = "ledger: \(missing) message(s) on the broker never landed in ClickHouse: lost by the system under test (a finding)"
            if let deleted = retentionDeleted, deleted > 0 {
                line +=
                    "; the broker deleted \(deleted) of this run's messages by retention (the embedded broker keeps ~5 MiB per partition),"
                    + " so up to \(min(deleted, missing)) of them may be lost to a consumer that fell further behind, not to the pipeline"
            }
            out.append(line)
        }
        if brokerMessages == nil { out.append("ledger: the broker's high watermarks could not be read") }
        if let readBack {
            let run = readBack.tally
            func ids(_ list: [UInt64], _ name: String) -> String { idList(list, run: readBackRun ?? 0, name: name) }
            if !run.complete { out.append("ledger: the read-back did not reach the topic's end in time; its figures are incomplete") }
            let lost = readBack.lost
            if run.complete, lost.count > 0 {
                out.append(
                    "ledger: \(lost.count) acknowledged message(s) were not read back from the topic (first k2-id: \(ids(lost.first, "topic.lost")))")
            }
            let landed = readBack.unacknowledged
            if landed.count > 0 {
                out.append(
                    "ledger: \(landed.count) message(s) read back were not acknowledged to k2 (failed or unknown, landed after all; first k2-id: \(ids(landed.first, "topic.unacknowledged")))"
                )
            }
            if run.duplicates > 0 {
                out.append(
                    "ledger: \(run.duplicates) message(s) read back more than once (first k2-id: \(ids(run.firstDuplicates, "topic.duplicates"))): duplicates by k2's producer"
                )
            }
            if run.reordered > 0 {
                out.append(
                    "ledger: \(run.reordered) message(s) read back out of order within their key (first k2-id: \(ids(run.firstReordered, "topic.reordered")))"
                )
            }
        }
        return out
    }
}

/// Both values, or nil.
private func both(_ first: Int64?, _ second: Int64?) -> (Int64, Int64)? {
    guard let first, let second else { return nil }
    return (first, second)
}
