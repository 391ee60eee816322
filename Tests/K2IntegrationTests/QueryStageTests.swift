import Foundation
import K2Core
import K2TestSupport
import Testing

@testable import K2Bench

/// The query stage against a real ClickHouse server: open-loop classes with their rates, rows
/// and failures (ClickHouse's message, empty results), seeded parameters, and why open loop
/// matters: a server paused for a second shows in the latency from the intended start and not
/// in the latency from the actual start.
@Suite(.serialized)
struct QueryStageTests {
    /// A server with `q.trades`: 3 symbols × 100 trades, one a second from 1,700,000,000,000 ms.
    static func serverWithTrades() throws -> ClickHouseServer {
        let server = try ClickHouseServer.start()
        try server.query("CREATE DATABASE q")
        try server.query(
            "CREATE TABLE q.trades (symbol String, exchange_timestamp_ms UInt64, price Float64) ENGINE = MergeTree ORDER BY (symbol, exchange_timestamp_ms)"
        )
        let rows = (0..<300).map { i in "('\(["BTCUSDT", "ETHUSDT", "SOLUSDT"][i % 3])', \(1_700_000_000_000 + UInt64(i / 3) * 1000), \(100 + i))" }
        try server.query("INSERT INTO q.trades VALUES " + rows.joined(separator: ","))
        return server
    }

    static func sqlFile(_ dir: TemporaryDirectory, _ name: String, _ text: String) throws -> String {
        let path = dir.file(name + ".sql")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `queries` for `seconds` from now + 200 ms; `during` runs on this thread meanwhile.
    static func run(
        _ server: ClickHouseServer, _ queries: Workload.Queries, seconds: Double,
        during: () -> Void = {}
    ) throws -> (classes: [QueryStage.ClassResult], error: String?) {
        let stage = try QueryStage(.init(host: "127.0.0.1", port: server.httpPort, database: "q", queries: queries))
        let now = SystemClock().wallNanos()
        stage.start(measureFromWall: now + 200_000_000, measureToWall: now + 200_000_000 + Int64(seconds * 1e9))
        during()
        usleep(UInt32(200_000 + seconds * 1e6))
        return stage.stop()
    }

    @Test func classesRunAtTheirRatesCountRowsAndFailWithClickHousesMessage() throws {
        let server = try Self.serverWithTrades()
        let dir = TemporaryDirectory(prefix: "k2-queries")
        var queries = Workload.Queries()
        queries.concurrency = 2
        queries.classes = [
            // Latest 5 trades of the drawn symbol: 5 rows each.
            Workload.QueryClass(
                name: "latest",
                sql: try Self.sqlFile(
                    dir, "latest", "-- latest\nSELECT price FROM trades WHERE symbol = '{symbol}' ORDER BY exchange_timestamp_ms DESC LIMIT 5;"),
                rate: 20),
            // The drawn range holds the window's trades of the symbol: never empty.
            Workload.QueryClass(
                name: "range",
                sql: try Self.sqlFile(
                    dir, "range",
                    "SELECT count() FROM trades WHERE symbol = '{symbol}' AND exchange_timestamp_ms BETWEEN {from_ms} AND {to_ms} HAVING count() > 0"),
                rate: 10),
            Workload.QueryClass(name: "broken", sql: try Self.sqlFile(dir, "broken", "SELECT * FROM no_such_table"), rate: 5),
            Workload.QueryClass(name: "empty", sql: try Self.sqlFile(dir, "empty", "SELECT price FROM trades WHERE symbol = 'NOPE'"), rate: 5),
        ]
        queries.classes[1].windowNanos = 10_000_000_000
        let (classes, error) = try Self.run(server, queries, seconds: 2)
        #expect(error == nil)
        let byName = Dictionary(uniqueKeysWithValues: classes.map { ($0.name, $0) })
        // Open loop over 2 s: 40, 20, 10, 10 queries due (the last may fall on the edge).
        let latest = try #require(byName["latest"])
        #expect((39...40).contains(latest.succeeded + latest.failed + latest.notStarted))
        #expect(latest.failed == 0, "\(latest.failures)")
        #expect(latest.rows == 5 * latest.succeeded)
        #expect(latest.corrected.totalCount == UInt64(latest.succeeded))
        // From the intended start is never shorter than from the actual start.
        #expect(latest.corrected.max >= latest.uncorrected.max && latest.corrected.min >= latest.uncorrected.min)
        let range = try #require(byName["range"])
        #expect(range.failed == 0, "\(range.failures)")
        #expect(range.succeeded >= 10 && range.rows == range.succeeded)
        let broken = try #require(byName["broken"])
        #expect(broken.succeeded == 0 && broken.failed >= 5)
        #expect(broken.failures.count == 1)
        #expect(broken.failures.first?.contains("no_such_table") == true && broken.failures.first?.contains("HTTP 404") == true, "\(broken.failures)")
        let empty = try #require(byName["empty"])
        #expect(empty.succeeded == 0 && empty.failed >= 5)
        #expect(empty.failures.first?.hasPrefix("empty result: SELECT price FROM trades WHERE symbol = 'NOPE'") == true, "\(empty.failures)")

        // The report's figures: latency per class from both starts, counts, and a note per failing class.
        let figures = QueryStage.figures(classes, error: nil)
        #expect(figures.latencies["query.latest"]?.totalCount == UInt64(latest.succeeded))
        #expect(figures.latencies["query_uncorrected.latest"] != nil)
        #expect(figures.latencies["query.broken"] == nil)
        #expect(figures.metrics["queries.latest.rows"]?.value == Double(latest.rows))
        #expect(figures.metrics["queries.broken.errors"]?.value == Double(broken.failed))
        #expect(
            figures.notes.contains {
                $0.hasPrefix("query class broken: \(broken.failed) of \(broken.failed) queries failed: ") && $0.contains("no_such_table")
            })
        #expect(figures.notes.contains { $0.hasPrefix("query class empty: ") && $0.contains("empty result") })
    }

