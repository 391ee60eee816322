/// Capacity planning: run a workload at increasing rates until the system saturates, report the
/// highest sustainable rate with the curve, and extrapolate the CPU cores needed for target
/// rates from the measured CPU per message, against the 16-core budget.
public struct Sweep: Sendable {
    /// When a step counts as sustainable.
    public struct Criteria: Sendable {
        /// Achieved (acknowledged) throughput must reach this share of the offered rate.
        public var minAchievedShare = 0.95
        /// p99 of the latency SLO metric must stay under this (ms).
        public var latencySLOms = 1000.0
        /// The backlog at the end may hold at most this many seconds of the offered rate.
        public var maxBacklogSeconds = 1.0
        public init() {}
    }

    public struct Step: Sendable, Equatable {
        public var rate: Double
        public var offered: Double
        public var achieved: Double
        public var latencyP99ms: Double?
        public var latencyMetric: String?
        public var backlog: Double
        public var cpuCores: Double?
        public var cpuSource: String?
        public var sustainable: Bool
        public var why: String
    }

    public var steps: [Step] = []
    public var criteria = Criteria()
    /// CPU budget in cores (v2 hard budget: 16, documents 001/003/004).
    public var budgetCores = 16.0

    public init(criteria: Criteria = Criteria()) {
        self.criteria = criteria
    }

    /// Judges one step from its report.
    public func judge(rate: Double, _ r: BenchReport) -> Step {
        let offered = r.metrics["throughput.offered.msgs_per_s"]?.value ?? rate
        let achieved = r.metrics["throughput.achieved.msgs_per_s"]?.value ?? 0
        let latencyNames = ["latency.freshness.intended.p99", "latency.end_to_end.intended.p99", "latency.publish.intended.p99", "latency.lateness.intended.p99"]
        let latName = latencyNames.first { r.metrics[$0] != nil }
        let p99 = latName.flatMap { r.metrics[$0]?.value }
        let backlog = r.metrics["backlog.end.messages"]?.value ?? 0
        var cpu: Double?, cpuSource: String?
        if let c = r.metrics["resources.sut.cpu_cores.mean"]?.value { cpu = c; cpuSource = "system under test" }
        else if let c = r.metrics["resources.harness.cpu_cores.mean"]?.value { cpu = c; cpuSource = "harness only (no SUT watched)" }
        var why: [String] = []
        if achieved < criteria.minAchievedShare * offered {
            why.append("achieved \(Units.format(achieved)) < \(Units.format(criteria.minAchievedShare * 100))% of offered \(Units.format(offered))")
        }
        if let p99, p99 >= criteria.latencySLOms { why.append("p99 \(Units.format(p99)) ms ≥ SLO \(Units.format(criteria.latencySLOms)) ms") }
        if backlog > criteria.maxBacklogSeconds * offered { why.append("backlog \(Units.format(backlog)) messages growing") }
        return Step(rate: rate, offered: offered, achieved: achieved, latencyP99ms: p99, latencyMetric: latName, backlog: backlog,
                    cpuCores: cpu, cpuSource: cpuSource, sustainable: why.isEmpty, why: why.isEmpty ? "ok" : why.joined(separator: "; "))
    }

    /// The highest rate whose step and every lower step were sustainable; nil when none was.
    public var maxSustainable: Step? {
        var best: Step?
        for s in steps.sorted(by: { $0.rate < $1.rate }) {
            guard s.sustainable else { break }
            best = s
        }
        return best
    }

    /// Cores needed for `rate`, from the CPU per message at the max sustainable step.
    public func coresNeeded(for rate: Double) -> Double? {
        guard let s = maxSustainable, let cpu = s.cpuCores, s.achieved > 0 else { return nil }
        return cpu / s.achieved * rate
    }

    public func markdown(targets: [Double] = [10_000, 50_000, 1_000_000]) -> String {
        var out = "| rate | offered | achieved | p99 (ms) | backlog | CPU (cores) | sustainable |\n|---|---|---|---|---|---|---|\n"
        for s in steps {
            out += "| \(Units.format(s.rate)) | \(Units.format(s.offered)) | \(Units.format(s.achieved)) | \(s.latencyP99ms.map(Units.format) ?? "–") | \(Units.format(s.backlog)) | \(s.cpuCores.map(Units.format) ?? "–") | \(s.sustainable ? "yes" : "no: " + s.why) |\n"
        }
        guard let best = maxSustainable else {
            return out + "\nNo stable rate found: the lowest step already saturated. Lower the rates and run again.\n"
        }
        out += "\nMaximum sustainable rate: **\(Units.format(best.achieved)) msg/s** (step \(Units.format(best.rate)))"
        if steps.allSatisfy(\.sustainable) { out += " — every step was sustainable; the real maximum is higher (raise the rates)" }
        out += ".\n"
        if let cpu = best.cpuCores, best.achieved > 0 {
            out += "\nCPU per message: \(Units.format(cpu / best.achieved * 1e6)) µs (\(best.cpuSource ?? "")). Extrapolated, linear:\n\n"
            out += "| target rate | cores needed | vs \(Units.format(budgetCores))-core budget |\n|---|---|---|\n"
            for t in targets {
                let c = cpu / best.achieved * t
                out += "| \(Units.format(t)) msg/s | \(Units.format(c)) | \(c <= budgetCores ? "fits" : "over by \(Units.format(c - budgetCores))") |\n"
            }
        }
        return out
    }

    /// `1k,5k,10k` → rates.
    public static func parseRates(_ text: String) throws(BenchError) -> [Double] {
        var out: [Double] = []
        for part in text.split(separator: ",") {
            guard let r = StrictMap.parseRate(String(part)), r > 0 else {
                throw BenchError(.invalidArgument, what: "'\(part)' is not a rate", remedy: "write e.g. --rates 1k,5k,10k,50k")
            }
            out.append(r)
        }
        guard !out.isEmpty else { throw BenchError(.invalidArgument, what: "no rates given", remedy: "write e.g. --rates 1k,5k,10k") }
        return out.sorted()
    }
}
