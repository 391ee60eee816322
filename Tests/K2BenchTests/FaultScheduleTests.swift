import Foundation
import K2Bench
import K2Core
import Testing

/// The `faults:` section, the scheduler (on a hand-moved clock) and the recovery figures.
struct FaultScheduleTests {
    static let schedule = """
        source: {profile: calm}
        duration: 60s
        embedded: {brokers: 3}
        faults:
          - {at: 5s, for: 5s, target: broker, action: down}
          - {at: 12s, for: 4s, target: broker, action: rtt, rtt: 200ms, broker: 2}
          - {at: 18s, target: broker, action: errors, api: Produce, error: NOT_LEADER_OR_FOLLOWER, count: 50}
          - {at: 20s, target: broker, action: leader, topic: t, partition: 0, broker: 2}
          - {at: 22s, for: 3s, target: broker, action: topic_error, topic: t, error: REQUEST_TIMED_OUT}
          - {at: 26s, for: 5s, target: clickhouse, action: pause}
          - {at: 34s, target: clickhouse, action: kill}
          - {at: 40s, for: 2s, target: command, command: docker pause rp, end: docker unpause rp}
        """

    @Test func faultsSectionReadsEveryTargetAndAction() throws {
        let workload = try WorkloadLoader.parse(Self.schedule, file: "w.yaml")
        #expect(workload.embedded.brokers == 3)
        #expect(
            workload.faults.map(\.action) == [
                .brokerDown(broker: 1), .brokerRTT(broker: 2, millis: 200), .requestErrors(api: 0, code: 6, count: 50),
                .leaderMove(topic: "t", partition: 0, broker: 2), .topicError(topic: "t", code: 7), .clickhousePause, .clickhouseKill,
                .command(start: "docker pause rp", end: "docker unpause rp"),
            ])
        #expect(workload.faults.map(\.atNanos).prefix(2) == [5_000_000_000, 12_000_000_000])
        #expect(workload.faults[0].forNanos == 5_000_000_000 && workload.faults[2].forNanos == 0)
        #expect(workload.faults.map(\.target) == ["broker", "broker", "broker", "broker", "broker", "clickhouse", "clickhouse", "command"])
        #expect(workload.faults[2].what == "Produce errors NOT_LEADER_FOR_PARTITION × 50")
    }

    @Test func exchangeFaultsAreRead() throws {
        let workload = try WorkloadLoader.parse(
            """
            source: {profile: calm}
            duration: 60s
            faults:
              - {at: 5s, target: exchange, action: disconnect}
              - {at: 6s, for: 2s, target: exchange, action: stall}
              - {at: 9s, target: exchange, action: gap, count: 5}
              - {at: 10s, target: exchange, action: duplicate}
              - {at: 11s, target: exchange, action: reorder, count: 2}
              - {at: 12s, target: exchange, action: malformed, count: 3}
            """, file: "w.yaml")
        #expect(
            workload.faults.map(\.action) == [
                .exchange(.disconnect), .exchange(.stall), .exchange(.gap(count: 5)), .exchange(.duplicate(count: 1)),
                .exchange(.reorder(count: 2)), .exchange(.malformed(count: 3)),
            ])
        #expect(workload.faults.allSatisfy { $0.target == "exchange" })
        // Only the stall has an end (the held messages go out then).
        #expect(FaultScheduler.events(workload.faults).filter(\.isEnd).map(\.index) == [1])
        #expect(workload.faults[2].what == "exchange skips 5 message(s)")
    }

    @Test func badFaultsAreOneLineNamingTheEntry() {
        func expectError(_ faults: String, _ contains: String) {
            do {
                _ = try WorkloadLoader.parse("source: {profile: calm}\nduration: 30s\nfaults:\n" + faults, file: "w.yaml")
                Issue.record("no error for \(contains)")
            } catch {
                #expect(
                    error.description.hasPrefix("w.yaml:") && error.description.contains(contains) && !error.description.contains("\n"), "\(error)")
            }
        }
        expectError("  - {at: 5s, target: broker, action: down}\n", "for")
        expectError("  - {at: 40s, for: 1s, target: broker, action: down}\n", "starts at or after the end of the measured window")
        expectError("  - {at: 5s, for: 1s, target: broker, action: down, broker: 17}\n", "broker")
        expectError("  - {at: 5s, target: broker, action: errors, error: NOPE}\n", "'NOPE' is not a Kafka error")
        expectError("  - {at: 5s, target: broker, action: errors, error: 6, api: Shout}\n", "'Shout' is not a Kafka API")
        expectError("  - {at: 5s, target: broker, action: errors, error: 6, count: 0}\n", "count")
        expectError("  - {at: 5s, for: 1s, target: broker, action: rtt}\n", "rtt")
        expectError("  - {at: 5s, for: 1s, target: broker, action: rtt, rtt: 2h}\n", "rtt")
        expectError("  - {at: 5s, target: broker, action: leader, topic: t, partition: 0}\n", "broker")
        expectError("  - {at: 5s, for: 1s, target: broker, action: explode}\n", "broker faults are down, rtt, errors, leader, topic_error")
        expectError("  - {at: 5s, for: 1s, target: clickhouse, action: stop}\n", "ClickHouse faults are pause and kill")
        expectError("  - {at: 5s, for: 1s, target: redis, action: down}\n", "unknown fault target 'redis'")
        expectError("  - {at: 5s, target: exchange, action: stall}\n", "for")
        expectError("  - {at: 5s, target: exchange, action: gap, count: 0}\n", "count")
        expectError("  - {at: 5s, target: exchange, action: shout}\n", "exchange faults are disconnect, stall, gap")
        expectError("  - {at: 5s, target: command}\n", "command")
        expectError("  - {at: 5s, for: 1s, target: broker, action: down, colour: red}\n", "unknown key")
        expectError("  - down\n", "each fault must be a mapping")
    }

    /// Records what the scheduler asked for, with the clock's time.
    final class RecordingInjector: FaultInjector, @unchecked Sendable {
        // unchecked: `calls` under `lock`.
        let lock = Lock()
        let clock: ManualClock
        var calls: [String] = []
        let failing: String?
        init(clock: ManualClock, failing: String? = nil) {
            self.clock = clock
            self.failing = failing
        }
        func begin(_ fault: Workload.Fault) throws {
            lock.withLock { calls.append("\(clock.monotonicNanos() / 1_000_000_000): begin \(fault.what)") }
            if fault.what == failing { throw BenchError(.run, what: "refused") }
        }
        func end(_ fault: Workload.Fault) throws {
            lock.withLock { calls.append("\(clock.monotonicNanos() / 1_000_000_000): end \(fault.what)") }
        }
    }

    @Test func schedulerBeginsAndEndsEachFaultOnTimeByAHandMovedClock() throws {
        let workload = try WorkloadLoader.parse(Self.schedule, file: "w.yaml")
        let clock = ManualClock(monotonic: 100_000_000_000)
        let injector = RecordingInjector(clock: clock)
        let scheduler = FaultScheduler(faults: workload.faults, injector: injector, clock: clock)
        scheduler.arm(measureFromNanos: 100_000_000_000)
        #expect(scheduler.step().isEmpty)
        clock.advance(by: 4_999_999_999)
        #expect(scheduler.step().isEmpty)  // not a nanosecond early
        clock.advance(by: 1)
        #expect(scheduler.step().map { "\($0.offsetNanos) \($0.index) \($0.isEnd)" } == ["5000000000 0 false"])
        clock.advance(by: 30_000_000_000)  // a late wake-up does every due event, in order
        #expect(scheduler.step().count == 11)
        clock.advance(by: 10_000_000_000)
        scheduler.step()
        #expect(
            injector.calls == [
                "105: begin broker 1 down",
                "135: end broker 1 down", "135: begin broker 2 RTT +200 ms", "135: end broker 2 RTT +200 ms",
                "135: begin Produce errors NOT_LEADER_FOR_PARTITION × 50", "135: begin leader of t/0 to broker 2",
                "135: begin topic t errors REQUEST_TIMED_OUT", "135: end topic t errors REQUEST_TIMED_OUT",
                "135: begin ClickHouse paused (SIGSTOP)", "135: end ClickHouse paused (SIGSTOP)",
                "135: begin ClickHouse killed (SIGKILL), restarted at the end",
                "135: end ClickHouse killed (SIGKILL), restarted at the end",
                "145: begin command `docker pause rp`", "145: end command `docker pause rp`",
            ])
        let windows = scheduler.stop()
        #expect(windows.count == 8 && windows.allSatisfy { $0.outcome == "ok" })
        #expect(windows[0].startSeconds == 5 && windows[0].endSeconds == 35)
        #expect(windows[2].startSeconds == windows[2].endSeconds)  // a one-off
    }

    @Test func endsComeBeforeBeginsAtTheSameInstantAndStopEndsOpenFaults() throws {
        let workload = try WorkloadLoader.parse(
            """
            source: {profile: calm}
            duration: 30s
            faults:
              - {at: 10s, for: 5s, target: clickhouse, action: pause}
              - {at: 5s, for: 5s, target: broker, action: down}
              - {at: 10s, for: 1s, target: broker, action: rtt, rtt: 1s}
            """, file: "w.yaml")
        #expect(
            FaultScheduler.events(workload.faults).map { "\($0.offsetNanos / 1_000_000_000)\($0.isEnd ? "-" : "+")\($0.index)" }
                == ["5+1", "10-1", "10+0", "10+2", "11-2", "15-0"])
        let clock = ManualClock(monotonic: 0)
        let injector = RecordingInjector(clock: clock, failing: "broker 1 RTT +1000 ms")
        let scheduler = FaultScheduler(faults: workload.faults, injector: injector, clock: clock)
        scheduler.arm(measureFromNanos: 0)
        clock.advance(by: 12_000_000_000)
        scheduler.step()
        let windows = scheduler.stop()  // the pause is still on: it is ended, and says so
        #expect(injector.calls.last == "12: end ClickHouse paused (SIGSTOP)")
        #expect(!injector.calls.contains("11: end broker 1 RTT +1000 ms"))  // a failed injection is not undone
        #expect(windows.map(\.outcome).prefix(2) == ["ended early (the run ended)", "ok"])
        #expect(windows[2].outcome.hasPrefix("failed: ") && windows[2].outcome.contains("refused"))
    }

    static func point(_ t: Double, backlog: Double, behind: Double?) -> BenchReport.IntervalPoint {
        var point = BenchReport.IntervalPoint(
            t: t, seconds: 1, offeredMsgs: 1000, sentMsgs: 1000, deliveredMsgs: [1000], sentMB: [0.1], backlog: [backlog])
        point.clickhouseBehind = behind
        return point
    }

    @Test func recoveryIsTheTimeFromTheEndUntilBacklogAndLagAreNormalAgain() {
        // Backlog ~200 before the fault (normal: 1.5 × 200 + 100 = 400); the fault is 3–5 s.
        let backlog: [Double] = [200, 150, 200, 9_000, 20_000, 12_000, 500, 300, 200, 100]
        let behind: [Double] = [1_000, 800, 900, 9_000, 150_000, 600_000, 200_000, 50_000, 1_400, 1_000]
        let iv = backlog.indices.map { Self.point(Double($0 + 1), backlog: backlog[$0], behind: behind[$0]) }
        let fault = BenchReport.FaultWindow(what: "broker 1 down", target: "broker", startSeconds: 3.2, endSeconds: 5.2, outcome: "ok")
        let late = BenchReport.FaultWindow(what: "pause", target: "clickhouse", startSeconds: 9.5, endSeconds: 9.8, outcome: "ok")
        let out = FaultRecovery.apply([fault, late], intervals: iv)
        // Backlog normal (≤ 1.5 × 200 + 100 = 400) from t=8; lag normal (≤ 1.5 × 1000 + 100 = 1600) from t=9.
        #expect(out.windows[0].recoverySeconds.map { abs($0 - 3.8) < 1e-9 } == true)
        #expect(out.windows[0].maxBacklog == 20_000 && out.windows[0].maxLag == 600_000)
        // The second is normal at the first interval end after it (t=10).
        #expect(out.windows[1].recoverySeconds.map { abs($0 - 0.2) < 1e-9 } == true)
        #expect(out.levels.map(\.crossedAtSeconds) == [5, 6, nil, nil])
        #expect(out.levels.map(\.level) == [100_000, 500_000, 1_000_000, 5_000_000])
    }

    @Test func recoveryNeedsABaselineAndTheEndOfTheFaultWithinTheRun() {
        let iv = [Self.point(1, backlog: 50_000, behind: nil), Self.point(2, backlog: 40_000, behind: nil)]
        let first = BenchReport.FaultWindow(what: "x", target: "broker", startSeconds: 0, endSeconds: 1, outcome: "ok")
        #expect(
            FaultRecovery.apply([first], intervals: iv).windows[0].recoveryNote
                == "no interval before the first fault to tell the normal backlog from")
        let calm = [
            Self.point(1, backlog: 10, behind: nil), Self.point(2, backlog: 40_000, behind: nil), Self.point(3, backlog: 30_000, behind: nil),
        ]
        let stuck = BenchReport.FaultWindow(what: "x", target: "broker", startSeconds: 1.5, endSeconds: 2, outcome: "ok")
        let out = FaultRecovery.apply([stuck], intervals: calm).windows[0]
        #expect(out.recoverySeconds == nil && out.recoveryNote == "not back to normal by the end of the run" && out.maxBacklog == 40_000)
        // Without ClickHouse figures, the lag is delivered minus consumed, cumulated.
        var firstPoint = Self.point(1, backlog: 0, behind: nil), secondPoint = Self.point(2, backlog: 0, behind: nil)
        firstPoint.consumedMsgs = 400
        secondPoint.consumedMsgs = 1_500
        #expect(FaultRecovery.lag([firstPoint, secondPoint]) == [600, 100])
    }

    /// Freshness is back at the first probe after the fault's end that, with the next two, was
    /// visible within 1 s; counted to when that probe became visible.
    @Test func freshnessRecoveryFromTheProbes() {
        let fault = BenchReport.FaultWindow(what: "ClickHouse paused", target: "clickhouse", startSeconds: 10, endSeconds: 15, outcome: "ok")
        // Probes every second: fresh (0.2 s) before the fault, piled up during it, one fast probe at
        // 17 s that is not yet a trend, then fresh again from 19 s.
        var probes: [FaultRecovery.ProbePoint] = (0...30).map { .init(sentSeconds: Double($0), freshnessSeconds: 0.2) }
        for second in 10...16 { probes[second].freshnessSeconds = Double(16 - second) + 1.5 }
        probes[17].freshnessSeconds = 0.3
        probes[18].freshnessSeconds = 1.4
        let out = FaultRecovery.apply([fault], intervals: [], probes: probes).windows[0]
        #expect(out.freshnessRecoverySeconds.map { abs($0 - 4.2) < 1e-9 } == true)  // probe 19, visible at 19.2 s
        #expect(out.maxFreshnessSeconds == 7.5)  // the probe sent at 10 s
        #expect(out.freshnessNote == nil)
        // Never back: a note, and a probe never seen counts as its wait until the last probe.
        var stuck = probes
        for second in 15...30 { stuck[second].freshnessSeconds = second == 20 ? nil : 2 }
        let never = FaultRecovery.apply([fault], intervals: [], probes: stuck).windows[0]
        #expect(never.freshnessRecoverySeconds == nil && never.freshnessNote == "freshness not back under 1 s by the end of the run")
        #expect(never.maxFreshnessSeconds == 10)  // the probe sent at 20 s, unseen at 30 s
        #expect(FaultRecovery.apply([fault], intervals: [], probes: []).windows[0].freshnessNote == "no freshness probes in the run")
        #expect(FaultRecovery.apply([fault], intervals: []).windows[0].freshnessNote == nil)
    }

    @Test func faultsTableAndBandsInTheReports() throws {
        var run = BenchReport.Run(
            index: 0, startedAt: "2026-12-06T00:00:00Z", measuredSeconds: 12,
            intervals: (1...12).map { Self.point(Double($0), backlog: 1, behind: nil) },
            latencies: [], sinks: [], resources: [], metrics: [:])
        var window = BenchReport.FaultWindow(what: "broker 1 down", target: "broker", startSeconds: 5, endSeconds: 10, outcome: "ok")
        window.recoverySeconds = 2
        window.maxBacklog = 12_000
        run.faults = [window]
        run.lagLevels = [.init(level: 100_000, crossedAtSeconds: nil)]
        let report = BenchReport(
            tool: .init(), environment: .init(hostname: "h", os: "l", kernel: "k", cpus: 2, memoryBytes: 1, startedAt: "s", finishedAt: "f"),
            workload: .init(
                name: "chaos", path: "c.yaml", description: "", source: "s", pace: "1x", warmupSeconds: 0,
                durationSeconds: 10, sinks: [], repetitions: 1, targets: nil),
            runs: [run], metrics: [:])
        let md = ReportMarkdown.render(report)
        #expect(md.contains("| broker 1 down | broker | 5 s | 10 s | ok | 2 s | \(Units.format(12_000)) | – | – | – |"), "\(md)")
        #expect(md.contains("Consumer lag levels: \(Units.format(100_000)) not reached."), "\(md)")
        let html = ReportHTML.render(report)
        #expect(html.contains("<title>broker 1 down</title></rect>") && html.contains("<td>broker 1 down</td>"))
        // Old reports (no faults key) still decode.
        let decoded = try JSONDecoder().decode(BenchReport.self, from: JSONEncoder().encode(report))
        #expect(decoded.runs[0].faults == [window])
    }
}
