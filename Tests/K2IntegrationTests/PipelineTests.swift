import Foundation
import K2Bench
import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// The v2 pipeline with real parts: replayed messages → the embedded broker (Kafka protocol over
/// TCP) → ClickHouse's Kafka engine → materialized views → MergeTree (bronze, silver trades,
/// probes), built by the shipped schema reports/workloads/v2-pipeline.sql. Counts are checked
/// with curl over ClickHouse's HTTP interface and must match exactly.
@Suite(.serialized)
struct PipelineTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Polls `sql` (a count) with curl until it reaches `expected` or `seconds` pass; returns the last value.
    static func waitForCount(_ server: ClickHouseServer, _ sql: String, expected: Int, seconds: Double) throws -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        var last = -1
        while Date() < deadline {
            last = Int(try server.query(sql).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            if last >= expected { return last }
            usleep(250_000)
        }
        return last
    }

    @Test func replayThroughKafkaEngineLandsEveryMessageExactlyOnce() throws {
        let server = try ClickHouseServer.start()
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 4, topics: []))
        let topic = "k2.pipeline.test"
        let schema = try ClickHouseSchema(path: Self.root + "/reports/workloads/v2-pipeline.sql")
        try schema.run(
            host: "127.0.0.1", port: server.httpPort, database: "pipe",
            values: ["brokers": broker.bootstrap, "topic": topic, "group": "k2-pipeline-test"])

        // The engine consumes once a probe arrives (its consumer group has joined).
        var pc = FreshnessProbes.Configuration(brokers: broker.bootstrap, topic: topic, port: server.httpPort)
        pc.database = "pipe"
        let probes = try FreshnessProbes(pc)
        let joined = try probes.waitUntilFlowing(timeoutNanos: 120_000_000_000)
        #expect(joined < 120)

        // The replayed traffic: the shipped sample capture through the replay engine (what
        // `k2 replay FILE --sink kafka://…` runs), flat out.
        let capture = Self.root + "/captures/binance-sample.k2cap"
        var records: [OwnedRecord] = []
        let reader = try CaptureReader(path: capture)
        while let r = try reader.next() { if r.kind == .recv { records.append(r.owned()) } }
        let sink = try SinkFactory.make("kafka://\(broker.bootstrap)?topic=\(topic)")
        var config = ReplayConfig(files: [capture])
        config.pace = .max
        let summary = try ReplayEngine(config: config, sinks: [sink]).runOnDedicatedThread()
        let sent = records.count
        #expect(summary.messages == UInt64(sent))
        #expect(sink.counts.delivered == UInt64(sent), "failures: \(sink.counts.failureReasons)")
        let trades = SinkDriver.count(records, containing: "\"e\":\"trade\"")
        #expect(trades > 0 && trades < sent)

        // Every message in bronze exactly once (the probe is the one extra row), every trade in
        // silver; independent client: curl over HTTP.
        let bronze = try Self.waitForCount(server, "SELECT count() FROM pipe.bronze WHERE stream != 'k2.probe'", expected: sent, seconds: 120)
        #expect(bronze == sent)
        let silver = try Self.waitForCount(server, "SELECT count() FROM pipe.trades", expected: trades, seconds: 30)
        #expect(silver == trades)
        usleep(1_500_000)  // nothing more arrives (no duplicates after a late flush)
        #expect(
            try server.query("SELECT count() FROM pipe.bronze WHERE stream != 'k2.probe'").trimmingCharacters(in: .whitespacesAndNewlines)
                == "\(sent)")
        #expect(
            try server.query("SELECT uniqExact(raw) FROM pipe.bronze WHERE stream != 'k2.probe'").trimmingCharacters(in: .whitespacesAndNewlines)
                == "\(Set(records.filter { $0.kind == .recv }.map(\.payload)).count)")

        // A spot check: the first trade's fields parsed into the MarketDataV2 shape.
        let first = records.first { $0.kind == .recv && String(decoding: $0.payload, as: UTF8.self).contains("\"e\":\"trade\"") }!
        let text = String(decoding: first.payload, as: UTF8.self)
        let (tradeID, symbol, price, qty) = first.payload.withUnsafeBytes { p in
            (
                PayloadFields.intValue(p, key: Array("\"t\":".utf8))!,
                String(decoding: PayloadFields.stringValue(p, key: Array("\"s\":".utf8))!, as: UTF8.self),
                String(decoding: PayloadFields.stringValue(p, key: Array("\"p\":".utf8))!, as: UTF8.self),
                String(decoding: PayloadFields.stringValue(p, key: Array("\"q\":".utf8))!, as: UTF8.self)
            )
        }
        let row = try server.query(
            "SELECT exchange, price, quantity, side FROM pipe.trades WHERE symbol = '\(symbol)' AND trade_id = \(tradeID) FORMAT TabSeparated")
        let cols = row.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\t").map(String.init)
        #expect(cols.count == 4, "\(row)")
        guard cols.count == 4 else { return }
        #expect(cols[0] == "binance")
        #expect(Double(cols[1]) == Double(price))
        #expect(Double(cols[2]) == Double(qty))
        #expect(text.contains("\"m\":true") ? cols[3] == "sell" : cols[3] == "buy")
    }

    /// One OHLCV candle as the test computes it from trades (times in UTC seconds).
    struct Candle: Equatable, CustomStringConvertible {
        var open, high, low, close, volume: Double
        var trades: Int
        var firstKey, lastKey: (UInt64, UInt64)
        static func == (a: Candle, b: Candle) -> Bool {
            func near(_ x: Double, _ y: Double) -> Bool { abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1) }
            return near(a.open, b.open) && near(a.high, b.high) && near(a.low, b.low) && near(a.close, b.close)
                && near(a.volume, b.volume) && a.trades == b.trades
        }
        var description: String { "o=\(open) h=\(high) l=\(low) c=\(close) v=\(volume) n=\(trades)" }

        /// Adds a trade, or another candle (the hour from its minutes): first/last by (exchange ms, trade id).
        mutating func merge(_ other: Candle) {
            if other.firstKey < firstKey { open = other.open; firstKey = other.firstKey }
            if other.lastKey > lastKey { close = other.close; lastKey = other.lastKey }
            high = max(high, other.high)
            low = min(low, other.low)
            volume += other.volume
            trades += other.trades
        }
    }

    /// Candles per "SYMBOL BUCKET-START" from ClickHouse TabSeparated rows `symbol, start, o, h, l, c, v, n`.
    static func candles(_ tsv: String) -> [String: Candle] {
        var out: [String: Candle] = [:]
        for line in tsv.split(separator: "\n") {
            let f = line.split(separator: "\t").map(String.init)
            guard f.count == 8, let o = Double(f[2]), let h = Double(f[3]), let l = Double(f[4]), let c = Double(f[5]),
                let v = Double(f[6]), let n = Int(f[7])
            else { continue }
            out["\(f[0]) \(f[1])"] = Candle(open: o, high: h, low: l, close: c, volume: v, trades: n, firstKey: (0, 0), lastKey: (0, 0))
        }
        return out
    }

    /// The gold layer: generated Binance traffic spanning ~2.5 hours of exchange time (6,000
    /// messages, a trade every ~2 s: ~150 minutes × 3 symbols, 3–4 hours) through the pipeline;
    /// the candles ClickHouse's views build (1 minute from the trades, 1 hour from the minutes)
    /// equal the candles this test computes from the capture's trades (JSON parsed by
    /// Foundation, an independent parser).
    @Test func goldCandlesEqualCandlesComputedFromTheCapturedTrades() throws {
        let server = try ClickHouseServer.start()
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 4, topics: []))
        let topic = "k2.gold.test"
        try ClickHouseSchema(path: Self.root + "/reports/workloads/v2-pipeline.sql")
            .run(
                host: "127.0.0.1", port: server.httpPort, database: "gold", values: ["brokers": broker.bootstrap, "topic": topic, "group": "g-gold"])
        var pc = FreshnessProbes.Configuration(brokers: broker.bootstrap, topic: topic, port: server.httpPort)
        pc.database = "gold"
        try FreshnessProbes(pc).waitUntilFlowing(timeoutNanos: 120_000_000_000)

        let dir = TemporaryDirectory(prefix: "k2-gold")
        let capture = dir.file("hours.k2cap")
        try SampleTraffic(gapNanos: 1_500_000_000).write(to: capture, count: 6_000)
        var minutes: [String: Candle] = [:]
        var trades = 0
        let reader = try CaptureReader(path: capture)
        while let record = try reader.next() {
            guard record.kind == .recv,
                let json = try? JSONSerialization.jsonObject(with: Data(record.owned().payload)) as? [String: Any],
                let data = json["data"] as? [String: Any], let event = data["e"] as? String, event == "trade" || event == "aggTrade",
                let symbol = data["s"] as? String, let ms = (data["T"] as? NSNumber)?.uint64Value,
                let id = (data[event == "trade" ? "t" : "a"] as? NSNumber)?.uint64Value,
                let price = Double(data["p"] as? String ?? ""), let quantity = Double(data["q"] as? String ?? "")
            else { continue }
            trades += 1
            let key = "\(symbol) \(ms / 60_000 * 60)"
            let candle = Candle(
                open: price, high: price, low: price, close: price, volume: quantity, trades: 1, firstKey: (ms, id), lastKey: (ms, id))
            if minutes[key] == nil { minutes[key] = candle } else { minutes[key]!.merge(candle) }
        }
        var hours: [String: Candle] = [:]
        for (key, candle) in minutes {
            let parts = key.split(separator: " ")
            let hourKey = "\(parts[0]) \(UInt64(parts[1])! / 3600 * 3600)"
            if hours[hourKey] == nil { hours[hourKey] = candle } else { hours[hourKey]!.merge(candle) }
        }
        #expect(trades > 4_000 && minutes.count > 300 && hours.count >= 9)

        var config = ReplayConfig(files: [capture])
        config.pace = .max
        let sink = try SinkFactory.make("kafka://\(broker.bootstrap)?topic=\(topic)")
        _ = try ReplayEngine(config: config, sinks: [sink]).runOnDedicatedThread()
        let landed = try Self.waitForCount(server, "SELECT sum(trades) FROM gold.ohlcv_1h", expected: trades, seconds: 120)
        #expect(landed == trades)
        #expect(try server.query("SELECT count() FROM gold.trades").trimmingCharacters(in: .whitespacesAndNewlines) == "\(trades)")

        let columns = "open, high, low, close, volume, trades"
        let gotMinutes = Self.candles(try server.query("SELECT symbol, toUInt32(minute), \(columns) FROM gold.ohlcv_1m FORMAT TabSeparated"))
        let gotHours = Self.candles(try server.query("SELECT symbol, toUInt32(hour), \(columns) FROM gold.ohlcv_1h FORMAT TabSeparated"))
        #expect(gotMinutes.count == minutes.count)
        #expect(gotHours.count == hours.count)
        for (key, expected) in minutes.sorted(by: { $0.key < $1.key }) {
            #expect(
                gotMinutes[key] == expected,
                "1m candle \(key): ClickHouse \(gotMinutes[key].map(String.init(describing:)) ?? "missing"), trades \(expected)")
        }
        for (key, expected) in hours.sorted(by: { $0.key < $1.key }) {
            #expect(
                gotHours[key] == expected,
                "1h candle \(key): ClickHouse \(gotHours[key].map(String.init(describing:)) ?? "missing"), trades \(expected)")
        }
    }

    @Test func freshnessProbesMeasureEveryProbeThroughThePipeline() throws {
        let server = try ClickHouseServer.start()
        // 4 partitions: probes land out of order, which the poller must not lose.
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 4, topics: []))
        let topic = "k2.fresh.test"
        try ClickHouseSchema(path: Self.root + "/reports/workloads/v2-pipeline.sql")
            .run(
                host: "127.0.0.1", port: server.httpPort, database: "fresh",
                values: ["brokers": broker.bootstrap, "topic": topic, "group": "g-fresh"])
        var pc = FreshnessProbes.Configuration(brokers: broker.bootstrap, topic: topic, port: server.httpPort)
        pc.database = "fresh"
        pc.intervalNanos = 200_000_000
        pc.timeoutNanos = 60_000_000_000
        let probes = try FreshnessProbes(pc)
        try probes.waitUntilFlowing(timeoutNanos: 120_000_000_000)
        let now = SystemClock().wallNanos()
        probes.start(measureFromWall: now, measureToWall: now + 60_000_000_000)
        usleep(3_000_000)
        let r = probes.stop()
        #expect(r.sent >= 5)
        #expect(r.lost == 0)
        #expect(r.seen == r.sent)
        #expect(r.undelivered == 0 && r.lostIDs.isEmpty)
        let h = probes.latencies["freshness.intended"]!
        #expect(h.totalCount == UInt64(r.seen))
        #expect(h.min > 0)
        // Independent check: the probe rows in ClickHouse are the probes sent (ids 1…n, no gaps).
        let n = r.sent + 1
        #expect(
            try server.query("SELECT count(), uniqExact(id), max(id) FROM fresh.k2_probes FORMAT TabSeparated")
                .trimmingCharacters(in: .whitespacesAndNewlines) == "\(n)\t\(n)\t\(n)")

        // A pipeline that drops probes (their view is gone once the engine consumes): the broker
        // acknowledges every probe, ClickHouse never shows them; the result says which were lost
        // and that the broker had them.
        try ClickHouseSchema(path: Self.root + "/reports/workloads/v2-pipeline.sql")
            .run(
                host: "127.0.0.1", port: server.httpPort, database: "drop",
                values: ["brokers": broker.bootstrap, "topic": topic + ".drop", "group": "g-drop"])
        var dc = FreshnessProbes.Configuration(brokers: broker.bootstrap, topic: topic + ".drop", port: server.httpPort)
        dc.database = "drop"
        dc.intervalNanos = 200_000_000
        dc.timeoutNanos = 2_000_000_000
        let dropping = try FreshnessProbes(dc)
        try dropping.waitUntilFlowing(timeoutNanos: 120_000_000_000)
        _ = try server.query("DROP TABLE drop.k2_probes_mv")
        let t = SystemClock().wallNanos()
        dropping.start(measureFromWall: t, measureToWall: t + 60_000_000_000)
        usleep(1_000_000)
        let d = dropping.stop()
        #expect(d.sent >= 3)
        #expect(d.lost == d.sent && d.seen == 0)
        #expect(d.undelivered == 0, "\(d.undeliveredReasons)")
        #expect(d.lostIDs == (2...UInt64(min(d.sent + 1, 11))).map { $0 })
    }

    @Test func schemaErrorsNameTheStatementAndTheServerMessage() throws {
        let server = try ClickHouseServer.start()
        let schema = try ClickHouseSchema(
            path: "bad.sql",
            text:
                "CREATE TABLE ok (x UInt8) ENGINE = MergeTree ORDER BY x;\n-- comment; with a semicolon\nCREATE TABLE bad (x NoSuchType) ENGINE = Memory;"
        )
        #expect(schema.statements.count == 2)
        #expect(throws: ReplayError.self) {
            try schema.run(host: "127.0.0.1", port: server.httpPort, database: "s", values: [:])
        }
        do {
            try schema.run(host: "127.0.0.1", port: server.httpPort, database: "s2", values: [:])
        } catch let e as ReplayError {
            #expect(e.description.contains("bad.sql"))
            #expect(e.description.contains("statement 2"))
            #expect(e.description.contains("NoSuchType"))
        }
    }

    /// `k2 bench run` on a short copy of the shipped v2-pipeline workload: the harness starts
    /// ClickHouse and the broker itself, probes see every probe, and the report has freshness,
    /// rows landed per second in ClickHouse and the consumer's throughput.
    @Test func benchRunOfTheV2PipelineWorkloadMeasuresFreshness() throws {
        let dir = TemporaryDirectory(prefix: "k2-v2-workload")
        var text = try String(contentsOfFile: Self.root + "/reports/workloads/v2-pipeline.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "captures/binance-sample.k2cap", with: Self.root + "/captures/binance-sample.k2cap")
            .replacingOccurrences(
                of: "clickhouse_schema: v2-pipeline.sql", with: "clickhouse_schema: " + Self.root + "/reports/workloads/v2-pipeline.sql"
            )
            .replacingOccurrences(of: "reports/targets/k2-v2.yaml", with: Self.root + "/reports/targets/k2-v2.yaml")
            .replacingOccurrences(of: "sql: queries/", with: "sql: " + Self.root + "/reports/workloads/queries/")
            .replacingOccurrences(of: "warmup: 5s", with: "warmup: 1s")
            .replacingOccurrences(of: "duration: 30s", with: "duration: 4s")
            .replacingOccurrences(of: "rate: 12k", with: "rate: 2k")
            .replacingOccurrences(of: "burst: {rate: 60k, at: 10s, for: 3s}", with: "burst: {rate: 6k, at: 1s, for: 1s}")
            .replacingOccurrences(of: "alone: 10s", with: "alone: 2s")
        let file = dir.file("v2.yaml")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let workload = try WorkloadLoader.load(file: file)
        let out = try WorkloadRun.run(workload)
        let m = out.report.metrics
        #expect(m["latency.freshness.intended.p50"] != nil)
        #expect(m["latency.freshness.actual.p99"] != nil)
        // Under traffic the 18.16 engine lost one probe in one CI run of many (open finding, see
        // docs/pipeline.md); the harness must count and report every lost probe. Zero loss
        // without traffic is asserted in freshnessProbesMeasureEveryProbeThroughThePipeline.
        let lost = m["freshness.probes.lost"]?.value ?? -1
        #expect(lost >= 0 && lost <= 1, "notes: \(out.report.notes)")
        if lost > 0 { #expect(out.report.notes.contains { $0.contains("freshness probes never became visible") }) }
        #expect((m["throughput.clickhouse.rows_per_s"]?.value ?? 0) > 0)
        #expect((m["throughput.consumer.msgs_per_s"]?.value ?? 0) > 0)
        // Per interval: rows landed in ClickHouse and rows behind (the pipeline's backlog).
        let iv = out.report.runs[0].intervals
        #expect(!iv.isEmpty && iv.allSatisfy { $0.landedRows != nil && $0.clickhouseBehind != nil })
        #expect(iv.compactMap(\.landedRows).reduce(0, +) > 0)
        #expect(m["backlog.clickhouse.end.rows"] != nil)
        // Freshness is at least the time from send to visible: never below the publish ack.
        #expect(m["latency.freshness.intended.p50"]!.value >= m["latency.publish.intended.p50"]!.value)
        // The query stage ran while the pipeline ingested: every class answered, none failed.
        for name in ["simple", "complex", "ohlcv", "cold"] {
            #expect((m["queries.\(name).count"]?.value ?? 0) > 0 && m["queries.\(name).errors"]?.value == 0, "\(name): \(out.report.notes)")
            #expect(m["latency.query.\(name).p99"] != nil && m["latency.query_uncorrected.\(name).p99"] != nil)
            // And alone after ingestion (queries.alone, 2 s here).
            #expect(
                (m["queries_alone.\(name).count"]?.value ?? 0) > 0 && m["queries_alone.\(name).errors"]?.value == 0,
                "\(name) alone: \(out.report.notes)")
            #expect(m["latency.query_alone.\(name).p99"] != nil)
        }
        // Storage per layer from system.parts: bronze holds every landed message.
        #expect((m["storage.bronze.rows"]?.value ?? 0) > 0 && (m["storage.gold.bytes_on_disk"]?.value ?? 0) > 0)
        #expect((m["storage.bronze.mb_per_exchange_day"]?.value ?? 0) > 0 && m["compression.capture.ratio"] != nil)
        let v = Verification.verify(out.report, targets: try TargetsLoader.load(file: Self.root + "/reports/targets/k2-v2.yaml"))
        func verdict(_ id: String) -> Verification.Verdict? { v.rows.first { $0.figure.id == id }?.verdict }
        // The burst phase (6k msg/s for 1 s here): judged as the burst figure (6k < 50k), its backlog measured.
        #expect(verdict("burst-throughput") == .fail && m["burst.achieved.peak_msgs_per_s"] != nil)
        #expect(m["burst.backlog.clickhouse.max.rows"] != nil && m["burst.offered.msgs_per_s"]?.value == 6_000)
        #expect(m["burst.catch_up.s"] != nil || out.report.notes.contains { $0.contains("had not caught up") })
        // Availability (probes visible within their timeout / sent) is the uptime figure; the soak's is not tested here.
        let availability = m["availability.probes.percent"]?.value ?? -1
        #expect(availability >= 0 && availability <= 100 && verdict("uptime") == .info && verdict("soak-uptime") == .notMeasured)
        // A failing ingestion latency says where the time goes.
        for row in v.rows where row.verdict == .fail && (row.metric ?? "").hasPrefix("latency.freshness") {
            #expect(row.breakdown?.contains("broker to queryable (freshness − end to end)") == true, "\(row)")
        }
        #expect(v.rows.first { $0.figure.id == "ws-to-queryable" }?.measured != nil)
        #expect(verdict("services") == .pass && verdict("scale-target") == .extrapolated && verdict("spark-cpu") == .notApplicable)
        for id in ["query-simple", "query-complex", "query-ohlcv", "storage-bronze", "storage-silver", "storage-gold", "compression"] {
            #expect(verdict(id) == .info, "\(id)")
        }
        #expect(verdict("l3-cold-path") == .pass || verdict("l3-cold-path") == .fail)
    }
}
