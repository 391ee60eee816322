import K2Config
import K2Replay

/// Capacity planning: run a workload at increasing rates until the system saturates, report the
/// highest sustainable rate with the curve, and extrapolate the CPU cores needed for target
/// rates from the measured CPU per message, against the 16-core budget.
package struct Sweep: Sendable, Equatable, Codable {
    /// When a step counts as sustainable.
    package struct Criteria: Sendable, Equatable, Codable {
        /// Achieved (acknowledged) throughput must reach this share of the offered rate. Default 0.95.
        package var minAchievedShare = 0.95
        /// p99 of the latency SLO metric must stay under this (ms). Default 1000 ms.
        package var latencySLOms = 1000.0
        /// The latency metric the SLO applies to (a report metric name). Default: the first present of
        /// freshness, end-to-end, publish, delivery, lateness (all `intended`, p99).
        package var latencyMetric: String?
        /// The backlog (sent, not acknowledged; or produced, not consumed) at the end may hold at most
        /// this many seconds of the offered rate. Default 1 s.
        package var maxBacklogSeconds = 1.0
        /// The trend within a step: a backlog (or consumer lag) growing by more than this share of
        /// the offered rate per second over the step's intervals saturates the step, even when
        /// the step was too short for the thresholds above to be reached. Nil = no trend check.
        /// Default 0.02 (2 %/s), so a system serving 8,000 msg/s is found saturated at ~8,200.
        var maxBacklogGrowthShare: Double? = 0.02
        /// The sender's deficit (offered minus sent, summed over the intervals) growing by more
        /// than this share of the offered rate per second, to more than a quarter second of it,
        /// saturates the step: the load generator falls behind (harness-bound). A stall it
        /// recovers from within the step does not count. Default 0.05.
        var maxSenderDeficitGrowthShare: Double? = 0.05
        package init() {}
    }

    package struct Step: Sendable, Equatable, Codable {
        package var rate: Double
        package var offered: Double
        package var achieved: Double
        package var latencyP99ms: Double?
        package var latencyMetric: String?
        package var backlog: Double
        package var cpuCores: Double?
        package var cpuSource: String?
        package var sustainable: Bool
        package var why: String
        /// The step's run directory, when written.
        package var report: String?
        /// What limited the step: "harness-bound" or "system-bound" (`K2Replay.Bottleneck`, the same
        /// classifier as the replay summary's); nil in sweeps written before it.
        package var bound: String?

        package init(
            rate: Double, offered: Double, achieved: Double, latencyP99ms: Double? = nil, latencyMetric: String? = nil,
            backlog: Double = 0, cpuCores: Double? = nil, cpuSource: String? = nil, sustainable: Bool, why: String, report: String? = nil
        ) {
            self.rate = rate
            self.offered = offered
            self.achieved = achieved
            self.latencyP99ms = latencyP99ms
            self.latencyMetric = latencyMetric
            self.backlog = backlog
            self.cpuCores = cpuCores
            self.cpuSource = cpuSource
            self.sustainable = sustainable
            self.why = why
            self.report = report
        }
    }

    /// One target rate of the extrapolation.
    package struct Projection: Sendable, Equatable, Codable {
        package var rate: Double
        package var cores: Double
        package var fitsBudget: Bool
    }

    package var schema = "k2-bench-sweep/1"
    package var workload = ""
    /// Steps in the order they ran.
    package var steps: [Step] = []
    package var criteria = Criteria()
    /// CPU budget in cores (v2 hard budget: 16, documents 001/003/004).
    package var budgetCores = 16.0
    /// Rates the extrapolation is printed for.
    package var targetRates: [Double] = [10_000, 50_000, 1_000_000]
    /// The CPU per message the extrapolation uses, when measured apart from the steps (the
    /// harness at max speed, `WorkloadSweep`); nil = from the max sustainable step.
    package var cpuPerMessage: CPUPerMessage?

    /// CPU time per message and where it was measured.
    package struct CPUPerMessage: Sendable, Equatable, Codable {
        package var micros: Double
        /// e.g. "harness at max speed (5.1M msg/s; no pacing spin)".
        package var source: String
    }

    /// The latency metrics tried, in order, when `criteria.latencyMetric` is not set.
    static let latencyMetrics = [
        "latency.freshness.intended.p99", "latency.end_to_end.intended.p99", "latency.publish.intended.p99",
        "latency.delivery.intended.p99", "latency.lateness.intended.p99",
    ]

    /// Judges one step from its report.
    package func judge(rate: Double, _ r: BenchReport) -> Step {
        let offered = r.metrics["throughput.offered.msgs_per_s"]?.value ?? rate
        let achieved = r.metrics["throughput.achieved.msgs_per_s"]?.value ?? 0
        let latName = criteria.latencyMetric ?? Self.latencyMetrics.first { r.metrics[$0] != nil }
        let p99 = latName.flatMap { r.metrics[$0]?.value }
        var backlog = r.metrics["backlog.end.messages"]?.value ?? 0
        // Consumer lag: produced (achieved) but not read back, over the measured window.
        if let consumed = r.metrics["throughput.consumer.msgs_per_s"]?.value {
            let secs = r.runs.last?.measuredSeconds ?? 0
            backlog = Swift.max(backlog, (achieved - consumed) * secs)
        }
        var cpu: Double?, cpuSource: String?
        if let cores = r.metrics["resources.sut.cpu_cores.mean"]?.value {
            cpu = cores; cpuSource = "system under test"
        } else if let cores = r.metrics["resources.harness.cpu_cores.mean"]?.value {
            cpu = cores; cpuSource = "harness only (no SUT watched)"
        }
        var why: [String] = []
        var behind = false
        var short = false
        if offered < criteria.minAchievedShare * rate {
            behind = true
            why.append("offered only \(Units.format(offered)) of \(Units.format(rate)) msg/s (the load generator could not keep the rate)")
        }
        if achieved < criteria.minAchievedShare * offered {
            short = true
            why.append("achieved \(Units.format(achieved)) < \(Units.format(criteria.minAchievedShare * 100))% of offered \(Units.format(offered))")
        }
        if let p99, p99 >= criteria.latencySLOms {
            short = true
            why.append("\(latName.map(Self.shortName) ?? "p99") \(Units.format(p99)) ms ≥ SLO \(Units.format(criteria.latencySLOms)) ms")
        } else if p99 == nil, let name = criteria.latencyMetric {
            why.append("\(name) not measured")
        }
        if backlog > criteria.maxBacklogSeconds * Swift.max(offered, 1) {
            short = true
            why.append("backlog \(Units.format(backlog)) messages (> \(Units.format(criteria.maxBacklogSeconds)) s of offered)")
        }
        let trend = Trend(r)
        if let share = criteria.maxBacklogGrowthShare, let growth = trend.backlogGrowth, let last = trend.lastBacklog,
            growth > share * Swift.max(offered, 1), last > 0.05 * Swift.max(offered, 1)
        {
            short = true
            why.append(
                "backlog growing \(Units.format(growth)) msg/s within the step (> \(Units.format(share * 100))% of offered: delivered below offered)")
        }
        if let share = criteria.maxSenderDeficitGrowthShare, let growth = trend.deficitGrowth, let last = trend.lastDeficit,
            growth > share * Swift.max(offered, 1), last > 0.25 * Swift.max(offered, 1)
        {
            behind = true
            why.append("sending \(Units.format(growth)) msg/s behind the schedule within the step (the load generator falls behind: harness-bound)")
        }
        // One classifier for sweeps and replays: a sink that held the sender (the replay's
        // measured blocked share) makes it system-bound even when the sender fell behind.
        let evidence = Bottleneck.Evidence(
            blockedFraction: r.runs.last?.bound?.blockedFraction, behindSchedule: behind,
            deliveredShort: short, unpaced: false, facts: [])
        var step = Step(
            rate: rate, offered: offered, achieved: achieved, latencyP99ms: p99, latencyMetric: latName, backlog: backlog,
            cpuCores: cpu, cpuSource: cpuSource, sustainable: why.isEmpty, why: why.isEmpty ? "ok" : why.joined(separator: "; "))
        step.bound = Bottleneck.classify(evidence).bound.rawValue
        return step
    }

    /// How a step's backlog and sender deficit moved over its intervals (the last repetition): growth
    /// per second between the first and the last interval. Nil with fewer than 2 intervals.
    struct Trend {
        var backlogGrowth: Double?
        var lastBacklog: Double?
        var deficitGrowth: Double?
        var lastDeficit: Double?

        init(_ report: BenchReport) {
            guard let intervals = report.runs.last?.intervals, intervals.count >= 2,
                let first = intervals.first, let last = intervals.last, last.t > first.t
            else { return }
            // The slowest sink's backlog; with a consumer, the lag it accumulates, whichever is larger.
            var lag = 0.0
            let backlog = intervals.map { point -> Double in
                let sinks = point.backlog.max() ?? 0
                if let consumed = point.consumedMsgs {
                    lag = Swift.max(0, lag + (point.deliveredMsgs.min() ?? point.sentMsgs) - consumed)
                }
                return Swift.max(sinks, lag)
            }
            let span = last.t - first.t
            backlogGrowth = (backlog.last! - backlog.first!) / span
            lastBacklog = backlog.last
            var owed = 0.0
            let deficit = intervals.map { point -> Double in
                owed = Swift.max(0, owed + point.offeredMsgs - point.sentMsgs)
                return owed
            }
            deficitGrowth = (deficit.last! - deficit.first!) / span
            lastDeficit = deficit.last
        }
    }

    static func shortName(_ metric: String) -> String {
        metric.hasPrefix("latency.") ? String(metric.dropFirst("latency.".count)) : metric
    }

    /// The highest rate whose step and every lower step were sustainable; nil when none was.
    package var maxSustainable: Step? {
        var best: Step?
        for step in steps.sorted(by: { $0.rate < $1.rate }) {
            guard step.sustainable else { break }
            best = step
        }
        return best
    }

    /// The lowest rate that saturated, if any.
    package var firstSaturated: Step? {
        steps.filter { !$0.sustainable }.min { $0.rate < $1.rate }
    }

    /// Cores needed for `rate`, linear in the CPU per message (`cpuMicrosPerMessage`).
    package func coresNeeded(for rate: Double) -> Double? {
        cpuMicrosPerMessage.map { $0 / 1e6 * rate }
    }

    /// CPU microseconds per message: `cpuPerMessage` when measured apart, else at the max
    /// sustainable step (fixed overheads and, for the harness, the pacer's spin-wait included,
    /// so it errs on the high side).
    package var cpuMicrosPerMessage: Double? {
        if let perMessage = cpuPerMessage { return perMessage.micros }
        guard let step = maxSustainable, let cpu = step.cpuCores, step.achieved > 0 else { return nil }
        return cpu / step.achieved * 1e6
    }

    /// Where `cpuMicrosPerMessage` was measured.
    var cpuPerMessageSource: String? {
        cpuPerMessage?.source
            ?? maxSustainable.flatMap { s in s.cpuCores.map { _ in "\(s.cpuSource ?? "") at \(Units.format(s.rate)) msg/s, paced" } }
    }

    /// What bounded the first saturated step: the load generator (it fell behind or could not
    /// offer the rate) or the system under test (delivery, backlog, latency).
    package var saturationBound: String? {
        guard let bad = firstSaturated else { return nil }
        if let bound = bad.bound { return bound }
        // Sweeps written before steps carried their label.
        return bad.why.contains("harness-bound") || bad.why.contains("could not keep the rate")
            ? Bottleneck.harness.rawValue : Bottleneck.system.rawValue
    }

    /// Shards of the max sustainable rate needed to offer `rate`.
    func shardsNeeded(for rate: Double) -> Int? {
        guard let best = maxSustainable, best.achieved > 0 else { return nil }
        return Int((rate / best.achieved).rounded(.up))
    }

    package var projections: [Projection] {
        targetRates.compactMap { t in coresNeeded(for: t).map { Projection(rate: t, cores: $0, fitsBudget: $0 <= budgetCores) } }
    }

    /// One line: the answer.
    package var summary: String {
        guard let best = maxSustainable else {
            if steps.isEmpty { return "No steps ran." }
            return
                "No stable rate found: the lowest step (\(Units.format(steps.map(\.rate).min() ?? 0)) msg/s) already saturated. Lower the rates and run again."
        }
        var summary = "Maximum sustainable rate: \(Units.format(best.achieved)) msg/s (step \(Units.format(best.rate)) msg/s)"
        if let bad = firstSaturated {
            summary += "; \(Units.format(bad.rate)) msg/s saturated (\(bad.why))"
        } else {
            summary += " — every step was sustainable; the real maximum is higher (raise the rates)"
        }
        return summary + "."
    }

    package func markdown() -> String {
        var out = "| rate | offered | achieved | p99 (ms) | backlog | CPU (cores) | sustainable |\n|---|---|---|---|---|---|---|\n"
        for step in steps.sorted(by: { $0.rate < $1.rate }) {
            out +=
                "| \(Units.format(step.rate)) | \(Units.format(step.offered)) | \(Units.format(step.achieved)) | \(step.latencyP99ms.map(Units.format) ?? "–") | \(Units.format(step.backlog)) | \(step.cpuCores.map(Units.format) ?? "–") | \(step.sustainable ? "yes" : "no: " + step.why) |\n"
        }
        if let metric = steps.first(where: { $0.latencyMetric != nil })?.latencyMetric {
            out +=
                "\np99 is `\(metric)`; SLO \(Units.format(criteria.latencySLOms)) ms, achieved ≥ \(Units.format(criteria.minAchievedShare * 100))% of offered, backlog ≤ \(Units.format(criteria.maxBacklogSeconds)) s of offered.\n"
        }
        guard let best = maxSustainable else {
            return out + "\n" + summary + "\n"
        }
        out += "\nMaximum sustainable rate: **\(Units.format(best.achieved)) msg/s** (step \(Units.format(best.rate)))"
        if firstSaturated == nil { out += " — every step was sustainable; the real maximum is higher (raise the rates)" }
        out += ".\n"
        let goal = targetRates.max() ?? 1_000_000
        switch saturationBound {
        case "harness-bound"?:
            let shards = shardsNeeded(for: goal) ?? 0
            out +=
                "\nOne k2 run of this size offers at most \(Units.format(best.achieved)) msg/s (harness-bound: the load generator fell behind): \(Units.format(goal)) msg/s needs \(shards) shards of it (`--shard i/N` on \(shards) workers, merged with `k2 bench merge`)"
            if let cores = best.cpuCores {
                out +=
                    " and about \(Units.format(Double(shards) * cores)) cores for k2 (\(shards) × the \(Units.format(cores)) cores one run used at \(Units.format(best.rate)) msg/s\(best.cpuSource.map { ", \($0)" } ?? ""))"
            }
            out += ".\n"
        case "system-bound"?:
            out +=
                "\nThe system under test saturated above \(Units.format(best.achieved)) msg/s (system-bound: it delivered below what was offered): more k2 shards add load, not capacity.\n"
        default:
            break
        }
        if let us = cpuMicrosPerMessage {
            out += "\nCPU per message: \(Units.format(us)) µs (\(cpuPerMessageSource ?? "")). Extrapolated, linear:\n\n"
            out += "| target rate | cores needed | vs \(Units.format(budgetCores))-core budget |\n|---|---|---|\n"
            for projection in projections {
                out +=
                    "| \(Units.format(projection.rate)) msg/s | \(Units.format(projection.cores)) | \(projection.fitsBudget ? "fits" : "over by \(Units.format(projection.cores - budgetCores))") |\n"
            }
        } else {
            out += "\nNo CPU measured at that step: no extrapolation.\n"
        }
        return out
    }
}

