import K2Bench
import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// `k2 replay --report`: summary.md for CI summaries and summary.html with charts, from a
/// replay run on a hand-moved clock.
@Suite struct ReplayReportTests {
    func replay(sinks: [any ReplaySink], clock: ManualClock, lateness: [Int64]) throws -> ReplaySummary {
        let dir = TemporaryDirectory()
        let path = dir.file("r.k2cap")
        // 4,000 messages 2 ms apart: 8 s of capture, so several 1 s lateness intervals.
        try SampleTraffic(gapNanos: 2_000_000).write(to: path, count: 4_000)
        var config = ReplayConfig(files: [path])
        config.pace = .speed(1)
        return try ReplayEngine(config: config, sinks: sinks, clock: clock, waiter: ManualWaiter(clock: clock, lateness: lateness)).run()
    }

    /// Damage the replay went past (--allow-torn) is in the headline, one row per frame or tail.
    @Test func skippedDamageIsInTheHeadline() throws {
        let clock = ManualClock(monotonic: 0)
        var summary = try replay(sinks: [MockSink(clock: clock)], clock: clock, lateness: [1_000])
        summary.outcome = .damagedInput
        summary.skippedFrames = ["x.k2cap: damaged frame at byte 9: zstd: Data corruption detected; skipped (5 records lost)"]
        let md = ReplayReport.markdown(summary)
        #expect(md.hasPrefix("## k2 replay: damaged-input\n"), "\(md)")
        #expect(md.contains("| input damage | x.k2cap: damaged frame at byte 9: zstd: Data corruption detected; skipped (5 records lost) |"), "\(md)")
        #expect(ReplayReport.html(summary).contains("x.k2cap: damaged frame at byte 9"))
    }

    @Test func markdownAndHTMLShowTheRunAndEverySink() throws {
        let clock = ManualClock(monotonic: 0)
        let sinks: [any ReplaySink] = [MockSink(clock: clock), try SinkFactory.make("mock://?capacity=100", options: SinkOptions(clock: clock))]
        let summary = try replay(sinks: sinks, clock: clock, lateness: [1_000, 3_000_000])
        let md = ReplayReport.markdown(summary)
        #expect(md.hasPrefix("## k2 replay: completed\n"))
        #expect(md.contains("| messages | \(summary.messages) ("))
        #expect(md.contains("| lateness (ms) | p50 "), "\(md)")
        #expect(md.contains("| 1 | mock:// | \(summary.messages) | \(summary.messages) | 0 | 0 | 0 |"), "\(md)")
        #expect(md.contains("| 2 | mock://?capacity=100 | \(summary.messages) |"), "\(md)")
        let html = ReplayReport.html(summary)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("Lateness per interval"))
        #expect(html.contains("Queue depth per second"))
        #expect(html.contains("Latency by percentile"))
        #expect(html.contains("Sending thread per interval"))
        #expect(html.components(separatedBy: "<svg").count == 5)
        #expect(html.contains("<td>mock://?capacity=100</td>"))
        // Harness or system: the label in the headline and one row per interval (which label is
        // BottleneckTests' business; here every row of the table is there).
        let load = try #require(summary.harness)
        #expect(md.contains("| bound | \(load.bound.rawValue): \(load.classification.reason) |"), "\(md)")
        #expect(md.contains("### Harness or system? (per interval)"))
        #expect(summary.harnessIntervals.count >= 7)
        #expect(md.components(separatedBy: "-bound |").count - 1 == summary.harnessIntervals.count)
        #expect(html.contains("<h2>Harness or system? (per interval)</h2>"))
    }

    @Test func failuresAreListedAndEscaped() throws {
        let clock = ManualClock(monotonic: 0)
        let failing = try SinkFactory.make("mock://?fail_after=10", options: SinkOptions(clock: clock))
        let summary = try replay(sinks: [failing], clock: clock, lateness: [0])
        #expect(summary.outcome == .sinkFailed)
        let md = ReplayReport.markdown(summary)
        #expect(md.hasPrefix("## k2 replay: sink-failed\n"))
        #expect(md.contains("mock failure after 10 messages"), "\(md)")
        let html = ReplayReport.html(summary)
        #expect(html.contains("class=\"fail\">sink-failed<"))
        #expect(html.contains("<h2>Failures</h2>"))
        #expect(!html.contains("<script"))
    }
}