    /// `protocol: native`: the same classes over ClickHouse's native protocol count the same
    /// rows and fail with ClickHouse's exception text; a native port nobody listens on is a
    /// setup error that says what to do.
    @Test func theNativeProtocolCountsRowsAndKeepsClickHousesMessage() throws {
        let server = try Self.serverWithTrades()
        let dir = TemporaryDirectory(prefix: "k2-queries-native")
        var queries = Workload.Queries()
        queries.protocol = .native
        queries.concurrency = 2
        queries.classes = [
            Workload.QueryClass(
                name: "latest",
                sql: try Self.sqlFile(
                    dir, "latest", "SELECT price FROM trades WHERE symbol = '{symbol}' ORDER BY exchange_timestamp_ms DESC LIMIT 5"),
                rate: 20),
            Workload.QueryClass(name: "broken", sql: try Self.sqlFile(dir, "broken", "SELECT * FROM no_such_table"), rate: 5),
        ]
        var configuration = QueryStage.Configuration(host: "127.0.0.1", port: server.httpPort, database: "q", queries: queries)
        configuration.nativePort = server.tcpPort
        let stage = try QueryStage(configuration)
        let now = SystemClock().wallNanos()
        stage.start(measureFromWall: now + 200_000_000, measureToWall: now + 1_700_000_000)
        usleep(1_700_000)
        let (classes, error) = stage.stop()
        #expect(error == nil)
        let latest = try #require(classes.first { $0.name == "latest" })
        // 1.5 s at 20/s: 30 intended starts (the last may fall on the edge).
        #expect((29...31).contains(latest.succeeded + latest.failed + latest.notStarted))
        #expect(latest.succeeded > 0 && latest.failed == 0 && latest.rows == 5 * latest.succeeded, "\(latest.failures)")
        let broken = try #require(classes.first { $0.name == "broken" })
        #expect(broken.succeeded == 0 && broken.failed > 0)
        #expect(
            broken.failures.first?.hasPrefix("statement failed: Code: 60. DB::Exception: Table q.no_such_table doesn't exist") == true,
            "\(broken.failures)")

