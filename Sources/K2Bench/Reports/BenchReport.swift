import K2Core
import K2Replay

/// A benchmark run's results: what `report.json` holds (schema `k2-bench-report/1`, described in
/// docs/bench.md). Everything else (Markdown, HTML, verdicts, comparisons) is computed from it.
public struct BenchReport: Sendable, Equatable, Codable {
    public static let currentSchema = "k2-bench-report/1"

    public var schema: String = BenchReport.currentSchema
    public var tool: Tool
    public var environment: Environment
    public var workload: WorkloadInfo
    /// One entry per repetition, in order.
    public var runs: [Run]
    /// Metrics over all repetitions: latency percentiles from the merged histograms, the others
    /// as the median of the repetitions. `verify` reads these.
    public var metrics: [String: Metric]
    /// A reference measured in the same run (`zstd -d` MB/s) that `compare` divides by.
    public var reference: Reference?
    /// Things a reader should know (a sink failed messages, probes were lost …).
    public var notes: [String]

    public init(tool: Tool, environment: Environment, workload: WorkloadInfo, runs: [Run], metrics: [String: Metric],
                reference: Reference? = nil, notes: [String] = []) {
        self.tool = tool
        self.environment = environment
        self.workload = workload
        self.runs = runs
        self.metrics = metrics
        self.reference = reference
        self.notes = notes
    }

    public struct Tool: Sendable, Equatable, Codable {
        public var name: String = "k2"
        public var version: String
        public var gitRevision: String?
        public init(version: String = K2Version.number, gitRevision: String? = nil) {
            self.version = version
            self.gitRevision = gitRevision
        }
    }

    public struct Environment: Sendable, Equatable, Codable {
        public var hostname: String
        public var os: String
        public var kernel: String
        public var cpus: Int
        public var memoryBytes: Int64
        public var startedAt: String
        public var finishedAt: String
        /// This host's clock against the shards' reference (`--clock-ref`), when measured:
        /// `k2 bench merge` puts the shards' start times on the reference's time line with it.
        public var clock: ClockReference.Measurement?
        public init(hostname: String, os: String, kernel: String, cpus: Int, memoryBytes: Int64, startedAt: String, finishedAt: String) {
            self.hostname = hostname
            self.os = os
            self.kernel = kernel
            self.cpus = cpus
            self.memoryBytes = memoryBytes
            self.startedAt = startedAt
            self.finishedAt = finishedAt
        }
    }

