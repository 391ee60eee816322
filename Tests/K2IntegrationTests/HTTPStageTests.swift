import Foundation
import K2Core
import K2TestSupport
import Testing

@testable import K2Bench

/// The HTTP stage against a real ClickHouse (the local stand-in API): requests at their open-loop
/// rates on keep-alive connections, methods, headers and bodies, answers per status code, and the
/// response check (status, text in the body) failing with what came back.
@Suite(.serialized)
struct HTTPStageTests {
    @Test func requestsRunAtTheirRatesAndTheResponseCheckFailsWithWhatCameBack() throws {
        let server = try QueryStageTests.serverWithTrades()
        func request(_ name: String, _ url: String, method: String = "GET", rate: Double) -> Workload.HTTPRequest {
            Workload.HTTPRequest(name: name, url: url, method: method, rate: rate)
        }
        var http = Workload.HTTP()
        http.concurrency = 2
        var ping = request("ping", "{clickhouse}/ping", rate: 20)
        ping.contains = "Ok."
        // The database from the URL, the statement from the body: 300 trades. (18.16 has no
        // X-ClickHouse-Database header; a header it reads is the user.)
        var count = request("count", "{clickhouse}/?database={database}", method: "POST", rate: 10)
        count.headers = ["X-ClickHouse-User: default"]
        count.body = "SELECT count() AS n FROM trades FORMAT JSON"
        count.contains = "\"n\": \"300\""
        var missing = request("missing", "{clickhouse}/?database={database}", method: "POST", rate: 5)
        missing.body = "SELECT * FROM no_such_table"
        var wrongText = request("wrong_text", "{clickhouse}/ping", rate: 5)
        wrongText.contains = "nope"
        http.requests = [ping, count, missing, wrongText]

        let stage = try HTTPStage(.init(http: http, clickhouse: "http://127.0.0.1:\(server.httpPort)", database: "q"))
        let now = SystemClock().wallNanos()
        stage.start(measureFromWall: now + 200_000_000, measureToWall: now + 2_200_000_000)
        usleep(2_300_000)
        let (results, error) = stage.stop()
        #expect(error == nil)
        let byName = Dictionary(uniqueKeysWithValues: results.map { ($0.name, $0) })
        // Open loop over 2 s: 40, 20, 10, 10 requests due (the last may fall on the edge).
        let p = try #require(byName["ping"]), c = try #require(byName["count"])
        #expect((39...40).contains(p.succeeded + p.failed + p.notStarted) && p.failed == 0, "\(p.failures)")
        #expect(p.statuses == [200: p.succeeded])
        #expect((19...20).contains(c.succeeded + c.failed + c.notStarted) && c.failed == 0 && c.succeeded >= 15, "\(c.failures)")
        // ClickHouse answers an unknown table with an error status: every one failed, with the status and its message.
        let m = try #require(byName["missing"])
        #expect(m.succeeded == 0 && m.failed >= 8 && m.statuses[200] == nil && m.statuses.values.reduce(0, +) == m.failed)
        #expect(m.failures.first?.hasPrefix("HTTP ") == true && m.failures.first?.contains("expected 200: Code: 60") == true, "\(m.failures)")
        let w = try #require(byName["wrong_text"])
        #expect(w.succeeded == 0 && w.failures == ["the answer does not contain 'nope'"] && w.statuses[200] == w.failed)

        let figures = HTTPStage.figures(results, error: nil)
        #expect(
            figures.latencies["http.ping"] != nil && figures.latencies["http_uncorrected.ping"] != nil && figures.latencies["http.missing"] == nil)
        #expect(figures.metrics["http.ping.status.200"]?.value == Double(p.succeeded))
        #expect(figures.metrics["http.missing.errors"]?.value == Double(m.failed))
        #expect(figures.notes.contains { $0.hasPrefix("http request missing: \(m.failed) of \(m.failed) failed: HTTP ") })
    }

    @Test func aServerThatDoesNotAnswerIsAFailureNotACrash() throws {
        var http = Workload.HTTP()
        http.timeoutNanos = 500_000_000
        http.requests = [Workload.HTTPRequest(name: "down", url: "http://127.0.0.1:9/", method: "GET", rate: 10)]
        let stage = try HTTPStage(.init(http: http, clickhouse: nil, database: "default"))
        let now = SystemClock().wallNanos()
        stage.start(measureFromWall: now + 100_000_000, measureToWall: now + 600_000_000)
        usleep(700_000)
        let (results, error) = stage.stop()
        #expect(error == nil)
        let down = try #require(results.first)
        #expect(down.succeeded == 0 && down.failed >= 3 && down.statuses.isEmpty)
        #expect(down.failures.first?.contains("did not answer at http://127.0.0.1:9/") == true, "\(down.failures)")
        // {clickhouse} without a ClickHouse: one line that says what to do.
        http.requests = [Workload.HTTPRequest(name: "api", url: "{clickhouse}/ping", method: "GET", rate: 1)]
        #expect(throws: BenchError.self) { try HTTPStage(.init(http: http, clickhouse: nil, database: "default")) }
    }
}
