import Foundation
import K2Capture
import K2TestSupport
import Testing

@testable import K2Bench

/// The workload keys and verdict rows of the whole verdict: `queries:` and `storage:` sections,
/// storage per layer and per exchange-day, and the "not applicable to v2" and "extrapolated" rows.
@Suite struct WholeVerdictTests {
    static let root = TargetsTests.repoRoot

    @Test func shippedV2PipelineHasQueriesAndStorage() throws {
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(Self.root)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        let workload = try WorkloadLoader.load(file: "reports/workloads/v2-pipeline.yaml")
        let queries = try #require(workload.queries)
        #expect(queries.classes.map(\.name) == ["simple", "complex", "ohlcv", "cold"])
        #expect(queries.classes.allSatisfy { FileManager.default.fileExists(atPath: $0.sql) && $0.rate > 0 })
        #expect(queries.concurrency == 4 && queries.seed == 1 && queries.parametersFrom == "trades" && queries.aloneNanos == 10_000_000_000)
        let storage = try #require(workload.storage)
        #expect(
            storage.layers == [
                .init(name: "bronze", tables: ["bronze"]), .init(name: "silver", tables: ["trades"]),
                .init(name: "gold", tables: ["ohlcv_1m_agg", "ohlcv_1h_agg"]),
            ])
        #expect(storage.messagesTable == "bronze" && storage.messagesPerDay.isEmpty)
    }

    @Test func queriesAndStorageKeysAreReadStrictly() throws {
        let tmp = TemporaryDirectory()
        let sql = tmp.file("s.sql")
        try "SELECT 1".write(toFile: sql, atomically: true, encoding: .utf8)
        let text = """
            source: {profile: calm}
            queries:
              concurrency: 2
              seed: 9
              parameters_from: silver
              database: db
              timeout: 5s
              alone: 10s
              classes:
                simple: {sql: \(sql), rate: 20, window: 10m}
            storage:
              layers: {bronze: [raw], gold: [a, b]}
              messages_table: raw
              messages_per_day: {binance: 43.6M, kraken: 1_000_000}
            """
        let workload = try WorkloadLoader.parse(text, file: tmp.file("w.yaml"))
        let queries = try #require(workload.queries)
        #expect(
            queries.concurrency == 2 && queries.seed == 9 && queries.parametersFrom == "silver" && queries.database == "db"
                && queries.timeoutNanos == 5_000_000_000)
        #expect(queries.aloneNanos == 10_000_000_000 && Workload.Queries().aloneNanos == 0)
        var expected = Workload.QueryClass(name: "simple", sql: sql, rate: 20)
        expected.windowNanos = 600_000_000_000
        #expect(queries.classes == [expected])
        #expect(workload.storage?.messagesPerDay == ["binance": 43_600_000, "kraken": 1_000_000])
        #expect(workload.storage?.layers.map(\.name) == ["bronze", "gold"] && workload.storage?.messagesTable == "raw")

        func expectError(_ yaml: String, _ contains: String) {
            do {
                _ = try WorkloadLoader.parse("source: {profile: calm}\n" + yaml, file: "w.yaml")
                Issue.record("no error for \(contains)")
            } catch {
                #expect(error.description.hasPrefix("w.yaml:") && error.description.contains(contains), "\(error)")
            }
        }
        expectError("queries: {classes: {simple: {sql: \(sql), rat: 2}}}\n", "unknown key 'queries.classes.simple.rat'")
        expectError("queries: {classes: {simple: {sql: \(sql)}}}\n", "rate")
        expectError("queries: {classes: {simple: {sql: nope.sql, rate: 1}}}\n", "SQL file 'nope.sql' does not exist")
        expectError("queries: {classes: {sim-ple: {sql: \(sql), rate: 1}}}\n", "is not a class name")
        expectError("queries: {concurrency: 0, classes: {simple: {sql: \(sql), rate: 1}}}\n", "must be between 1 and 256")
        expectError("queries: {seed: 1}\n", "classes")
        expectError("queries: {alone: soon, classes: {simple: {sql: \(sql), rate: 1}}}\n", "alone")
        expectError("storage: {layers: {bronze: [x]}, messages_per_day: {binance: lots}}\n", "is not a number of messages per day")
        expectError("storage: {layer: {bronze: [x]}}\n", "unknown key 'storage.layer'")
    }

    @Test func storagePerLayerPerExchangeDayAndCompression() {
        var storage = Workload.Storage()
        storage.layers = [
            .init(name: "bronze", tables: ["bronze"]), .init(name: "gold", tables: ["m", "h"]), .init(name: "silver", tables: ["gone"]),
        ]
        let tables = [
            StorageAccounting.TableSize(table: "bronze", rows: 1_000, bytesOnDisk: 50_000, compressedBytes: 40_000, uncompressedBytes: 200_000),
            StorageAccounting.TableSize(table: "m", rows: 10, bytesOnDisk: 3_000, compressedBytes: 1_000, uncompressedBytes: 2_000),
            StorageAccounting.TableSize(table: "h", rows: 1, bytesOnDisk: 2_000, compressedBytes: 500, uncompressedBytes: 1_000),
        ]
        let (metrics, notes) = StorageAccounting.metrics(
            tables: tables, storage: storage, messagesPerDay: ["binance": 40_000_000, "kraken": 10_000_000],
            captureRatio: 6.8)
        #expect(metrics["storage.bronze.bytes_per_message"]?.value == 50)
        // 50 B × 40M messages/day = 2,000 MB/day for the largest exchange.
        #expect(metrics["storage.bronze.mb_per_exchange_day"]?.value == 2_000)
        #expect(metrics["storage.bronze.kraken.mb_per_day"]?.value == 500)
        #expect(metrics["storage.gold.bytes_on_disk"]?.value == 5_000 && metrics["storage.gold.rows"]?.value == 11)
        #expect(metrics["storage.gold.mb_per_exchange_day"]?.value == 200)
        #expect(metrics["compression.bronze.ratio"]?.value == 5 && metrics["compression.gold.ratio"]?.value == 2)
        #expect(metrics["compression.capture.ratio"]?.value == 6.8)
        #expect(metrics["storage.table.h.rows"]?.value == 1)
        #expect(metrics["storage.silver.bytes_on_disk"] == nil)
        #expect(notes.contains("storage: layer silver: no active parts for gone"))
        #expect(
            notes.contains {
                $0.hasPrefix(
                    "storage per exchange per day = bytes on disk per message landed (1000 in bronze) × the source capture's messages per day at its recorded rate"
                )
            })
    }

    @Test func storageMessagesPerDayComeFromTheCapturesRecordedRate() throws {
        let tmp = TemporaryDirectory()
        let path = tmp.file("c.k2cap")
        // 1,000 messages, a gap of 0…2 ms each: about 1 s of capture.
        let records = try SampleTraffic().write(to: path, count: 1_000)
        let recv = records.filter { $0.kind == .recv }
        let span = Double(recv.last!.timestamp - records.first!.timestamp) / 1e9
        let perDay = try StorageAccounting.messagesPerDay(captures: [path])
        #expect(perDay.keys.sorted() == ["binance"])
        #expect(abs(perDay["binance"]! - Double(recv.count) / span * 86_400) / perDay["binance"]! < 1e-9)
        #expect((try StorageAccounting.captureRatio(captures: [path]) ?? 0) > 1)
    }

    @Test func notApplicableAndExtrapolatedRowsAreApartFromNotMeasured() throws {
        let targets = try TargetsLoader.load(file: Self.root + "/reports/targets/k2-v2.yaml")
        var run = Fixture.run(index: 0, latencies: [:], rate: 12_000, cores: 0.5)
        run.metrics["resources.total.cpu_us_per_msg"] = .init(value: 60, unit: "us", better: .lower)
        run.metrics["services.count"] = .init(value: 3, unit: "services", better: .lower)
        let verification = Verification.verify(try Fixture.report([run]), targets: targets)
        func row(_ id: String) -> Verification.Row { verification.rows.first { $0.figure.id == id }! }
        for id in ["iceberg-write-overhead", "spark-cpu", "spark-ram"] {
            #expect(row(id).verdict == .notApplicable)
            #expect(row(id).measuredText.hasPrefix("– (v2 "))
        }
        // 60 µs per message × 1M msg/s = 60 cores = 4 nodes of 16.
        let scale = row("scale-target")
        #expect(scale.verdict == .extrapolated && scale.metric == "resources.total.cpu_us_per_msg")
        #expect(
            scale.measuredText.hasPrefix("1,000,000 msg/s ≈ 60 cores ≈ 4 node(s) of 16 cores (linear in resources.total.cpu_us_per_msg = 60 µs/msg"))
        #expect(row("services").verdict == .pass && row("services").measured == 3)
        #expect(row("uptime").verdict == .notMeasured)
        let md = verification.markdown(includeUnmeasured: false)
        #expect(md.contains("| Iceberg write overhead p99 | 200 ms (002) | – | – (v2 ingests into ClickHouse MergeTree;"))
        #expect(md.contains("| not applicable to v2 | – |"))
        #expect(md.contains("| extrapolated | – |"))
        #expect(!md.contains("| uptime |"))
        #expect(ReportHTML.render(try Fixture.report([run]), verification: verification).contains("≈ 60 cores ≈ 4 node(s) of 16 cores"))
    }

    @Test func extrapolationNeedsABoundAndPositiveNodeCores() {
        let head = "documents: [{id: \"000\", file: a, title: A}]\nfigures:\n  - id: s\n    unit: msg/s\n"
        #expect(throws: BenchError.self) { try TargetsLoader.parse(head + "    extrapolated_by: [x]\n", file: "t.yaml") }
        #expect(throws: BenchError.self) {
            try TargetsLoader.parse(
                head + "    extrapolated_by: [x]\n    node_cores: 0\n    v2: {bound: \">= 1\", source: \"000\"}\n", file: "t.yaml")
        }
    }
}

