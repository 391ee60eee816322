import Foundation
import K2Core
import K2TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 17, "sinks that never lie": the private ClickHouse server is paused (SIGSTOP) longer
/// than the sink's request timeout while `k2 replay` inserts into it, then continued. The
/// stalled server still runs the insert the client gave up on, so a blind re-send lands twice.
/// Whatever happens, the table holds each message at most once, exactly the rows the summary
/// calls delivered, and delivered + failed + unknown + never sent = every message.
@Suite(.serialized)
struct ClickHouseStallCLITests {
    let dir = TemporaryDirectory()
    let faults = SinkFaultCLITests()

    func number(_ server: ClickHouseServer, _ sql: String) -> Int64 {
        Int64((try? server.query(sql))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
    }

    struct Outcome {
        var status: Int32?
        var err: String
        var rows: Int64
        var distinct: Int64
        var accounting: SinkFaultCLITests.Accounting
        var ambiguous: Int64
        var landedOnCheck: Int64
    }

    /// Replays the 20,000-message sample into `server` at 2000 msg/s (~10 s) with a 1 s request
    /// timeout, pauses the server for `pause` seconds once rows land, continues it, waits for the
    /// replay and for the server to finish what it still holds, then counts.
    func replayThroughAPause(_ server: ClickHouseServer, pause: UInt32, retries: Int, name: String) throws -> Outcome {
        let replayDir = dir.file(name), report = dir.file(name + "-report")
        try FileManager.default.createDirectory(atPath: replayDir, withIntermediateDirectories: true)
        let uri = server.sinkURI(database: "k2", query: "mode=raw&batch=1000&flush_ms=200&retries=\(retries)&timeout_ms=1000")
        let replay = try faults.startReplay(["--sink", uri, "--create-tables", "--rate", "2000", "--report", report], in: replayDir)
        let t0 = Date()
        while number(server, "SELECT count() FROM k2.raw_messages") <= 0, Date().timeIntervalSince(t0) < 30 { usleep(100_000) }
        try #require(server.pid > 0)
        kill(server.pid, SIGSTOP)
        usleep(pause * 1_000_000)
        kill(server.pid, SIGCONT)
        let status = faults.wait(replay, seconds: 120)
        let err = (try? String(contentsOfFile: replayDir + "/stderr.log", encoding: .utf8)) ?? ""
        // Let the server finish what it still holds (inserts the client gave up on), then count.
        var rows: Int64 = -1
        let settle = Date()
        while Date().timeIntervalSince(settle) < 30 {
            let running = number(server, "SELECT count() FROM system.processes WHERE query LIKE 'INSERT%'")
            let now = number(server, "SELECT count() FROM k2.raw_messages")
            if running == 0, now == rows { break }
            rows = now
            usleep(1_000_000)
        }
        let distinct = number(server, "SELECT uniqExact(connection, stream, receive_ns, cityHash64(payload)) FROM k2.raw_messages")
        // The same by the ledger id each row carries (`k2_id`, RUNID-SEQ).
        let distinctIDs = number(server, "SELECT uniqExact(k2_id) FROM k2.raw_messages")
        #expect(distinctIDs == distinct, "k2_id: \(distinctIDs) distinct, rows by content: \(distinct)")
        let a = try SinkFaultCLITests.Accounting(report: report)
        let sink = try JSONParser.parse(try String(contentsOfFile: report + "/summary.json", encoding: .utf8))["sinks"]?.arrayValue?.first
        let outcome = Outcome(
            status: status, err: err, rows: rows, distinct: distinct, accounting: a,
            ambiguous: sink?["ambiguous_failures"]?.int64Value ?? -1, landedOnCheck: sink?["landed_on_check"]?.int64Value ?? -1)
        print(
            "\(name): exit \(String(describing: status)), rows \(rows), distinct \(distinct), delivered \(a.delivered), failed \(a.failed), "
                + "unknown \(a.unknown), in flight \(a.inFlight), never sent \(a.neverSent), ambiguous inserts \(outcome.ambiguous), "
                + "landed on check \(outcome.landedOnCheck)")
        return outcome
    }

    /// Paused 4 s, past the 1 s timeout: the insert the client gave up on lands when the server
    /// continues; the sink finds it there (by its k2_batch id) instead of sending it again.
    @Test func pausedServerPastTheTimeoutLandsEachRowOnceAndSaysSo() throws {
        let server = try ClickHouseServer.start()
        defer {
            if server.pid > 0 { kill(server.pid, SIGCONT) }
            server.stop()
        }
        let o = try replayThroughAPause(server, pause: 4, retries: 3, name: "pause4")
        let a = o.accounting
        #expect(o.rows == o.distinct, "\(o.rows - o.distinct) duplicate rows: \(o.err)")
        #expect(o.rows == a.delivered, "the table holds \(o.rows) rows, the summary says \(a.delivered) delivered: \(o.err)")
        #expect(a.inFlight == 0)
        #expect(a.delivered + a.failed + a.unknown + a.neverSent == SinkFaultCLITests.sampleMessages)
        #expect(o.ambiguous > 0, "the pause did not catch an insert: \(o.err)")
        if o.status == 0 {
            #expect(a.delivered == SinkFaultCLITests.sampleMessages)
        } else {
            #expect(o.status == 1, "exit \(String(describing: o.status)): \(o.err)")
            #expect(a.unknown == 0 || o.err.contains("unknown"), "\(o.err)")
        }
    }

    /// Paused 15 s, longer than the sink checks (retries=1: 4 rounds, ~8 s): the insert's fate is
    /// unknown. It is reported so (exit 1, with the reason), never as delivered; whatever the
    /// server writes later is at most those rows, each once.
    @Test func pausedServerLongerThanTheCheckIsUnknownNotDelivered() throws {
        let server = try ClickHouseServer.start()
        defer {
            if server.pid > 0 { kill(server.pid, SIGCONT) }
            server.stop()
        }
        let o = try replayThroughAPause(server, pause: 15, retries: 1, name: "pause15")
        let a = o.accounting
        #expect(o.status == 1, "exit \(String(describing: o.status)): \(o.err)")
        #expect(o.rows == o.distinct, "\(o.rows - o.distinct) duplicate rows: \(o.err)")
        #expect(a.unknown > 0, "\(o.err)")
        #expect(o.rows >= a.delivered && o.rows <= a.delivered + a.unknown, "rows \(o.rows): \(o.err)")
        #expect(a.inFlight == 0)
        #expect(a.delivered + a.failed + a.unknown + a.neverSent == SinkFaultCLITests.sampleMessages)
        #expect(o.err.contains("unknown") && o.err.contains("did not answer the check"), "\(o.err)")
    }
}
