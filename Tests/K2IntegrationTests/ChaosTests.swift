import Foundation
import K2Bench
import K2Core
import Testing

/// The shipped chaos workload (reports/workloads/chaos.yaml) end to end: the embedded broker and
/// ClickHouse with the local v2 pipeline, broker down / RTT / NOT_LEADER errors / a leader move /
/// ClickHouse paused and killed + restarted. The verdict: every message accounted for, none lost,
/// none duplicated by k2, and a recovery figure per fault.
@Suite(.serialized)
struct ChaosTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func chaosWorkloadAccountsForEveryMessageThroughEveryFault() throws {
        let workload = try WorkloadLoader.load(file: Self.root + "/reports/workloads/chaos.yaml")
        #expect(workload.faults.count == 6)
        let started = SystemClock().monotonicNanos()
        let out = try WorkloadRun.run(workload, progress: { print("chaos: " + $0) })
        let seconds = Double(SystemClock().monotonicNanos() - started) / 1e9
        let markdown = ReportMarkdown.render(out.report)
        print(markdown)
        #expect(seconds < 180, "the chaos workload must run in at most 3 minutes (took \(seconds) s)")
        let run = try #require(out.report.runs.first)
        let m = out.report.metrics
        func metric(_ name: String) -> Double? { m[name]?.value }

        // Every fault happened and was undone.
        let faults = try #require(run.faults)
        #expect(faults.count == 6)
        for fault in faults { #expect(fault.outcome == "ok", "\(fault.what): \(fault.outcome)") }
        #expect(faults.map(\.target) == ["broker", "broker", "broker", "broker", "clickhouse", "clickhouse"])

        // The ledger: sent = delivered + failed + unknown; the broker holds exactly the delivered
        // messages (no loss after the ack, no duplicate by k2's producer); ClickHouse lost none.
        let sink = try #require(run.sinks.first)
        #expect(sink.sent > 50_000 && sink.delivered > 0)
        #expect(metric("ledger.kafka.no_fate") == 0, "notes: \(out.report.notes)")
        #expect(metric("ledger.kafka.sent") == Double(sink.sent))
        #expect(metric("ledger.broker.messages") == Double(sink.delivered), "notes: \(out.report.notes)")
        #expect(metric("ledger.broker.extra") == 0 && metric("ledger.broker.missing") == 0)
        #expect(metric("ledger.clickhouse.missing") == 0, "notes: \(out.report.notes)")
        #expect(metric("ledger.lost") == 0, "notes: \(out.report.notes)")

        // Recovery figures per fault, in the report; the broker faults recover within the run.
        for fault in faults where fault.target == "broker" {
            #expect(fault.recoverySeconds != nil, "\(fault.what): \(fault.recoveryNote ?? "")")
        }
        #expect(run.lagLevels?.count == 4)
        #expect(markdown.contains("### Faults") && markdown.contains("broker 1 down") && markdown.contains("Consumer lag levels:"))
    }
}
