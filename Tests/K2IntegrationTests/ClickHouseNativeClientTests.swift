import Foundation
import K2Core
import K2Replay
import K2TestSupport
import Testing

@testable import K2Bench

/// k2's native-protocol client against a real ClickHouse server (18.16): the rows of every
/// shipped query class equal what clickhouse-client (ClickHouse's own client, an independent
/// implementation of the protocol) returns; the value types the query sets return step over
/// correctly across many blocks; server exceptions keep ClickHouse's text; one connection serves
/// query after query; a refused connection and a wrong port say what to do.
@Suite(.serialized)
struct ClickHouseNativeClientTests {
    /// A server with the v2 pipeline's schema in database `nat` and 3 symbols × 200 trades, one
    /// every 20 s of exchange time from 1,700,000,000,000 ms (~67 minutes: two hours of candles),
    /// inserted into trades_mv (on 18.16 that fires the gold views) and as raw messages into bronze.
    static func serverWithV2Data() throws -> ClickHouseServer {
        let server = try ClickHouseServer.start()
        try ClickHouseSchema(path: PipelineTests.root + "/reports/workloads/v2-pipeline.sql")
            .run(
                host: "127.0.0.1", port: server.httpPort, database: "nat",
                values: ["brokers": "127.0.0.1:\(FreePort.next())", "topic": "k2.native.test", "group": "g-native"])
        var trades: [String] = []
        var raw: [String] = []
        for index in 0..<600 {
            let symbol = ["BTCUSDT", "ETHUSDT", "SOLUSDT"][index % 3]
            let ms = 1_700_000_000_000 + UInt64(index / 3) * 20_000
            let price = 100 + Double(index % 37)
            trades.append("('\(symbol)', 'binance', \(ms), \(price), 0.5, '\(index % 2 == 0 ? "buy" : "sell")', \(index))")
            let message =
                "{\"stream\":\"\(symbol.lowercased())@trade\",\"data\":{\"e\":\"trade\",\"E\":\(ms),\"s\":\"\(symbol)\",\"t\":\(index),\"p\":\"\(price)\",\"q\":\"0.5\",\"T\":\(ms),\"m\":true}}"
            raw.append("('\(symbol.lowercased())@trade', '\(message)', now())")
        }
        try server.query("INSERT INTO nat.trades_mv VALUES " + trades.joined(separator: ","))
        try server.query("INSERT INTO nat.bronze VALUES " + raw.joined(separator: ","))
        return server
    }

    /// The rows clickhouse-client returns for `sql` in database `nat` (TabSeparated lines).
    static func clickhouseClientRows(_ server: ClickHouseServer, _ sql: String) throws -> Int {
        let file = server.directory.file("native-\(UInt32.random(in: 0...UInt32.max)).sql")
        try sql.write(toFile: file, atomically: false, encoding: .utf8)
        defer { unlink(file) }
        let output = try Shell.run("clickhouse-client --port \(server.tcpPort) --database nat --format TabSeparated < '\(file)'")
        return output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().count
    }

    @Test func rowsOfEveryShippedQueryClassEqualClickHouseClients() throws {
        let server = try Self.serverWithV2Data()
        let directory = PipelineTests.root + "/reports/workloads/queries/v2"
        var queries = Workload.Queries()
        queries.classes = ["simple", "complex", "ohlcv", "cold"].map {
            Workload.QueryClass(name: $0, sql: "\(directory)/\($0).sql", rate: 1)
        }
        let stage = try QueryStage(.init(host: "127.0.0.1", port: server.httpPort, database: "nat", queries: queries))
        let ranges = try stage.drawParameters(deadline: SystemClock().monotonicNanos() + 30_000_000_000)
        #expect(ranges.count == 3)
        let native = ClickHouseNativeClient(host: "127.0.0.1", port: server.tcpPort, place: "test", database: "nat")
        var statements = 0
        for (classIndex, loaded) in stage.classes.enumerated() {
            // Every statement of the class, with 3 draws of its parameters each.
            for entry in loaded.entries {
                let shape = QueryStage.LoadedClass(spec: loaded.spec, entries: [entry])
                for index in 0..<3 {
                    let sql = QueryStage.statement(shape, classIndex: classIndex, index: index, seed: 3, parameters: ranges)
                    let rows = try native.query(sql).rows
                    #expect(rows > 0, "\(loaded.spec.name): \(sql)")
                    #expect(rows == (try Self.clickhouseClientRows(server, sql)), "\(loaded.spec.name): \(sql)")
                }
                statements += 1
            }
        }
        #expect(statements == 6)
        #expect(native.connections == 1)
    }

