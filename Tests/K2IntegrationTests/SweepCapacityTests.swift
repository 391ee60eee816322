import Foundation
import K2Bench
import K2Core
import K2TestSupport
import Testing

/// `k2 bench sweep --search` as a new user runs it: 2 s steps against a consumer that serves
/// 8,000 msg/s (`mock://?capacity=8000`, a queue in virtual time, so the answer depends on the
/// schedule, not on this machine's speed). With the default criteria (SLO 1 s) it must find
/// 8,000 ± 10 %: before the trend check and the mock's honest delivered count, a 10,000 msg/s
/// step passed (p99 497 ms < 1 s, backlog 0) although the queue grew for the whole step.
/// The search: 1.5k, 3k, 6k, 12k (saturated), then bisection 8.5k (saturated: 500 msg/s of
/// backlog growth > 2 % of offered), 7.1k, 7.8k — within 10 %. ~40 s.
@Suite(.serialized) struct SweepCapacityTests {
    @Test(.timeLimit(.minutes(3))) func aConsumerOf8000PerSecondIsFoundAt8000WithTwoSecondSteps() throws {
        let dir = TemporaryDirectory()
        let capture = dir.file("s.k2cap")
        try SampleTraffic(seed: 3).write(to: capture, count: 5_000)
        let workload = try WorkloadLoader.parse(
            """
            name: capacity-8000
            source: {captures: [\(capture)], loop: true}
            rate: 1k
            warmup: 1s
            duration: 2s
            sinks: ["mock://?capacity=8000"]
            """, file: dir.file("w.yaml"))
        let sweep = try WorkloadSweep.run(
            workload, plan: .search(min: 1_500, max: 1_000_000, precision: 0.1, maxSteps: 12),
            to: dir.file("out"))
        let best = try #require(sweep.maxSustainable, "\(sweep.markdown())")
        #expect((7_200...8_800).contains(best.achieved), "\(sweep.markdown())")
        let saturated = try #require(sweep.firstSaturated)
        #expect(saturated.rate <= 8_800, "a rate over 8,800 msg/s is the lowest saturated step: \(sweep.markdown())")
        // Above 8k the queue grows within the step, and the sweep says so.
        for step in sweep.steps where step.rate >= 8_400 {
            #expect(!step.sustainable && step.why.contains("backlog growing"), "\(step.rate): \(step.why)")
        }
        #expect(sweep.saturationBound == "system-bound")
        // CPU per message from work (the harness at max speed), not from the paced steps' spin-wait.
        let cpu = try #require(sweep.cpuPerMessage)
        #expect(cpu.source.hasPrefix("harness at max speed"))
        #expect(FileManager.default.fileExists(atPath: dir.file("out/steps/max/report.json")))
        if let paced = best.cpuCores.map({ $0 / best.achieved * 1e6 }) {
            #expect(cpu.micros < paced, "max speed \(cpu.micros) µs/msg vs paced \(paced) µs/msg (spin included)")
        }
    }
}
