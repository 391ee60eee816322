import Foundation
import K2Core

/// `k2 bench sweep`: a workload run at one rate per step (its `rate:`/`speed:` replaced), each
/// step written as a run directory under `DIR/steps/RATE`, judged by `Sweep.Criteria`; the
/// sweep (curve, max sustainable rate, CPU extrapolation) written to `DIR/sweep.{json,md,html}`.
package enum WorkloadSweep {
    /// What a sweep changes in the workload for its steps.
    package struct Options: Sendable {
        /// Measured time per step (default: the workload's duration).
        package var durationNanos: Int64?
        /// Warm-up per step (default: the workload's warm-up).
        package var warmupNanos: Int64?
        /// Repetitions per step. Default 1 (the sweep's steps are the repetitions that matter).
        package var repetitions = 1
        package var budgetCores = 16.0
        package var targetRates: [Double] = [10_000, 50_000, 1_000_000]
        /// When the max sustainable step's CPU is the harness's own, measure the harness's CPU per
        /// message once more at max speed (`steps/max`): paced steps spend most of their CPU in the
        /// pacer's spin-wait before each message, which is not work and does not scale with the rate.
        var cpuAtMaxSpeed = true
        package init() {}
    }

    package static func run(
        _ workload: Workload, plan: SweepPlan, criteria: Sweep.Criteria = Sweep.Criteria(), options: Options = Options(),
        to dir: String, progress: ((String) -> Void)? = nil
    ) throws -> Sweep {
        var sweep = try Sweep.run(
            plan: plan, criteria: criteria, workload: workload.name,
            step: { rate in
                var stepWorkload = workload
                stepWorkload.pace = .rate(rate)
                stepWorkload.burst = nil  // each step is a steady rate (a burst would not be the step's rate)
                if let duration = options.durationNanos { stepWorkload.durationNanos = duration }
                if let warmup = options.warmupNanos { stepWorkload.warmupNanos = warmup }
                stepWorkload.repetitions = options.repetitions
                stepWorkload.reference = nil
                progress?(
                    "step \(Units.format(rate)) msg/s: warm-up \(TimeText.humanDuration(nanos: stepWorkload.warmupNanos)), measure \(TimeText.humanDuration(nanos: stepWorkload.durationNanos))"
                )
                let out = try WorkloadRun.run(stepWorkload, progress: nil)
                let rel = "steps/" + String(Int64(rate.rounded()))
                try ReportFiles.write(out.report, to: (dir as NSString).appendingPathComponent(rel), intervalLogs: out.intervalLogs)
                return (out.report, rel)
            },
            progress: { st in
                progress?(
                    "  → offered \(Units.format(st.offered)) achieved \(Units.format(st.achieved)) msg/s, p99 \(st.latencyP99ms.map { Units.format($0) + " ms" } ?? "–"), CPU \(st.cpuCores.map { Units.format($0) } ?? "–"): \(st.sustainable ? "sustainable" : "saturated (\(st.why))")"
                )
            })
        sweep.budgetCores = options.budgetCores
        sweep.targetRates = options.targetRates
        if options.cpuAtMaxSpeed, let best = sweep.maxSustainable, best.cpuSource?.hasPrefix("harness") == true {
            var cpuWorkload = workload
            cpuWorkload.pace = .max
            if let duration = options.durationNanos { cpuWorkload.durationNanos = duration }
            if let warmup = options.warmupNanos { cpuWorkload.warmupNanos = warmup }
            cpuWorkload.repetitions = 1
            cpuWorkload.reference = nil
            progress?("CPU per message: the harness at max speed (no pacing spin) …")
            let out = try WorkloadRun.run(cpuWorkload, progress: nil)
            try ReportFiles.write(out.report, to: (dir as NSString).appendingPathComponent("steps/max"), intervalLogs: out.intervalLogs)
            if let cpu = out.report.metrics["resources.harness.cpu_cores.mean"]?.value,
                let sent = out.report.metrics["throughput.sent.msgs_per_s"]?.value, sent > 0
            {
                sweep.cpuPerMessage = .init(
                    micros: cpu / sent * 1e6, source: "harness at max speed, \(Units.format(sent)) msg/s: work, no pacing spin")
                progress?("  → \(Units.format(cpu / sent * 1e6)) µs per message at \(Units.format(sent)) msg/s")
            }
        }
        try SweepFiles.write(sweep, to: dir)
        return sweep
    }
}
