import Foundation
import K2Core
import K2Replay

/// The ledger's starting point for a repetition: the Kafka sink's topic and its high watermarks
/// before anything is sent; `finish` counts again at the end (`RunLedger`).
struct LedgerStart {
    let inspector: KafkaInspector?
    let topic: String?
    let before: Int64?

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
            before = client?.highWatermarkSum(topic: name) ?? 0
        } else {
            inspector = nil
            topic = nil
            before = nil
        }
    }

    /// The ledger at the end of the repetition: the sink's counts, the topic's messages since
    /// the start less `probes`, and, in the first repetition of a pipeline, the replayed rows in
    /// bronze once they stop growing (up to 30 s).
    func finish(sink: any ReplaySink, probes: UInt64, pipeline: PipelineSetup, rep: Int, progress: ((String) -> Void)?) -> RunLedger {
        var ledger = RunLedger(counts: sink.counts)
        ledger.probes = probes
        if let inspector, let topic, let before, let after = inspector.highWatermarkSum(topic: topic) {
            ledger.brokerMessages = after - before - Int64(probes)
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
        return ledger
    }
}