    public struct WorkloadInfo: Sendable, Equatable, Codable {
        public var name: String
        public var path: String
        public var description: String
        public var source: String
        public var pace: String
        public var warmupSeconds: Double
        public var durationSeconds: Double
        public var sinks: [String]
        public var repetitions: Int
        public var targets: String?
        /// `i/N` when this run replayed one shard (`--shard`); `k2 bench merge` joins the shards.
        public var shard: String?
        /// The start time the run waited for (`--start-at`, ISO 8601 UTC), when given.
        public var startAt: String?
        /// Target figures the workload is not built to test (`not_tested:`), never judged.
        public var notTested: [String]?
        /// The embedded ClickHouse's profile settings (`embedded.clickhouse_settings`), when given:
        /// the verdict's "where the time goes" line names the flush settings with their values.
        public var clickhouseSettings: [String: String]?
        public init(name: String, path: String, description: String, source: String, pace: String, warmupSeconds: Double,
                    durationSeconds: Double, sinks: [String], repetitions: Int, targets: String?) {
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
    public struct Metric: Sendable, Equatable, Codable {
        public var value: Double
        public var unit: String
        /// `lower` or `higher` is better (for compare).
        public var better: String
        /// The per-repetition (or per-interval, for throughput) values the median came from: the samples `compare` tests.
        public var samples: [Double]?
        public init(value: Double, unit: String, better: Direction, samples: [Double]? = nil) {
            self.value = value
            self.unit = unit
            self.better = better.rawValue
            self.samples = samples
        }
        public var direction: Direction { Direction(rawValue: better) ?? .lower }
    }

    public struct Reference: Sendable, Equatable, Codable {
        public var name: String
        /// Per repetition, in `unit`.
        public var values: [Double]
        public var unit: String
        /// Per repetition: MB of output per CPU-second of the reference process (nearly independent
        /// of how busy the machine is; absent in older reports).
        public var cpuValues: [Double]?
        public init(name: String, values: [Double], unit: String, cpuValues: [Double]? = nil) {
            self.name = name
            self.values = values
            self.unit = unit
            self.cpuValues = cpuValues
        }
        public var median: Double { Statistics.median(values) }
        public var cpuMedian: Double? { cpuValues.map { Statistics.median($0) } }
    }

    /// One repetition.
    public struct Run: Sendable, Equatable, Codable {
        public var index: Int
        public var startedAt: String
        public var measuredSeconds: Double
        /// One point per interval (1 s) of the measured window (warm-up excluded).
        public var intervals: [IntervalPoint]
        public var latencies: [Latency]
        public var sinks: [SinkResult]
        public var resources: [ResourceSeries]
        public var metrics: [String: Metric]
        /// The workload's faults as they happened, with recovery figures (nil without `faults:`).
        public var faults: [FaultWindow]?
        /// When the consumer lag crossed the degradation levels (runs with faults).
        public var lagLevels: [LagLevel]?
        /// Whether the repetition's figures are harness-bound or system-bound, with the evidence
        /// (the replay's sending phase, warm-up included); nil when the replay sent nothing.
        public var bound: BoundLabel?
        /// The same per replay interval (~1 s).
        public var boundIntervals: [BoundLabel]?
        public init(index: Int, startedAt: String, measuredSeconds: Double, intervals: [IntervalPoint], latencies: [Latency],
                    sinks: [SinkResult], resources: [ResourceSeries], metrics: [String: Metric]) {
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
    public struct BoundLabel: Sendable, Equatable, Codable {
        /// Window start and length, seconds from the replay's first message.
        public var startSeconds: Double
        public var lengthSeconds: Double
        /// "harness-bound" or "system-bound".
        public var bound: String
        /// One line: why, with the figures.
        public var reason: String
        /// The sending thread's busy share (not waiting for the schedule), 0…1.
        public var busyFraction: Double
        /// Share of the window the sending thread was blocked in a sink (back-pressure), 0…1.
        public var blockedFraction: Double
        /// Lateness p99 and the pacing budget it is held to (ms); nil at max speed.
        public var latenessP99Ms: Double?
        public var latenessBudgetMs: Double?
        /// k2's CPU (all threads) in cores, and the cores it may use.
        public var cpuCores: Double
        public var cores: Int
        /// Share of the window the sending thread waited for a CPU; nil where not measured.
        public var runQueueFraction: Double?

        public init(_ load: HarnessLoad) {
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
    public struct IntervalPoint: Sendable, Equatable, Codable {
        /// End of the interval, seconds since measuring started.
        public var t: Double
        /// Messages the schedule intended to send in the interval.
        public var offeredMsgs: Double
        /// Messages handed to the sinks in the interval.
        public var sentMsgs: Double
        /// Per sink: messages delivered (acknowledged) in the interval, in sink order.
        public var deliveredMsgs: [Double]
        /// Per sink: payload megabytes handed over in the interval.
        public var sentMB: [Double]
        /// Per sink: messages sent but not yet delivered or failed at the end of the interval.
        public var backlog: [Double]
        /// Messages read back by the consumer in the interval (nil without a consumer).
        public var consumedMsgs: Double?
        /// Replay lateness (actual − intended send time) over the interval: p99 and max, ms.
        public var latenessP99Ms: Double?
        public var latenessMaxMs: Double?
        public var seconds: Double
        /// Rows that landed in ClickHouse in the interval (pipeline workloads; probe rows excluded).
        public var landedRows: Double?
        /// ClickHouse rows behind at the end of the interval: messages the Kafka sink had
        /// delivered to the broker minus rows landed (the pipeline's backlog).
        public var clickhouseBehind: Double?
        public init(t: Double, seconds: Double, offeredMsgs: Double, sentMsgs: Double, deliveredMsgs: [Double], sentMB: [Double],
                    backlog: [Double], consumedMsgs: Double? = nil, latenessP99Ms: Double? = nil, latenessMaxMs: Double? = nil) {
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

    public struct SinkResult: Sendable, Equatable, Codable {
        public var uri: String
        public var sent: UInt64
        public var delivered: UInt64
        public var failed: UInt64
        public var bytes: UInt64
        public var failureReasons: [String: UInt64]
        public init(uri: String, sent: UInt64, delivered: UInt64, failed: UInt64, bytes: UInt64, failureReasons: [String: UInt64]) {
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
    public struct Latency: Sendable, Equatable, Codable {
        /// `lateness`, `publish`, `end_to_end`, `freshness`.
        public var kind: String
        /// `intended` (from the scheduled send time, corrected for coordinated omission) or `actual`.
        public var basis: String
        public var count: UInt64
        /// p50, p90, p95, p99, p99.9, p99.99, max, in milliseconds.
        public var percentilesMs: [String: Double]
        public var histogram: String
        public init(kind: String, basis: String, count: UInt64, percentilesMs: [String: Double], histogram: String) {
            self.kind = kind
            self.basis = basis
            self.count = count
            self.percentilesMs = percentilesMs
            self.histogram = histogram
        }
        public var key: String { kind + "." + basis }
    }
}

extension BenchReport {
    /// The percentile labels every latency reports, in order, with their percentile.
    public static let percentiles: [(String, Double)] = [
        ("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p99.9", 99.9), ("p99.99", 99.99), ("max", 100),
    ]

    /// Percentiles in ms of a nanosecond histogram.
    public static func percentilesMs(_ h: Histogram) -> [String: Double] {
        var out: [String: Double] = [:]
        let scale = Double(h.unit.nanos) / 1e6
        for (label, percentile) in percentiles {
            out[label] = Double(percentile == 100 ? h.max : h.valueAtPercentile(percentile)) * scale
        }
        return out
    }

    public static func latency(kind: String, basis: String, _ h: Histogram) -> Latency {
        Latency(kind: kind, basis: basis, count: h.totalCount, percentilesMs: percentilesMs(h), histogram: h.encodedBase64())
    }

    /// The latency histograms of every run merged exactly, per `kind.basis`.
    public func mergedLatencies() throws -> [String: Histogram] {
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
