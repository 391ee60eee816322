import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// Harness-bound or system-bound: the classifier's rules, and the replay summary's label on
/// runs driven by a hand-moved clock (a slow `mock://?capacity=N`, a starved harness, a sink that
/// pushes back, `--speed max`).
@Suite struct BottleneckTests {
    let dir = TemporaryDirectory()

    struct Row: Sendable, CustomStringConvertible {
        var blocked: Double?
        var behind: Bool
        var short: Bool
        var unpaced: Bool
        var expected: Bottleneck
        var description: String {
            "blocked \(blocked.map { "\($0)" } ?? "–") behind \(behind) short \(short) unpaced \(unpaced) → \(expected.rawValue)"
        }
    }

    @Test(arguments: [
        // A sink that held the sender ≥ 10 % of the time is the limit, even when the sender fell behind.
        Row(blocked: 0.4, behind: true, short: true, unpaced: false, expected: .system),
        Row(blocked: 0.1, behind: false, short: false, unpaced: true, expected: .system),
        // Behind its schedule with nothing pushing back: the harness.
        Row(blocked: 0.09, behind: true, short: true, unpaced: false, expected: .harness),
        Row(blocked: nil, behind: true, short: false, unpaced: false, expected: .harness),
        // On schedule, the destination delivered short: the system.
        Row(blocked: 0, behind: false, short: true, unpaced: false, expected: .system),
        Row(blocked: 0, behind: false, short: true, unpaced: true, expected: .system),
        // Max speed, nothing pushed back, everything delivered: k2's own speed is the figure.
        Row(blocked: 0, behind: false, short: false, unpaced: true, expected: .harness),
        // On schedule, all delivered: the figures are the system's.
        Row(blocked: 0.05, behind: false, short: false, unpaced: false, expected: .system),
    ])
    func classifierRules(_ row: Row) {
        let evidence = Bottleneck.Evidence(
            blockedFraction: row.blocked, behindSchedule: row.behind, deliveredShort: row.short,
            unpaced: row.unpaced, facts: ["fact"])
        let (bound, reason) = Bottleneck.classify(evidence)
        #expect(bound == row.expected)
        #expect(reason.hasSuffix("(fact)"))
    }

    /// 2,000 messages 1 ms apart (about 1,000 msg/s at 1x).
    func capture() throws -> String {
        let path = dir.file("bound.k2cap")
        _ = try SampleTraffic(gapNanos: 1_000_000).write(to: path, count: 2_000)
        return path
    }

    func run(_ path: String, pace: Pace, lateness: [Int64] = [0], sink: (ManualClock) throws -> any ReplaySink) throws -> ReplaySummary {
        let clock = ManualClock(monotonic: 1_000)
        var config = ReplayConfig(files: [path])
        config.pace = pace
        config.histogramIntervalNanos = 200_000_000
        return try ReplayEngine(config: config, sinks: [try sink(clock)], clock: clock, waiter: ManualWaiter(clock: clock, lateness: lateness)).run()
    }

    /// A consumer serving 200 msg/s offered ~1,000 msg/s, the harness on time: system-bound,
    /// because the destination delivered short; the harness kept its schedule (lateness 0).
    @Test func aCapacityMockSlowerThanTheRateIsSystemBound() throws {
        let summary = try run(try capture(), pace: .speed(1)) { clock in
            try SinkFactory.make("mock://?capacity=200", options: SinkOptions(clock: clock))
        }
        let load = try #require(summary.harness)
        #expect(load.bound == .system, "\(load.classification.reason)")
        #expect(load.evidence.deliveredShort)
        #expect(!load.evidence.behindSchedule)
        #expect(load.latenessP99Nanos == 0)
        #expect(load.latenessBudgetNanos == 1_000_000)
        #expect(load.busyFraction < 0.01, "the hand-moved clock only moves while the engine waits")
        #expect(summary.harnessIntervals.count >= 5)
        #expect(summary.harnessIntervals.allSatisfy { $0.bound == .system })
        let json = summary.json()
        #expect(json["harness"]?["bound"]?.stringValue == "system-bound")
        #expect(json["harness_intervals"]?.arrayValue?.count == summary.harnessIntervals.count)
        #expect(summary.lines().contains { $0.hasPrefix("bound: system-bound — the destination delivered less") })
    }

    /// The same run with the harness starved (every wait ends 3 ms late, as when the sending
    /// thread waits for a CPU): harness-bound, although the destination is still slower.
    @Test func theSameRunWithTheHarnessStarvedIsHarnessBound() throws {
        let summary = try run(try capture(), pace: .speed(1), lateness: [3_000_000]) { clock in
            try SinkFactory.make("mock://?capacity=200", options: SinkOptions(clock: clock))
        }
        let load = try #require(summary.harness)
        #expect(load.bound == .harness, "\(load.classification.reason)")
        #expect(load.evidence.behindSchedule)
        #expect(try #require(load.latenessP99Nanos) > load.latenessBudgetNanos!)
        #expect(summary.harnessIntervals.allSatisfy { $0.bound == .harness })
        #expect(summary.json()["harness"]?["bound"]?.stringValue == "harness-bound")
    }

    /// A sink that makes the sender wait for room (as librdkafka's full queue does) a third of
    /// the time: system-bound, although lateness grows with the wait.
    @Test func aSinkThatPushesBackIsSystemBound() throws {
        let summary = try run(try capture(), pace: .speed(1)) { clock in PushingBackSink(clock: clock, waitNanos: 500_000) }
        let load = try #require(summary.harness)
        #expect(load.blockedFraction > 0.2)
        #expect(load.bound == .system, "\(load.classification.reason)")
        #expect(load.classification.reason.hasPrefix("a sink pushed back"))
    }

    /// `--speed max` into a sink that never pushes back: harness-bound (k2's own speed), no lateness.
    @Test func maxSpeedWithNothingPushingBackIsHarnessBound() throws {
        let summary = try run(try capture(), pace: .max) { clock in MockSink(clock: clock) }
        let load = try #require(summary.harness)
        #expect(load.latenessP99Nanos == nil)
        #expect(load.bound == .harness, "\(load.classification.reason)")
    }
}

/// Delivers at once, but every `send` first waits `waitNanos` on the hand-moved clock for room,
/// and says so in `blockedNanos`.
final class PushingBackSink: ReplaySink {
    let uri = "pushing-back://"
    let clock: ManualClock
    let waitNanos: Int64
    private(set) var blockedNanos: Int64 = 0
    private var c = SinkCounts()

    init(clock: ManualClock, waitNanos: Int64) {
        self.clock = clock
        self.waitNanos = waitNanos
    }

    func open() throws {}
    func send(_ m: borrowing ReplayMessage) throws {
        clock.advance(by: waitNanos)
        blockedNanos += waitNanos
        c.sent += 1
        c.delivered += 1
    }
    func finish(timeoutNanos: Int64) throws {}
    var counts: SinkCounts { c }
}
