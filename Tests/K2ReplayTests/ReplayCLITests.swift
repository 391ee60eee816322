import K2Capture
import K2Core
import K2TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Stops a running `k2 replay` process (the binary `swift build --build-tests` makes) with a
/// signal and checks that it still flushes, prints the summary and writes `summary.json`.
///
/// `timeout -s SIG` is the sender on purpose: it delivers the signal twice (to the child, then
/// to its process group), the case where the summary used to go missing. Nothing here asserts
/// on wall-clock durations: the capture lasts a minute at 1x, the signal comes after 2 s, and
/// the checks hold wherever in the run it lands (even before the first message).
@Suite(.serialized) struct ReplayCLITests {
    static var root: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }

    static var k2: String { root + "/.build/debug/k2" }

    func stop(with signal: String, expecting code: Int32, reason: String) throws {
        #expect(access(Self.k2, X_OK) == 0, "build k2 first: swift build --build-tests")
        let dir = TemporaryDirectory()
        let path = dir.file("minute.k2cap")
        // 6,000 messages 10 ms apart on average: about a minute at 1x.
        let recs = try SampleTraffic(gapNanos: 10_000_000).write(to: path, count: 6_000)
        let selected = UInt64(recs.filter { $0.kind == .recv }.count)
        let report = dir.file("report")
        let (status, _, err) = try Shell.execute(
            "timeout --preserve-status -s \(signal) 2 '\(Self.k2)' replay '\(path)' --sink mock:// --speed 1 --quiet --report '\(report)'")
        #expect(status == code, "stderr: \(err)")
        #expect(err.contains("replay interrupted: \(reason)"), "stderr: \(err)")
        #expect(err.contains("mock://: sent"), "stderr: \(err)")
        #expect(err.contains("report: "), "stderr: \(err)")
        #expect(err.contains("/summary.md") && err.contains("/summary.html"), "stderr: \(err)")
        let json = try JSONParser.parse(try Shell.run("cat '\(report)/summary.json'"))
        #expect(json["outcome"]?.stringValue == "interrupted")
        #expect(json["exit_code"]?.int64Value == Int64(code))
        let sent = UInt64(json["messages"]?.int64Value ?? -1)
        let never = UInt64(json["never_sent"]?.int64Value ?? -1)
        #expect(sent < selected)
        #expect(sent + never == selected)
        let sink = json["sinks"]?.arrayValue?.first
        #expect(sink?["delivered"]?.int64Value == Int64(sent))
        #expect(sink?["in_flight"]?.int64Value == 0)
    }

    @Test func sigintStopsWithSummaryAndExit130() throws {
        try stop(with: "INT", expecting: 130, reason: "stopped by SIGINT (Ctrl-C)")
    }

    @Test func sigtermStopsWithSummaryAndExit143() throws {
        try stop(with: "TERM", expecting: 143, reason: "stopped by SIGTERM")
    }

    /// `--metrics-port`: curl scrapes the live replay's Prometheus endpoint while it runs.
    @Test func metricsPortServesTheLiveReplay() throws {
        #expect(access(Self.k2, X_OK) == 0, "build k2 first: swift build --build-tests")
        let dir = TemporaryDirectory()
        let path = dir.file("minute.k2cap")
        try SampleTraffic(gapNanos: 10_000_000).write(to: path, count: 6_000)
        let port = FreePort.next()
        let scrape = dir.file("scrape.txt")
        // Scrape until a snapshot with messages sent shows up (at most ~10 s), then stop the replay.
        let (status, _, err) = try Shell.execute(
            """
            '\(Self.k2)' replay '\(path)' --sink mock:// --speed 1 --quiet --metrics-port \(port) & pid=$!
            for i in $(seq 1 40); do
              curl -s --max-time 2 http://127.0.0.1:\(port)/metrics > '\(scrape)' 2>/dev/null
              grep -q 'k2_replay_messages_sent_total{sink="mock://"} [1-9]' '\(scrape)' && grep -q 'k2_replay_bound{' '\(scrape)' && break
              sleep 0.25
            done
            kill -INT $pid; wait $pid
            """)
        #expect(status == 130, "stderr: \(err)")
        #expect(err.contains("metrics: http://127.0.0.1:\(port)/metrics"), "stderr: \(err)")
        let body = try Shell.run("cat '\(scrape)'")
        #expect(body.contains("# TYPE k2_replay_messages_sent_total counter"), "\(body)")
        #expect(body.range(of: #"k2_replay_messages_delivered_total\{sink="mock://"\} [1-9]"#, options: .regularExpression) != nil, "\(body)")
        #expect(body.contains("k2_replay_progress_ratio "), "\(body)")
        #expect(body.contains("k2_replay_lag_seconds "), "\(body)")
        // The last harness interval's label: one of the two gauges is 1.
        #expect(body.range(of: #"k2_replay_bound\{bound="(harness|system)-bound"\} 1"#, options: .regularExpression) != nil, "\(body)")
        #expect(body.contains("k2_replay_sending_busy_ratio "), "\(body)")
    }

    @Test func aBadMetricsPortIsExit2() throws {
        let (status, _, err) = try Shell.execute("'\(Self.k2)' replay /nonexistent.k2cap --sink mock:// --metrics-port 70000")
        #expect(status == 2)
        #expect(err.contains("--metrics-port '70000' is not a TCP port"), "stderr: \(err)")
    }

    /// Negative numbers reach the checks (not ArgumentParser's "missing value"), and any
    /// malformed command line exits 2 like every other bad input: one line, nothing replayed.
    @Test(arguments: [
        ("--speed -2", "--speed '-2' must be a positive multiplier"),
        ("--rate -5", "--rate '-5' must be more than 0 msg/s"),
        ("--loop -1", "--loop -1 is out of range: give at least 1"),
        ("--speed 0", "--speed '0' must be a positive multiplier"),
        ("--bogus", "Unknown option '--bogus'"),
    ])
    func badFlagsAreOneLineAndExit2(flags: String, message: String) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("small.k2cap")
        try SampleTraffic().write(to: path, count: 50)
        let (status, out, err) = try Shell.execute("'\(Self.k2)' replay '\(path)' --sink - \(flags)")
        #expect(status == 2, "stderr: \(err)")
        #expect(err.contains(message), "stderr: \(err)")
        #expect(out.isEmpty, "nothing replayed: \(out)")
    }

    /// A capture with a damaged frame mid-file (4 bytes overwritten): exit 1 naming the file and
    /// offset with or without --allow-torn (a damaged input, not bad usage); with it, a warning and
    /// every intact frame replayed.
    @Test func aDamagedFrameMidFileExits1WithOrWithoutAllowTorn() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("damaged.k2cap")
        try SampleTraffic().write(to: path, count: 3_000, options: .init(blockSize: 16 * 1024))
        let entries = try CaptureReader(path: path).index().entries
        let damaged = entries[3]
        let fd = open(path, O_WRONLY)
        let garbage: [UInt8] = [0xde, 0xad, 0xbe, 0xef]
        #expect(pwrite(fd, garbage, 4, off_t(damaged.offset + Int64(damaged.compressedSize / 2))) == 4)
        close(fd)
        let (stoppedStatus, _, stopped) = try Shell.execute("'\(Self.k2)' replay '\(path)' --sink mock:// --speed max --quiet")
        #expect(stoppedStatus == 1, "stderr: \(stopped)")
        #expect(stopped.hasPrefix("replay damaged-input: \(path) at byte \(damaged.offset): "), "stderr: \(stopped)")
        #expect(stopped.contains("--allow-torn"), "stderr: \(stopped)")
        let (skippedStatus, _, skipped) = try Shell.execute("'\(Self.k2)' replay '\(path)' --sink mock:// --speed max --quiet --allow-torn")
        #expect(skippedStatus == 1, "stderr: \(skipped)")
        #expect(
            skipped.hasPrefix("warning: \(path): damaged frame at byte \(damaged.offset): ")
                && skipped.contains("skipped (\(damaged.recordCount) records lost)"), "stderr: \(skipped)")
        #expect(skipped.contains("replay damaged-input: skipped 1 damaged frame(s)"), "stderr: \(skipped)")
    }
}