    /// 100,000 rows (two blocks of 65,536 at most) of the types the query sets return and their
    /// wrappers; the columns and types come from the first block.
    @Test func valueTypesAreSteppedOverAcrossBlocks() throws {
        let server = try ClickHouseServer.start()
        let native = ClickHouseNativeClient(host: "127.0.0.1", port: server.tcpPort, place: "test")
        let answer = try native.query(
            """
            SELECT number, toInt8(number) AS i8, toFloat32(number) AS f32, toString(number) AS s, toFixedString('ab', 2) AS fs,
              toDate(number) AS d, toDateTime(number, 'UTC') AS dt, toDecimal64(number, 4) AS dec,
              if(number % 2 = 0, NULL, number) AS maybe, range(number % 4) AS list, [toNullable(toString(number))] AS strings,
              (number, 'x') AS pair
            FROM system.numbers LIMIT 100000
            """)
        #expect(answer.rows == 100_000)
        #expect(
            answer.columns.map(\.type) == [
                "UInt64", "Int8", "Float32", "String", "FixedString(2)", "Date", "DateTime('UTC')", "Decimal(18, 4)", "Nullable(UInt64)",
                "Array(UInt8)", "Array(Nullable(String))", "Tuple(UInt64, String)",
            ])
        // The connection is in step: the next answer reads right.
        #expect(try native.query("SELECT sum(number) FROM numbers(10)").rows == 1)
        // A type it cannot step over is named, with what to do; the next query runs on a new connection.
        let error = #expect(throws: ReplayError.self) { try native.query("SELECT countState() AS state FROM numbers(3)") }
        #expect(
            error?.what == "column 'state' has type AggregateFunction(count), which k2's native client cannot read", "\(String(describing: error))")
        #expect(error?.remedy.contains("protocol: http") == true)
        #expect(try native.query("SELECT 1").rows == 1)
        #expect(native.connections == 2)
        try native.ping()
    }

    @Test func aServerExceptionKeepsClickHousesTextAndTheNextQueryRuns() throws {
        let server = try ClickHouseServer.start()
        let native = ClickHouseNativeClient(host: "127.0.0.1", port: server.tcpPort, place: "queries (native protocol)")
        let missing = #expect(throws: ReplayError.self) { try native.query("SELECT * FROM no_such_table") }
        #expect(
            missing?.what.hasPrefix("statement failed: Code: 60. DB::Exception: Table default.no_such_table doesn't exist") == true,
            "\(String(describing: missing))")
        #expect(missing?.place == "queries (native protocol)")
        let syntax = #expect(throws: ReplayError.self) { try native.query("SELEC 1") }
        #expect(syntax?.what.contains("Code: 62. DB::Exception: Syntax error") == true, "\(String(describing: syntax))")
        for _ in 0..<3 { #expect(try native.query("SELECT number FROM numbers(7)").rows == 7) }
        #expect(native.serverVersion?.hasPrefix("18.16.") == true)
    }

    /// The server went away between two queries (killed and started again on the same ports):
    /// the kept connection is dead, and the next query reopens it once and answers.
    @Test func aConnectionTheServerDroppedBetweenQueriesIsReopened() throws {
        let server = try ClickHouseServer.start()
        let native = ClickHouseNativeClient(host: "127.0.0.1", port: server.tcpPort, place: "test")
        #expect(try native.query("SELECT 1").rows == 1)
        server.server.crash()
        try server.server.restart()
        #expect(try native.query("SELECT number FROM numbers(3)").rows == 3)
        #expect(native.connections == 2)
    }

    @Test func aRefusedConnectionAndTheHTTPPortSayWhatToDo() throws {
        let port = FreePort.next()
        let refused = ClickHouseNativeClient(host: "127.0.0.1", port: port, place: "queries (native protocol)")
        let error = #expect(throws: ReplayError.self) { try refused.query("SELECT 1") }
        #expect(error?.what == "ClickHouse's native protocol did not answer at 127.0.0.1:\(port): Connection refused")
        #expect(error?.remedy.contains("its tcp_port, default 9000") == true)

        let server = try ClickHouseServer.start()
        // The HTTP interface waits for a request line that never comes: no Hello within the timeout.
        let http = ClickHouseNativeClient(host: "127.0.0.1", port: server.httpPort, place: "test")
        http.timeoutMillis = 1500
        let wrongPort = #expect(throws: ReplayError.self) { try http.query("SELECT 1") }
        #expect(
            wrongPort?.what == "ClickHouse at 127.0.0.1:\(server.httpPort) sent no native Hello: no answer within 1500 ms",
            "\(String(describing: wrongPort))")
        #expect(wrongPort?.remedy.contains("not the HTTP port (8123)") == true)
    }

    @Test func userAndPasswordAreSentAndAWrongPasswordSaysSoWithoutShowingIt() throws {
        let server = try ClickHouseServer.start(users: ["k2native": "pw-native-7"])
        let good = ClickHouseNativeClient(host: "127.0.0.1", port: server.tcpPort, place: "test", user: "k2native", password: "pw-native-7")
        #expect(try good.query("SELECT 1").rows == 1)
        let bad = ClickHouseNativeClient(host: "127.0.0.1", port: server.tcpPort, place: "test", user: "k2native", password: "wrong-pw-9")
        let error = #expect(throws: ReplayError.self) { try bad.connect() }
        #expect(error?.what.hasPrefix("ClickHouse refused the connection: Code: 193.") == true, "\(String(describing: error))")
        #expect(error?.remedy.contains("check the user and password") == true)
        #expect(!"\(String(describing: error))".contains("wrong-pw-9"))
    }
}
