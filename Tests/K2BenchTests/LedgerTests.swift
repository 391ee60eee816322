import Foundation
import K2Core
import K2Replay
import Testing

@testable import K2Bench

/// The run ledger's verdicts (k2-made losses and duplicates against the system's), its notes and
/// report table, the drift slopes of a soak and `--duration`.
struct LedgerTests {
    static func counts(sent: UInt64, delivered: UInt64, failed: UInt64 = 0) -> SinkCounts {
        var counts = SinkCounts()
        counts.sent = sent
        counts.delivered = delivered
        counts.failed = failed
        return counts
    }

    @Test func pipelineLossIsTheSystemsAndNamesRetention() {
        var ledger = RunLedger(counts: Self.counts(sent: 1000, delivered: 1000))
        ledger.brokerMessages = 1000
        ledger.clickhouseRows = 970
        ledger.retentionDeleted = 400
        #expect(ledger.lostByK2 == 0 && ledger.duplicatesByK2 == 0)
        #expect(ledger.lostBySystem == 30 && ledger.lost == 30 && ledger.duplicatesBySystem == 0)
        #expect(ledger.metrics["ledger.lost.system"]?.value == 30 && ledger.metrics["ledger.broker.retention_deleted"]?.value == 400)
        let note = ledger.notes.joined(separator: "\n")
        #expect(note.contains("30 message(s) on the broker never landed in ClickHouse: lost by the system under test"))
        #expect(note.contains("deleted 400 of this run's messages by retention") && note.contains("up to 30 of them"))
    }

    @Test func producerDuplicatesAreK2sBeyondTheFailedOnes() {
        var ledger = RunLedger(counts: Self.counts(sent: 1000, delivered: 990, failed: 10))
        ledger.brokerMessages = 995
        #expect(ledger.duplicatesByK2 == 0, "5 more than delivered: failed ones (10) that landed after all")
        ledger.brokerMessages = 1004
        #expect(ledger.duplicatesByK2 == 4, "14 more than delivered, at most 10 of them failed ones that landed")
    }

    @Test func readBackGivesFirstIDsOfLostDuplicatedAndReordered() {
        var acknowledged = SequenceBitmap()
        for sequence in UInt64(0)..<100 { acknowledged.insert(sequence) }
        var tally = TopicIDReader.Tally()
        for sequence in UInt64(0)..<100 where sequence != 42 { tally.read.insert(sequence) }
        tally.duplicates = 2
        tally.firstDuplicates = [7, 9]
        tally.reordered = 1
        tally.firstReordered = [50]
        tally.complete = true
        var ledger = RunLedger(counts: Self.counts(sent: 100, delivered: 100))
        ledger.brokerMessages = 101
        ledger.readBack = .init(tally: tally, acknowledged: acknowledged)
        ledger.readBackRun = 0xabc
        #expect(ledger.readBackLost == 1 && ledger.lostBySystem == 1)
        #expect(ledger.duplicatesByK2 == 2)
        #expect(ledger.metrics["ledger.topic.read"]?.value == 99 && ledger.metrics["ledger.topic.reordered"]?.value == 1)
        let note = ledger.notes.joined(separator: "\n")
        #expect(note.contains("1 acknowledged message(s) were not read back from the topic (first k2-id: 0000000000000abc-42)"))
        #expect(note.contains("2 message(s) read back more than once (first k2-id: 0000000000000abc-7, 0000000000000abc-9)"))
        #expect(note.contains("out of order within their key (first k2-id: 0000000000000abc-50)"))
        let report = BenchReport(
            tool: .init(), environment: .init(hostname: "h", os: "l", kernel: "k", cpus: 2, memoryBytes: 1, startedAt: "s", finishedAt: "f"),
            workload: .init(
                name: "chaos", path: "c.yaml", description: "", source: "s", pace: "1x", warmupSeconds: 0,
                durationSeconds: 10, sinks: [], repetitions: 1, targets: nil),
            runs: [], metrics: ledger.metrics)
        let markdown = ReportLedger.markdown(report)
        #expect(markdown.contains("| duplicates by k2 | 2 | FAIL (a k2 bug) |"))
        #expect(markdown.contains("| messages lost by the system under test | 1 | finding about the system |"))
    }

