import K2Core
import K2Replay

/// A benchmark run's results: what `report.json` holds (schema `k2-bench-report/1`, described in
/// docs/bench.md). Everything else (Markdown, HTML, verdicts, comparisons) is computed from it.
package struct BenchReport: Sendable, Equatable, Codable {
    static let currentSchema = "k2-bench-report/1"

    package var schema: String = BenchReport.currentSchema
    package var tool: Tool
    package var environment: Environment
    package var workload: WorkloadInfo
    /// One entry per repetition, in order.
    package var runs: [Run]
    /// Metrics over all repetitions: latency percentiles from the merged histograms, the others
    /// as the median of the repetitions. `verify` reads these.
    package var metrics: [String: Metric]
    /// A reference measured in the same run (`zstd -d` MB/s) that `compare` divides by.
    package var reference: Reference?
    /// Things a reader should know (a sink failed messages, probes were lost …).
    package var notes: [String]

    package init(
        tool: Tool, environment: Environment, workload: WorkloadInfo, runs: [Run], metrics: [String: Metric],
        reference: Reference? = nil, notes: [String] = []
    ) {
        self.tool = tool
        self.environment = environment
        self.workload = workload
        self.runs = runs
        self.metrics = metrics
        self.reference = reference
        self.notes = notes
    }

    package struct Tool: Sendable, Equatable, Codable {
        package var name: String = "k2"
        package var version: String
        package var gitRevision: String?
        package init(version: String = K2Version.number, gitRevision: String? = nil) {
            self.version = version
            self.gitRevision = gitRevision
        }
    }

    package struct Environment: Sendable, Equatable, Codable {
        package var hostname: String
        package var os: String
        package var kernel: String
        package var cpus: Int
        package var memoryBytes: Int64
        package var startedAt: String
        package var finishedAt: String
        /// This host's clock against the shards' reference (`--clock-ref`), when measured:
        /// `k2 bench merge` puts the shards' start times on the reference's time line with it.
        package var clock: ClockReference.Measurement?
        package init(hostname: String, os: String, kernel: String, cpus: Int, memoryBytes: Int64, startedAt: String, finishedAt: String) {
            self.hostname = hostname
            self.os = os
            self.kernel = kernel
            self.cpus = cpus
            self.memoryBytes = memoryBytes
            self.startedAt = startedAt
            self.finishedAt = finishedAt
        }
    }

    package struct WorkloadInfo: Sendable, Equatable, Codable {
        package var name: String
        package var path: String
        package var description: String
        package var source: String
        package var pace: String
        package var warmupSeconds: Double
        package var durationSeconds: Double
        package var sinks: [String]
        package var repetitions: Int
        package var targets: String?
        /// `i/N` when this run replayed one shard (`--shard`); `k2 bench merge` joins the shards.
        package var shard: String?
        /// The start time the run waited for (`--start-at`, ISO 8601 UTC), when given.
        package var startAt: String?
        /// Target figures the workload is not built to test (`not_tested:`), never judged.
        package var notTested: [String]?
        /// The embedded ClickHouse's profile settings (`embedded.clickhouse_settings`), when given:
        /// the verdict's "where the time goes" line names the flush settings with their values.
        package var clickhouseSettings: [String: String]?
        package init(
            name: String, path: String, description: String, source: String, pace: String, warmupSeconds: Double,
            durationSeconds: Double, sinks: [String], repetitions: Int, targets: String?
        ) {
            self.name = name
            self.path = path
            self.description = description
            self.source = source
            self.pace = pace
            self.warmupSeconds = warmupSeconds
            self.durationSeconds = durationSeconds
            self.sinks = sinks
            self.repetitions = repetitions
            self.targets = targets
        }
    }

    /// One number with its unit.
    package struct Metric: Sendable, Equatable, Codable {
        package var value: Double
        package var unit: String
        /// `lower` or `higher` is better (for compare).
        package var better: String
        /// The per-repetition (or per-interval, for throughput) values the median came from: the samples `compare` tests.
        package var samples: [Double]?
        package init(value: Double, unit: String, better: Direction, samples: [Double]? = nil) {
            self.value = value
            self.unit = unit
            self.better = better.rawValue
            self.samples = samples
        }
        var direction: Direction { Direction(rawValue: better) ?? .lower }
    }

    package struct Reference: Sendable, Equatable, Codable {
        package var name: String
        /// Per repetition, in `unit`.
        package var values: [Double]
        package var unit: String
        /// Per repetition: MB of output per CPU-second of the reference process (nearly independent
        /// of how busy the machine is; absent in older reports).
        package var cpuValues: [Double]?
        package init(name: String, values: [Double], unit: String, cpuValues: [Double]? = nil) {
            self.name = name
            self.values = values
            self.unit = unit
            self.cpuValues = cpuValues
        }
        package var median: Double { Statistics.median(values) }
        var cpuMedian: Double? { cpuValues.map { Statistics.median($0) } }
    }

    /// One repetition.
    package struct Run: Sendable, Equatable, Codable {
        package var index: Int
        package var startedAt: String
        package var measuredSeconds: Double
        /// One point per interval (1 s) of the measured window (warm-up excluded).
        package var intervals: [IntervalPoint]
        package var latencies: [Latency]
        package var sinks: [SinkResult]
        package var resources: [ResourceSeries]
        package var metrics: [String: Metric]
        /// The workload's faults as they happened, with recovery figures (nil without `faults:`).
        package var faults: [FaultWindow]?
        /// When the consumer lag crossed the degradation levels (runs with faults).
        package var lagLevels: [LagLevel]?
        /// Whether the repetition's figures are harness-bound or system-bound, with the evidence
        /// (the replay's sending phase, warm-up included); nil when the replay sent nothing.
        package var bound: BoundLabel?
        /// The same per replay interval (~1 s).
        package var boundIntervals: [BoundLabel]?
        package init(
            index: Int, startedAt: String, measuredSeconds: Double, intervals: [IntervalPoint], latencies: [Latency],
            sinks: [SinkResult], resources: [ResourceSeries], metrics: [String: Metric]
        ) {
            self.index = index
            self.startedAt = startedAt
            self.measuredSeconds = measuredSeconds
            self.intervals = intervals
            self.latencies = latencies
            self.sinks = sinks
            self.resources = resources
            self.metrics = metrics
        }
    }

    /// What limited a window's figures (`K2Replay.Bottleneck`), with the evidence it was decided from.
    package struct BoundLabel: Sendable, Equatable, Codable {
        /// Window start and length, seconds from the replay's first message.
        package var startSeconds: Double
        package var lengthSeconds: Double
        /// "harness-bound" or "system-bound".
        package var bound: String
        /// One line: why, with the figures.
        package var reason: String
        /// The sending thread's busy share (not waiting for the schedule), 0…1.
        package var busyFraction: Double
        /// Share of the window the sending thread was blocked in a sink (back-pressure), 0…1.
        package var blockedFraction: Double
        /// Lateness p99 and the pacing budget it is held to (ms); nil at max speed.
        package var latenessP99Ms: Double?
        package var latenessBudgetMs: Double?
        /// k2's CPU (all threads) in cores, and the cores it may use.
        package var cpuCores: Double
        package var cores: Int
        /// Share of the window the sending thread waited for a CPU; nil where not measured.
        package var runQueueFraction: Double?

        package init(_ load: HarnessLoad) {
            let (bound, reason) = load.classification
            startSeconds = Double(load.startNanos) / 1e9
            lengthSeconds = Double(load.lengthNanos) / 1e9
            self.bound = bound.rawValue
            self.reason = reason
            busyFraction = load.busyFraction
            blockedFraction = load.blockedFraction
            latenessP99Ms = load.latenessP99Nanos.map { Double($0) / 1e6 }
            latenessBudgetMs = load.latenessBudgetNanos.map { Double($0) / 1e6 }
            cpuCores = load.cpuCores
            cores = load.cores
            runQueueFraction = load.runQueueFraction
        }
    }

    /// Throughput over one interval.
    package struct IntervalPoint: Sendable, Equatable, Codable {
        /// End of the interval, seconds since measuring started.
        package var t: Double
        /// Messages the schedule intended to send in the interval.
        package var offeredMsgs: Double
        /// Messages handed to the sinks in the interval.
        package var sentMsgs: Double
        /// Per sink: messages delivered (acknowledged) in the interval, in sink order.
        package var deliveredMsgs: [Double]
        /// Per sink: payload megabytes handed over in the interval.
        package var sentMB: [Double]
        /// Per sink: messages sent but not yet delivered or failed at the end of the interval.
        package var backlog: [Double]
        /// Messages read back by the consumer in the interval (nil without a consumer).
        package var consumedMsgs: Double?
        /// Replay lateness (actual − intended send time) over the interval: p99 and max, ms.
        package var latenessP99Ms: Double?
        package var latenessMaxMs: Double?
        package var seconds: Double
        /// Rows that landed in ClickHouse in the interval (pipeline workloads; probe rows excluded).
        package var landedRows: Double?
        /// ClickHouse rows behind at the end of the interval: messages the Kafka sink had
        /// delivered to the broker minus rows landed (the pipeline's backlog).
        package var clickhouseBehind: Double?
        package init(
            t: Double, seconds: Double, offeredMsgs: Double, sentMsgs: Double, deliveredMsgs: [Double], sentMB: [Double],
            backlog: [Double], consumedMsgs: Double? = nil, latenessP99Ms: Double? = nil, latenessMaxMs: Double? = nil
        ) {
            self.latenessP99Ms = latenessP99Ms
            self.latenessMaxMs = latenessMaxMs
            self.t = t
            self.seconds = seconds
            self.offeredMsgs = offeredMsgs
            self.sentMsgs = sentMsgs
            self.deliveredMsgs = deliveredMsgs
            self.sentMB = sentMB
            self.backlog = backlog
            self.consumedMsgs = consumedMsgs
        }
    }

    package struct SinkResult: Sendable, Equatable, Codable {
        package var uri: String
        package var sent: UInt64
        package var delivered: UInt64
        package var failed: UInt64
        package var bytes: UInt64
        package var failureReasons: [String: UInt64]
        package init(uri: String, sent: UInt64, delivered: UInt64, failed: UInt64, bytes: UInt64, failureReasons: [String: UInt64]) {
            self.uri = uri
            self.sent = sent
            self.delivered = delivered
            self.failed = failed
            self.bytes = bytes
            self.failureReasons = failureReasons
        }
    }

    /// One latency kind from one basis: percentiles (ms) and the histogram (HdrHistogram V2
    /// compressed, base64, nanoseconds) so reports can be merged exactly.
    package struct Latency: Sendable, Equatable, Codable {
        /// `lateness`, `publish`, `end_to_end`, `freshness`.
        package var kind: String
        /// `intended` (from the scheduled send time, corrected for coordinated omission) or `actual`.
        package var basis: String
        package var count: UInt64
        /// p50, p90, p95, p99, p99.9, p99.99, max, in milliseconds.
        package var percentilesMs: [String: Double]
        package var histogram: String
        package init(kind: String, basis: String, count: UInt64, percentilesMs: [String: Double], histogram: String) {
            self.kind = kind
            self.basis = basis
            self.count = count
            self.percentilesMs = percentilesMs
            self.histogram = histogram
        }
        package var key: String { kind + "." + basis }
    }
}

