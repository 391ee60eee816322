import Foundation
import K2Core
import K2TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 3, "Bad input and faults", through the built `k2` binary: bad input is one actionable
/// line and exit 2; a broker or ClickHouse server killed mid-run gives bounded retries, a
/// summary that accounts for every message (delivered + failed + never sent = total) and exit 1.
@Suite(.serialized)
struct SinkFaultCLITests {
    static let sample = Built.root + "/captures/binance-sample.k2cap"
    static let sampleMessages: Int64 = 20_000
    let dir = TemporaryDirectory()

    struct Run {
        var status: Int32
        var out: String
        var err: String
        /// stderr without the blank lines.
        var errLines: [Substring] { err.split(separator: "\n") }
    }

    func k2(_ args: String) throws -> Run {
        let (s, o, e) = try Shell.execute("'\(try Built.k2())' \(args)")
        return Run(status: s, out: o, err: e)
    }

    /// Exit 2 with exactly one line on stderr that starts with `k2:` and contains every needle.
    func expectBadInput(_ args: String, _ needles: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try k2("replay '\(Self.sample)' --quiet " + args)
        #expect(r.status == 2, "exit \(r.status) for \(args): \(r.err)", sourceLocation: sourceLocation)
        #expect(r.errLines.count == 1, "not one line for \(args): \(r.err)", sourceLocation: sourceLocation)
        #expect(r.err.hasPrefix("k2: "), sourceLocation: sourceLocation)
        for n in needles {
            #expect(r.err.contains(n), "'\(n)' missing for \(args): \(r.err)", sourceLocation: sourceLocation)
        }
    }

    @Test func unknownSchemeIsExit2() throws {
        try expectBadInput("--sink 'nope://x'", ["nope", "kafka", "clickhouse"])
    }

    @Test func speedZeroOrNegativeIsExit2() throws {
        try expectBadInput("--sink mock:// --speed 0", ["speed"])
        try expectBadInput("--sink mock:// --speed=-2", ["speed"])
        try expectBadInput("--sink mock:// --rate 0", ["rate"])
        try expectBadInput("--sink mock:// --speed 0x", ["speed"])
    }

    @Test func badKafkaPropertyIsExit2() throws {
        try expectBadInput("--sink kafka://127.0.0.1:9 -X no.such.property=1", ["bad -X property 'no.such.property=1'"])
        try expectBadInput("--sink kafka://127.0.0.1:9 -X linger.ms=banana", ["linger.ms=banana"])
        try expectBadInput("--sink kafka://127.0.0.1:9 -X novalue", ["novalue", "key=value"])
    }

    @Test func unreachableBrokerIsExit2() throws {
        try expectBadInput("--sink kafka://127.0.0.1:\(FreePort.next())", ["no Kafka broker answered", "k2 broker"])
    }

    @Test func unreachableClickHouseIsExit2() throws {
        try expectBadInput("--sink 'clickhouse://127.0.0.1:\(FreePort.next())/default?mode=raw'", ["ClickHouse did not answer"])
    }

    @Test func wrongTableIsExit2() throws {
        let server = try ClickHouseServer.start()
        defer { server.stop() }
        try expectBadInput(
            "--sink '\(server.sinkURI(query: "mode=trades&table=no_such_table"))'",
            ["no_such_table", "doesn't exist", "--create-tables"])
    }

    /// The sink's entry and the totals of `summary.json`.
    struct Accounting {
        var exitCode: Int64, messages: Int64, neverSentTotal: Int64
        var delivered: Int64, failed: Int64, inFlight: Int64, neverSent: Int64
        /// Messages whose fate the sink could not learn (0 when the summary has no `unknown`).
        var unknown: Int64
        var reasons: [String]
        init(report: String) throws {
            let v = try JSONParser.parse(try String(contentsOfFile: report + "/summary.json", encoding: .utf8))
            let s = v["sinks"]?.arrayValue?.first
            exitCode = v["exit_code"]?.int64Value ?? -1
            messages = v["messages"]?.int64Value ?? -1
            neverSentTotal = v["never_sent"]?.int64Value ?? -1
            delivered = s?["delivered"]?.int64Value ?? -1
            failed = s?["failed"]?.int64Value ?? -1
            inFlight = s?["in_flight"]?.int64Value ?? -1
            neverSent = s?["never_sent"]?.int64Value ?? -1
            unknown = s?["unknown"]?.int64Value ?? 0
            if case let .object(pairs)? = s?["failure_reasons"] { reasons = pairs.map(\.0) } else { reasons = [] }
        }
    }

    /// Starts `k2 replay` in the background (stderr into `stderr.log` under `dir`).
    func startReplay(_ args: [String], in dir: String) throws -> pid_t {
        try ChildProcess.spawn(
            [try Built.k2(), "replay", Self.sample, "--quiet"] + args,
            stdoutPath: dir + "/stdout.log", stderrPath: dir + "/stderr.log")
    }