    /// The broker lost one replayed message and one probe after acknowledging them: the high
    /// watermarks see two missing and cannot say which; by `k2-id` the ledger counts one against
    /// the replayed messages and one against the probes.
    @Test func lossAfterTheAcknowledgementIsAttributedByID() {
        var acknowledged = SequenceBitmap()
        for sequence in UInt64(0)..<100 { acknowledged.insert(sequence) }
        var probesAcknowledged = SequenceBitmap()
        for id in UInt64(1)...10 { probesAcknowledged.insert(id) }
        var tally = TopicIDReader.Tally()
        for sequence in UInt64(0)..<100 where sequence != 42 { tally.read.insert(sequence) }
        for id in UInt64(1)...10 where id != 5 { tally.probesRead.insert(id) }
        tally.complete = true
        var ledger = RunLedger(counts: Self.counts(sent: 100, delivered: 100))
        ledger.probes = 10
        ledger.readBack = .init(tally: tally, acknowledged: acknowledged, probesAcknowledged: probesAcknowledged)
        ledger.readBackRun = 0xabc
        ledger.probeRun = 0xdef
        // The topic grew by 99 + 9: the replayed messages on it are the growth less the probes read back.
        #expect(ledger.probesOnTopic == 9)
        ledger.brokerMessages = 99 + 9 - ledger.probesOnTopic
        ledger.clickhouseRows = 99
        #expect(ledger.brokerMissing == 1 && ledger.probesLost == 1 && ledger.brokerExtra == 0)
        #expect(ledger.lostBySystem == 1 && ledger.clickhouseMissing == 0 && ledger.duplicatesByK2 == 0)
        let metrics = ledger.metrics
        #expect(metrics["ledger.broker.missing"]?.value == 1 && metrics["ledger.broker.probes_lost"]?.value == 1)
        #expect(metrics["ledger.topic.probes"]?.value == 9 && metrics["ledger.lost.system"]?.value == 1)
        let note = ledger.notes.joined(separator: "\n")
        #expect(note.contains("1 delivered message(s) are not on the broker (by k2-id)"), "\(note)")
        #expect(note.contains("1 acknowledged freshness probe(s) were not read back from the topic (first k2-id: 0000000000000def-5)"), "\(note)")
        // Without the probes told apart, the high watermarks count the lost probe against the replayed messages.
        ledger.readBack?.probesAcknowledged = nil
        #expect(ledger.probesOnTopic == 10 && ledger.probesLost == nil && ledger.metrics["ledger.broker.probes_lost"] == nil)
    }

    /// The first lost ids' send times, against the fault schedule, in the notes and the table.
    @Test func firstLostIDsArePlacedAgainstTheFaultSchedule() {
        var acknowledged = SequenceBitmap()
        for sequence in UInt64(0)..<100 { acknowledged.insert(sequence) }
        var probesAcknowledged = SequenceBitmap()
        for sequence in UInt64(0)..<10 { probesAcknowledged.insert(sequence) }
        var tally = TopicIDReader.Tally()
        for sequence in UInt64(0)..<100 where sequence != 42 && sequence != 80 { tally.read.insert(sequence) }
        for sequence in UInt64(0)..<10 where sequence != 9 { tally.probesRead.insert(sequence) }
        tally.complete = true
        var ledger = RunLedger(counts: Self.counts(sent: 100, delivered: 100))
        ledger.readBack = .init(tally: tally, acknowledged: acknowledged, probesAcknowledged: probesAcknowledged)
        ledger.readBackRun = 0xabc
        ledger.probeRun = 0xdef
        // Replayed message n sent 0.1 n s after the window's start (origin 1,000 s), probe n at n s;
        // message 80 has no send time known.
        let origin: Int64 = 1_000_000_000_000
        ledger.placeFirstIDs(
            replayed: { $0 == 80 ? nil : origin + Int64($0) * 100_000_000 }, probes: { origin + Int64($0) * 1_000_000_000 }, origin: origin)
        #expect(ledger.firstSent["topic.lost"] == [4.2, nil])
        #expect(ledger.firstSent["broker.probes_lost"] == [9])
        let metrics = ledger.metrics
        #expect(metrics["ledger.topic.lost.first_s"]?.value == 4.2 && metrics["ledger.broker.probes_lost.first_s"]?.value == 9)
        let note = ledger.notes.joined(separator: "\n")
        #expect(note.contains("(first k2-id: 0000000000000abc-42 sent at 4.2 s, 0000000000000abc-80)"), "\(note)")
        #expect(note.contains("(first k2-id: 0000000000000def-9 sent at 9 s)"), "\(note)")
        var down = BenchReport.FaultWindow(what: "broker 1 down", target: "broker", startSeconds: 3, endSeconds: 6, outcome: "ok")
        let move = BenchReport.FaultWindow(what: "leader move", target: "broker", startSeconds: 7, endSeconds: 7, outcome: "ok")
        let rows = ReportLedger.rows(metrics, faults: [down, move])
        #expect(rows[2][2] == "2 (first sent at 4.2 s, during broker 1 down, 3–6 s)", "\(rows[2])")
        #expect(rows[3][2] == "1 (first sent at 9 s, 2 s after leader move (at 7 s))", "\(rows[3])")
        #expect(rows[4][2] == "2 (first sent at 4.2 s, during broker 1 down, 3–6 s)", "\(rows[4])")
        down.startSeconds = 5
        #expect(ReportLedger.when(4.2, [down]) == "before the first fault")
        #expect(ReportLedger.when(4.2, []) == "no faults")
    }

    @Test func slopePerHourOfADriftAndOfAFlatLine() {
        let growing = (0..<60).map { (seconds: Double($0), value: 1e6 * Double($0) / 60) }
        #expect(abs((Assembler.slopePerHour(growing) ?? 0) - 60e6) < 1)
        #expect(Assembler.slopePerHour((0..<60).map { (seconds: Double($0), value: 5) }) == 0)
        #expect(Assembler.slopePerHour((0..<5).map { (seconds: Double($0) * 10, value: Double($0)) }) == nil)
    }

    @Test func durationOverrideKeepsFaultsInside() throws {
        let workload = try WorkloadLoader.parse(
            """
            source: {profile: calm}
            duration: 60s
            embedded: {brokers: 3}
            faults:
              - {at: 5s, for: 5s, target: broker, action: down}
            """, checkFiles: false)
        #expect(try workload.measuring(for: 20_000_000_000).durationNanos == 20_000_000_000)
        #expect(throws: BenchError.self) { try workload.measuring(for: 8_000_000_000) }
    }
}