/// Which rate a sweep runs next: a fixed list (stopping at the first saturated step), or a search
/// (doubling from `min` until a step saturates or `max` is reached, then bisecting between the
/// highest sustainable and the lowest saturated rate until they are within `precision`).
package enum SweepPlan: Sendable, Equatable {
    case rates([Double], continueAfterSaturation: Bool)
    case search(min: Double, max: Double, precision: Double, maxSteps: Int)

    /// The next rate to run given the steps so far, or nil when the sweep is done.
    package func next(after steps: [Sweep.Step]) -> Double? {
        switch self {
        case let .rates(rates, cont):
            if !cont, steps.contains(where: { !$0.sustainable }) { return nil }
            return rates.sorted().first { r in !steps.contains { $0.rate == r } }
        case let .search(lo, hi, precision, maxSteps):
            guard steps.count < maxSteps else { return nil }
            guard !steps.isEmpty else { return lo }
            let good = steps.filter(\.sustainable).map(\.rate)
            let bad = steps.filter { !$0.sustainable }.map(\.rate)
            // The lowest rate saturated: nothing lower to try.
            if let minBad = bad.min(), minBad <= lo { return nil }
            guard let minBad = bad.min() else {
                // Still climbing.
                let top = good.max() ?? lo
                if top >= hi { return nil }
                return Swift.min(top * 2, hi)
            }
            let maxGood = good.filter { $0 < minBad }.max() ?? lo
            if minBad / maxGood <= 1 + precision { return nil }
            let mid = Self.round((maxGood * minBad).squareRoot())
            return mid > maxGood && mid < minBad ? mid : nil
        }
    }

    /// Rounds a search rate to 2 significant digits (readable step names).
    static func round(_ r: Double) -> Double {
        guard r > 0 else { return r }
        var scale = 1.0
        while r / scale >= 100 { scale *= 10 }
        return (r / scale).rounded() * scale
    }
}

extension Sweep {
    /// Runs a sweep: `step(rate)` runs the workload at `rate` and returns its report (and where it
    /// was written). Pure logic around the runner, so tests drive it with synthetic reports.
    package static func run(
        plan: SweepPlan, criteria: Criteria = Criteria(), workload: String = "",
        step: (Double) throws -> (BenchReport, String?), progress: ((Step) -> Void)? = nil
    ) rethrows -> Sweep {
        var sweep = Sweep(criteria: criteria)
        sweep.workload = workload
        while let rate = plan.next(after: sweep.steps) {
            let (report, dir) = try step(rate)
            var st = sweep.judge(rate: rate, report)
            st.report = dir
            sweep.steps.append(st)
            progress?(st)
        }
        return sweep
    }
}
