import Foundation
import K2Core
import K2Replay

/// The ledger's starting point for a repetition: the Kafka sink's topic and its high watermarks
/// before anything is sent; `finish` counts again at the end (`RunLedger`).
struct LedgerStart {
    let inspector: KafkaInspector?
    let topic: String?
    let before: Int64?
    /// Each partition's high watermark at the start (for the retention figure).
    let beforeHigh: [Int64]

    /// From the workload's first `kafka://` sink with a fixed `topic=` (nothing to count otherwise).
    init(sinks: [Workload.SinkSpec]) {
        var brokers: String?
        var name: String?
        if let kafka = sinks.first(where: { $0.uri.hasPrefix("kafka://") }) {
            brokers = String(kafka.uri.dropFirst("kafka://".count).prefix { $0 != "?" && $0 != "/" })
            if let query = kafka.uri.split(separator: "?", maxSplits: 1).dropFirst().first {
                for pair in query.split(separator: "&") where pair.hasPrefix("topic=") { name = String(pair.dropFirst(6)) }
            }
        }
        if let brokers, let name, !name.contains("{") {
            let client = try? KafkaInspector(bootstrap: brokers)
            inspector = client
            topic = name
            // A topic not created yet holds nothing.
            beforeHigh = client?.watermarks(topic: name)?.map(\.high) ?? []
            before = beforeHigh.reduce(0, +)
        } else {
            inspector = nil
            topic = nil
            before = nil
            beforeHigh = []
        }
    }

    /// Starts reading the topic back by `k2-id` for `sink` (a `KafkaSink`), telling the freshness
    /// `probes` (their own run id) apart: the reader, or nil and the reason as a report note when
    /// it cannot (nil and nil for other sinks).
    func startReading(sink: (any ReplaySink)?, probes: FreshnessProbes?) -> (reader: TopicIDReader?, error: String?) {
        guard let topic, let kafka = sink as? KafkaSink else { return (nil, nil) }
        guard kafka.options.headers else { return (nil, "ledger: the topic is not read back by id: the Kafka sink has headers=off (no k2-id)") }
        do {
            let reader = try TopicIDReader(bootstrap: kafka.options.bootstrap, topic: topic, run: kafka.runID, probeRun: probes?.runID)
            try reader.start()
            return (reader, nil)
        } catch {
            return (nil, "ledger: the topic is not read back by id: \(error)")
        }
    }

    /// The ledger at the end of the repetition: the sink's counts, the topic read back by id
    /// (replayed messages and `probes` apart), the topic's messages since the start less the
    /// probes on it, and, in the first repetition of a pipeline, the replayed rows in bronze once
    /// they stop growing (up to 30 s). `measureFromNanos` (monotonic, the fault schedule's
    /// origin) places the first ids of each discrepancy in time, from their send times.
    func finish(
        sink: any ReplaySink, reader: TopicIDReader?, probes: FreshnessProbes?, pipeline: PipelineSetup, rep: Int,
        measureFromNanos: Int64?, progress: ((String) -> Void)?
    ) -> RunLedger {
        var ledger = RunLedger(counts: sink.counts)
        ledger.probes = probes?.acknowledged ?? 0
        if let reader, let kafka = sink as? KafkaSink {
            progress?("ledger: reading the topic back to its end …")
            let tally = reader.stop(waitNanos: 15_000_000_000)
            ledger.readBack = .init(
                tally: tally, acknowledged: kafka.acknowledgedIDs, probesAcknowledged: reader.probeRun == nil ? nil : probes?.acknowledgedIDs)
            ledger.readBackRun = kafka.runID
            ledger.probeRun = reader.probeRun
            if let origin = measureFromNanos, origin > 0 {
                ledger.placeFirstIDs(replayed: { kafka.sendNanos(sequence: $0) }, probes: { probes?.sendNanos(sequence: $0) }, origin: origin)
            }
        }
        if let inspector, let topic, let before, let marks = inspector.watermarks(topic: topic) {
            ledger.brokerMessages = marks.reduce(0) { $0 + $1.high } - before - ledger.probesOnTopic
            ledger.retentionDeleted = marks.indices.reduce(Int64(0)) { sum, partition in
                sum + max(0, marks[partition].low - (partition < beforeHigh.count ? beforeHigh[partition] : 0))
            }
        }
        guard rep == 0, let server = pipeline.server, let expected = ledger.brokerMessages else { return ledger }
        progress?("ledger: counting the rows in ClickHouse …")
        let sql = "SELECT count() FROM \(pipeline.database(rep)).bronze WHERE stream != 'k2.probe'"
        var rows: Int64?
        var lastChange = Date()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let now = (try? server.query(sql)).flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if let now, now != rows { lastChange = Date() }
            rows = now ?? rows
            if let rows, rows >= expected, Date().timeIntervalSince(lastChange) >= 2 { break }
            if Date().timeIntervalSince(lastChange) >= 10 { break }
            usleep(250_000)
        }
        ledger.clickhouseRows = rows
        // Printed while both servers still run (a test counts independently at this line).
        progress?("ledger: \(rows.map(String.init) ?? "unknown") replayed rows in bronze, \(expected) replayed messages on the broker")
        return ledger
    }
}