        configuration.nativePort = FreePort.next()
        let refused = try QueryStage(configuration)
        let later = SystemClock().wallNanos()
        refused.start(measureFromWall: later + 100_000_000, measureToWall: later + 600_000_000)
        usleep(600_000)
        let (_, refusedError) = refused.stop()
        #expect(
            refusedError?.contains("ClickHouse's native protocol did not answer at 127.0.0.1:\(configuration.nativePort): Connection refused")
                == true, "\(refusedError ?? "no error")")
        #expect(refusedError?.contains("tcp_port") == true)
    }

    /// A workload's `queries:` over the native protocol as a user with a password given in the
    /// URL: the parameters (HTTP) and the queries (native) log in as that user, and the password
    /// shows nowhere in the report.
    @Test func aWorkloadsNativeQueriesLogInWithTheURLsUserAndPassword() throws {
        let server = try ClickHouseServer.start(users: ["k2q": "pw-q-4711"])
        try server.query("CREATE DATABASE q")
        try server.query("CREATE TABLE q.trades (symbol String, exchange_timestamp_ms UInt64, price Float64) ENGINE = MergeTree ORDER BY symbol")
        try server.query("INSERT INTO q.trades VALUES ('BTCUSDT', 1700000000000, 100), ('BTCUSDT', 1700000001000, 101)")
        let dir = TemporaryDirectory(prefix: "k2-queries-user")
        let sql = try Self.sqlFile(dir, "who", "SELECT price FROM trades WHERE symbol = '{symbol}'")
        let file = dir.file("w.yaml")
        try """
        source: {captures: [\(PipelineTests.root)/captures/binance-sample.k2cap]}
        rate: 1k
        warmup: 500ms
        duration: 1s
        sinks: [mock://]
        queries:
          clickhouse: http://k2q:pw-q-4711@127.0.0.1:\(server.httpPort)
          protocol: native
          native_port: \(server.tcpPort)
          database: q
          classes:
            who: {sql: \(sql), rate: 10}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let progress = QueryStageProgressLines()
        let out = try WorkloadRun.run(try WorkloadLoader.load(file: file), progress: { progress.append($0) })
        let m = out.report.metrics
        #expect((m["queries.who.count"]?.value ?? 0) >= 5 && m["queries.who.errors"]?.value == 0, "\(out.report.notes)")
        #expect(m["queries.who.rows"]?.value == 2 * (m["queries.who.count"]?.value ?? 0))
        #expect(progress.all.contains { $0.contains("native protocol on port \(server.tcpPort)") }, "\(progress.all)")
        let json = String(decoding: try JSONEncoder().encode(out.report), as: UTF8.self)
        #expect(!json.contains("pw-q-4711") && !progress.all.joined().contains("pw-q-4711"))
    }

    /// Version guards in a query file: only the statements for the server's version (18.16
    /// here) run; the one guarded for current releases would fail on 18.16 (no such column). A
    /// class with no statement for the server is a setup error that names it.
    @Test func queryFilesPickTheirStatementsByTheServersVersion() throws {
        let server = try Self.serverWithTrades()
        let dir = TemporaryDirectory(prefix: "k2-queries-versions")
        var queries = Workload.Queries()
        queries.classes = [
            Workload.QueryClass(
                name: "guarded",
                sql: try Self.sqlFile(
                    dir, "guarded",
                    """
                    -- k2: clickhouse < 19.14
                    SELECT price FROM trades WHERE symbol = '{symbol}' LIMIT 2;
                    -- k2: clickhouse >= 19.14
                    SELECT only_on_current_releases FROM trades;
                    SELECT price FROM trades WHERE symbol = '{symbol}' LIMIT 2
                    """), rate: 20)
        ]
        let (classes, error) = try Self.run(server, queries, seconds: 1)
        #expect(error == nil)
        let guarded = try #require(classes.first)
        #expect(guarded.succeeded >= 18 && guarded.failed == 0 && guarded.rows == 2 * guarded.succeeded, "\(guarded.failures)")

        queries.classes = [Workload.QueryClass(name: "future", sql: try Self.sqlFile(dir, "future", "-- k2: clickhouse >= 99\nSELECT 1"), rate: 5)]
        let (_, futureError) = try Self.run(server, queries, seconds: 0.5)
        #expect(futureError?.contains("query class 'future' has no statement for ClickHouse 18.16") == true, "\(futureError ?? "no error")")
    }

    @Test func parametersAreDrawnFromTheLandedRowsAndSeeded() throws {
        let server = try Self.serverWithTrades()
        let dir = TemporaryDirectory(prefix: "k2-queries")
        var queries = Workload.Queries()
        queries.classes = [
            Workload.QueryClass(
                name: "c",
                sql: try Self.sqlFile(
                    dir, "c",
                    "SELECT 1 FROM trades WHERE symbol = '{symbol}' AND exchange_timestamp_ms >= {from_ms} AND exchange_timestamp_ms <= {to_ms} LIMIT 1;\nSELECT '{symbol}', {from_s}, {to_s}"
                ), rate: 1)
        ]
        queries.classes[0].windowNanos = 20_000_000_000
        let stage = try QueryStage(.init(host: "127.0.0.1", port: server.httpPort, database: "q", queries: queries))
        let ranges = try stage.drawParameters(deadline: SystemClock().monotonicNanos() + 10_000_000_000)
        #expect(
            ranges
                == ["BTCUSDT", "ETHUSDT", "SOLUSDT"].map { QueryStage.SymbolRange(symbol: $0, firstMs: 1_700_000_000_000, lastMs: 1_700_000_099_000) }
        )
        let loaded = stage.classes[0]
        let first = (0..<50).map { QueryStage.statement(loaded, classIndex: 0, index: $0, seed: 7, parameters: ranges) }
        #expect(first == (0..<50).map { QueryStage.statement(loaded, classIndex: 0, index: $0, seed: 7, parameters: ranges) })
        #expect(first != (0..<50).map { QueryStage.statement(loaded, classIndex: 0, index: $0, seed: 8, parameters: ranges) })
        // Both shapes and every symbol are drawn; every range is 20 s inside the landed rows.
        #expect(Set(first.map { $0.prefix(8) }).count == 2)
        #expect(Set(first.compactMap { s in ranges.first { s.contains("'\($0.symbol)'") }?.symbol }).count == 3)
        for sql in first where sql.hasPrefix("SELECT 1") {
            let numbers = sql.split(whereSeparator: { !$0.isNumber }).compactMap { UInt64($0) }.filter { $0 > 1_000_000_000_000 }
            #expect(
                numbers.count == 2 && numbers[1] - numbers[0] == 20_000 && numbers[0] >= 1_700_000_000_000 && numbers[1] <= 1_700_000_099_000,
                "\(sql)")
            #expect(try server.query(sql.replacingOccurrences(of: "FROM trades", with: "FROM q.trades")).hasPrefix("1"), "\(sql)")
        }
    }

    /// wrk2's point, measured: `clickhouse-server` stopped (SIGSTOP) for a little over a second
    /// in a 3 s run at 50 queries/s, one query in flight at most. The ~50 queries due during the
    /// pause wait for it; from their intended starts their latencies spread from the pause's
    /// length down to 0, so the top 1 % (the 2 highest of ~150) are at least the pause minus
    /// 2 × 20 ms: the corrected p99 is ≥ 1 s. From the actual start only the one query sent into
    /// the stopped server waited (≤ 1 % of the samples): the uncorrected p99 stays far below.
    @Test func aServerPauseShowsInTheCorrectedP99AndNotInTheUncorrected() throws {
        let server = try Self.serverWithTrades()
        let dir = TemporaryDirectory(prefix: "k2-queries")
        var queries = Workload.Queries()
        queries.concurrency = 1
        queries.classes = [
            Workload.QueryClass(
                name: "point",
                sql: try Self.sqlFile(dir, "point", "SELECT price FROM trades WHERE symbol = '{symbol}' ORDER BY exchange_timestamp_ms DESC LIMIT 1"),
                rate: 50)
        ]
        let pid = server.pid
        let (classes, error) = try Self.run(server, queries, seconds: 3) {
            usleep(1_200_000)
            kill(pid, SIGSTOP)
            usleep(1_050_000)
            kill(pid, SIGCONT)
        }
        #expect(error == nil)
        let point = try #require(classes.first)
        #expect(point.failed == 0, "\(point.failures)")
        #expect(point.succeeded >= 140)
        let corrected = Double(point.corrected.valueAtPercentile(99)) / 1e9
        let uncorrected = Double(point.uncorrected.valueAtPercentile(99)) / 1e9
        #expect(corrected >= 1.0, "corrected p99 \(corrected) s")
        #expect(uncorrected < 0.5, "uncorrected p99 \(uncorrected) s")
        // The stalled query itself is in both maxima.
        #expect(Double(point.uncorrected.max) / 1e9 >= 0.5)
    }

    /// `k2 bench run` with a `queries:` section pointed at a ClickHouse of its own (`clickhouse`,
    /// `database`) and a `mock://` sink: the harness starts no embedded server, the queries run in
    /// the measured window and land in the report.
    @Test func aWorkloadsQueriesRunAgainstTheClickHouseItNames() throws {
        let server = try Self.serverWithTrades()
        let dir = TemporaryDirectory(prefix: "k2-queries")
        let sql = try Self.sqlFile(dir, "latest", "SELECT price FROM trades WHERE symbol = '{symbol}' ORDER BY exchange_timestamp_ms DESC LIMIT 3")
        let root = PipelineTests.root
        let file = dir.file("w.yaml")
        try """
        source: {captures: [\(root)/captures/binance-sample.k2cap]}
        rate: 1k
        warmup: 500ms
        duration: 2s
        sinks: [mock://]
        queries:
          clickhouse: \(server.httpURL)
          database: q
          classes:
            latest: {sql: \(sql), rate: 10}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let progress = QueryStageProgressLines()
        let out = try WorkloadRun.run(try WorkloadLoader.load(file: file), progress: { progress.append($0) })
        #expect(!progress.all.contains { $0.contains("embedded ClickHouse") }, "\(progress.all)")
        let m = out.report.metrics
        #expect((m["queries.latest.count"]?.value ?? 0) >= 15 && m["queries.latest.errors"]?.value == 0, "\(out.report.notes)")
        #expect(m["queries.latest.rows"]?.value == 3 * (m["queries.latest.count"]?.value ?? 0))
        #expect(m["latency.query.latest.p99"] != nil && m["services.count"] == nil)
    }

    /// `queries.alone`: after the replay stops, the classes run again for that long with no
    /// ingestion, with figures of their own (`queries_alone.*`, `latency.query_alone.*`) next to
    /// those while ingesting; a failing class fails there too, with ClickHouse's message.
    @Test func queriesAloneRunAfterIngestionWithFiguresOfTheirOwn() throws {
        let server = try Self.serverWithTrades()
        let dir = TemporaryDirectory(prefix: "k2-queries-alone")
        let sql = try Self.sqlFile(dir, "latest", "SELECT price FROM trades WHERE symbol = '{symbol}' ORDER BY exchange_timestamp_ms DESC LIMIT 3")
        let bad = try Self.sqlFile(dir, "bad", "SELECT no_such_column FROM trades")
        let file = dir.file("w.yaml")
        try """
        source: {captures: [\(PipelineTests.root)/captures/binance-sample.k2cap]}
        rate: 1k
        warmup: 500ms
        duration: 1s
        sinks: [mock://]
        queries:
          clickhouse: \(server.httpURL)
          database: q
          alone: 1500ms
          classes:
            latest: {sql: \(sql), rate: 10}
            bad: {sql: \(bad), rate: 2}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let progress = QueryStageProgressLines()
        let out = try WorkloadRun.run(try WorkloadLoader.load(file: file), progress: { progress.append($0) })
        let m = out.report.metrics
        // While ingesting: 1 s at 10/s; alone: 1.5 s at 10/s = 15 intended starts.
        let mixed = m["queries.latest.count"]?.value ?? 0
        let alone = m["queries_alone.latest.count"]?.value ?? 0
        #expect(mixed >= 8 && mixed <= 11, "\(out.report.notes)")
        #expect(alone >= 13 && alone <= 16 && m["queries_alone.latest.errors"]?.value == 0, "\(out.report.notes)")
        #expect(m["queries_alone.latest.rows"]?.value == 3 * alone)
        #expect(m["latency.query_alone.latest.p99"] != nil && m["latency.query_alone_uncorrected.latest.p99"] != nil)
        #expect(m["latency.query.latest.p99"] != nil)
        #expect((m["queries_alone.bad.errors"]?.value ?? 0) >= 2 && m["queries_alone.bad.count"]?.value == 0)
        #expect(
            out.report.notes.contains { $0.contains("query class bad alone after ingestion:") && $0.contains("no_such_column") },
            "\(out.report.notes)")
        #expect(progress.all.contains { $0.hasPrefix("queries alone after ingestion for 1.50s") }, "\(progress.all)")
        let markdown = ReportMarkdown.render(out.report)
        #expect(markdown.contains("Queries alone after ingestion (open loop)") && markdown.contains("Queries while ingesting (open loop)"))
    }
}

/// Progress lines collected from another thread.
final class QueryStageProgressLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