extension BenchReport {
    /// The percentile labels every latency reports, in order, with their percentile.
    package static let percentiles: [(String, Double)] = [
        ("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p99.9", 99.9), ("p99.99", 99.99), ("max", 100),
    ]

    /// Percentiles in ms of a nanosecond histogram.
    package static func percentilesMs(_ h: Histogram) -> [String: Double] {
        var out: [String: Double] = [:]
        let scale = Double(h.unit.nanos) / 1e6
        for (label, percentile) in percentiles {
            out[label] = Double(percentile == 100 ? h.max : h.valueAtPercentile(percentile)) * scale
        }
        return out
    }

    package static func latency(kind: String, basis: String, _ h: Histogram) -> Latency {
        Latency(kind: kind, basis: basis, count: h.totalCount, percentilesMs: percentilesMs(h), histogram: h.encodedBase64())
    }

    /// The latency histograms of every run merged exactly, per `kind.basis`.
    package func mergedLatencies() throws -> [String: Histogram] {
        var out: [String: Histogram] = [:]
        for run in runs {
            for entry in run.latencies {
                let histogram = try Histogram.decode(base64: entry.histogram)
                if out[entry.key] == nil { out[entry.key] = histogram } else { out[entry.key]!.add(histogram) }
            }
        }
        return out
    }
}