/// report.md and report.html show the query classes and the storage layers as tables.
@Suite struct ReportStagesTests {
    @Test func queryClassesAndStorageLayersAreTabled() throws {
        var run = Fixture.run(
            index: 0,
            latencies: [
                "query.simple": Fixture.histogram([(40_000_000, 99), (900_000_000, 1)]),
                "query_uncorrected.simple": Fixture.histogram([(30_000_000, 100)]),
            ], rate: 1_000, cores: 1)
        run.metrics["queries.simple.count"] = .init(value: 100, unit: "queries", better: .higher)
        run.metrics["queries.simple.errors"] = .init(value: 2, unit: "queries", better: .lower)
        run.metrics["queries.simple.rows"] = .init(value: 5_000, unit: "rows", better: .higher)
        for (name, value) in [
            ("storage.bronze.rows", 1_000.0), ("storage.bronze.bytes_on_disk", 2_000_000), ("storage.bronze.compressed_bytes", 1_000_000),
            ("storage.bronze.uncompressed_bytes", 7_000_000), ("compression.bronze.ratio", 7), ("storage.bronze.bytes_per_message", 2_000),
            ("storage.bronze.mb_per_exchange_day", 1_163), ("storage.table.bronze.bytes_on_disk", 2_000_000), ("compression.capture.ratio", 6.8),
        ] {
            run.metrics[name] = .init(value: value, unit: "B", better: .lower)
        }
        let report = try Fixture.report([run])
        let md = ReportMarkdown.render(report)
        #expect(md.contains("### Queries while ingesting (open loop)"))
        #expect(md.contains("| simple | 100 | 2 | 5,000 | 40.01 | 40.01 | 30.02 |"), "\(md)")
        #expect(md.contains("### Storage per layer (system.parts, last repetition); the source capture's zstd ratio: 6.8"))
        #expect(md.contains("| bronze | 1,000 | 2 | 1 | 7 | 7 | 2,000 | 1,163 |"))
        #expect(!md.contains("| table |"))
        let html = ReportHTML.render(report)
        #expect(html.contains("<h2>Queries while ingesting (open loop)</h2>") && html.contains("<td>1,163</td>"))
        #expect(!ReportMarkdown.render(try Fixture.report([Fixture.run(index: 0, latencies: [:], rate: 1, cores: 1)])).contains("### Storage"))
    }
}
