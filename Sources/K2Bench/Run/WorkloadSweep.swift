import Foundation
import K2Core

/// `k2 bench sweep`: a workload run at one rate per step (its `rate:`/`speed:` replaced), each
/// step written as a run directory under `DIR/steps/RATE`, judged by `Sweep.Criteria`; the
/// sweep (curve, max sustainable rate, CPU extrapolation) written to `DIR/sweep.{json,md,html}`.
public enum WorkloadSweep {
    /// What a sweep changes in the workload for its steps.
    public struct Options: Sendable {
        /// Measured time per step (default: the workload's duration).
        public var durationNanos: Int64?
        /// Warm-up per step (default: the workload's warm-up).
        public var warmupNanos: Int64?
        /// Repetitions per step. Default 1 (the sweep's steps are the repetitions that matter).
        public var repetitions = 1
        public var budgetCores = 16.0
        public var targetRates: [Double] = [10_000, 50_000, 1_000_000]
        public init() {}
    }

    public static func run(_ workload: Workload, plan: SweepPlan, criteria: Sweep.Criteria = Sweep.Criteria(), options: Options = Options(),
                           to dir: String, progress: ((String) -> Void)? = nil) throws -> Sweep {
        var s = try Sweep.run(plan: plan, criteria: criteria, workload: workload.name, step: { rate in
            var w = workload
            w.pace = .rate(rate)
            if let d = options.durationNanos { w.durationNanos = d }
            if let d = options.warmupNanos { w.warmupNanos = d }
            w.repetitions = options.repetitions
            w.reference = nil
            progress?("step \(Units.format(rate)) msg/s: warm-up \(TimeText.humanDuration(nanos: w.warmupNanos)), measure \(TimeText.humanDuration(nanos: w.durationNanos))")
            let out = try WorkloadRun.run(w, progress: nil)
            let rel = "steps/" + String(Int64(rate.rounded()))
            try ReportFiles.write(out.report, to: (dir as NSString).appendingPathComponent(rel), intervalLogs: out.intervalLogs)
            return (out.report, rel)
        }, progress: { st in
            progress?("  → offered \(Units.format(st.offered)) achieved \(Units.format(st.achieved)) msg/s, p99 \(st.latencyP99ms.map { Units.format($0) + " ms" } ?? "–"), CPU \(st.cpuCores.map { Units.format($0) } ?? "–"): \(st.sustainable ? "sustainable" : "saturated (\(st.why))")")
        })
        s.budgetCores = options.budgetCores
        s.targetRates = options.targetRates
        try SweepFiles.write(s, to: dir)
        return s
    }
}