    func wait(_ pid: pid_t, seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return (status >> 8) & 0xff }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        return nil
    }

    /// `k2 broker` runs as a child process and is killed (SIGKILL) while `k2 replay` sends to it
    /// at 1500 msg/s: messages time out after message.timeout.ms, the replay stops, exit 1,
    /// delivered + failed + never sent = all 20,000 messages.
    @Test func brokerKilledMidRunIsExit1WithEveryMessageAccounted() throws {
        let brokerDir = dir.file("broker"), replayDir = dir.file("replay"), report = dir.file("report")
        try FileManager.default.createDirectory(atPath: brokerDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: replayDir, withIntermediateDirectories: true)
        let broker = try ChildProcess.spawn(
            [try Built.k2(), "broker", "--partitions", "2"],
            stdoutPath: brokerDir + "/stdout.log", stderrPath: brokerDir + "/stderr.log")
        var brokerAlive = true
        defer { if brokerAlive { kill(broker, SIGKILL); waitpid(broker, nil, 0) } }
        var bootstrap = ""
        for _ in 0..<200 where bootstrap.isEmpty {
            let out = (try? String(contentsOfFile: brokerDir + "/stdout.log", encoding: .utf8)) ?? ""
            if out.contains("\n") { bootstrap = String(out.split(separator: "\n")[0]) } else { usleep(50_000) }
        }
        try #require(!bootstrap.isEmpty, "k2 broker printed no address")

        // 1500 msg/s: the 20,000 messages take ~13 s, far longer than the ~2–4 s the sink needs
        // to learn that the broker is gone (on a loaded machine 4000 msg/s sometimes finished first).
        let replay = try startReplay(
            [
                "--sink", "kafka://\(bootstrap)", "--rate", "1500", "--report", report,
                "-X", "message.timeout.ms=2000",
            ], in: replayDir)
        usleep(1_500_000)
        kill(broker, SIGKILL)
        waitpid(broker, nil, 0)
        brokerAlive = false
        let status = wait(replay, seconds: 60)
        let err = (try? String(contentsOfFile: replayDir + "/stderr.log", encoding: .utf8)) ?? ""
        #expect(status == 1, "exit \(String(describing: status)): \(err)")
        let a = try Accounting(report: report)
        #expect(a.exitCode == 1)
        #expect(a.delivered > 0, "\(err)")
        #expect(a.failed > 0)
        #expect(a.inFlight == 0)
        #expect(a.neverSent > 0, "the replay should stop once the broker is known gone: \(err)")
        #expect(a.delivered + a.failed + a.neverSent == Self.sampleMessages)
        #expect(a.messages + a.neverSentTotal == Self.sampleMessages)
        #expect(err.contains("went away"), "\(err)")
    }

    /// The private ClickHouse server is killed while `k2 replay` inserts into it at 1500 msg/s (~13 s of sending):
    /// the insert is retried (bounded), the replay stops, exit 1, every message accounted for
    /// (delivered + failed + unknown + never sent).
    @Test func clickHouseKilledMidRunIsExit1WithEveryMessageAccounted() throws {
        let server = try ClickHouseServer.start()
        defer { server.stop() }
        let replayDir = dir.file("replay-ch"), report = dir.file("report-ch")
        try FileManager.default.createDirectory(atPath: replayDir, withIntermediateDirectories: true)
        let uri = server.sinkURI(database: "k2", query: "mode=raw&batch=1000&flush_ms=200&retries=2")
        let replay = try startReplay(["--sink", uri, "--create-tables", "--rate", "1500", "--report", report], in: replayDir)
        // Wait until some rows have landed, then take the server away.
        let t0 = Date()
        var landed = 0
        while landed == 0, Date().timeIntervalSince(t0) < 30 {
            usleep(200_000)
            landed = Int((try? server.query("SELECT count() FROM k2.raw_messages"))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        }
        try #require(landed > 0, "no rows landed before the server was killed")
        // SIGKILL (a SIGTERMed 18.16 keeps serving its open connections while it shuts down).
        try #require(server.pid > 0)
        kill(server.pid, SIGKILL)
        let status = wait(replay, seconds: 60)
        let err = (try? String(contentsOfFile: replayDir + "/stderr.log", encoding: .utf8)) ?? ""
        #expect(status == 1, "exit \(String(describing: status)): \(err)")
        let a = try Accounting(report: report)
        #expect(a.exitCode == 1)
        #expect(a.delivered >= Int64(landed))
        // An insert cut off by the kill may or may not have been written: unknown, not failed.
        #expect(a.failed + a.unknown > 0)
        #expect(a.inFlight == 0)
        #expect(a.neverSent > 0, "the replay should stop once ClickHouse is known gone: \(err)")
        #expect(a.delivered + a.failed + a.unknown + a.neverSent == Self.sampleMessages)
        #expect(err.contains("went away"), "\(err)")
    }
}
