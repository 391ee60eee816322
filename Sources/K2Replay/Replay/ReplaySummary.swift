import K2Core

/// How a replay ended, and the process exit code that goes with it.
package enum ReplayOutcome: String, Sendable {
    /// Every message was sent and every sink delivered all of them (exit 0).
    case completed
    /// Every message was sent but some sink failed messages or still had some in flight at the end (exit 1).
    case incomplete
    /// A sink gave up mid-run; the replay stopped (exit 1).
    case sinkFailed = "sink-failed"
    /// Ctrl-C / SIGTERM / `requestStop()` (exit 130; `ReplaySummary.exitCode` is 143 for SIGTERM).
    case interrupted
    /// A capture frame mid-file failed its checksum or did not decode: the replay stopped there,
    /// or (`--allow-torn`) went on past it and its records never reached the sinks (exit 1).
    case damagedInput = "damaged-input"

    package var exitCode: Int32 {
        switch self {
        case .completed: return 0
        case .incomplete, .sinkFailed, .damagedInput: return 1
        case .interrupted: return 130
        }
    }
}

/// One sink's part of the summary.
package struct SinkSummary: Sendable {
    package var uri: String
    package var stats: SinkStats
    /// Messages the engine selected but never handed to this sink (stop, or an earlier sink failed).
    package var neverSent: UInt64
    /// The error `send` or `finish` threw, if any.
    package var error: String?
}

/// What a replay did: volumes, speed, lateness and per-sink accounting. `json()` is `summary.json`.
package struct ReplaySummary: Sendable {
    package var files: [String]
    package var pace: Pace
    package var loops: Int
    package var shard: Shard?
    package var outcome: ReplayOutcome
    package var stopReason: String?
    /// Wall-clock start (ns since epoch).
    var startedWallNanos: Int64
    /// From the first message's intended time (or start) to the end of `finish` on all sinks.
    package var durationNanos: Int64
    /// From start to the last message handed over (the sending phase).
    package var sendingNanos: Int64
    package var messages: UInt64
    package var bytes: UInt64
    /// Selected messages never handed to any sink (after a stop). 0 when completed.
    package var neverSent: UInt64
    /// Capture time covered by the messages sent (last − first capture time, loops included).
    var captureSpanNanos: Int64
    /// Lateness: actual − intended send time, ns (empty at `max`).
    package var lateness: Histogram
    /// Per-interval lateness histograms, encoded (for the `.hlog`).
    package var latenessIntervals: [EncodedHistogramInterval]
    package var sinks: [SinkSummary]
    /// The signal that stopped an `interrupted` replay (SIGINT, SIGTERM), nil for `requestStop()` or other outcomes.
    var stopSignal: Int32?
    /// The sending thread's `SCHED_FIFO` priority (`--realtime`), nil for normal scheduling.
    package var realtimePriority: Int32? = nil
    /// Captures replayed with `allowTorn` whose tail was torn: "PATH: torn tail at byte N: …".
    package var inputDamage: [String] = []
    /// Damaged frames mid-file that `allowTorn` skipped, once each: "PATH: damaged frame at byte N: …; skipped (K records lost)".
    package var skippedFrames: [String] = []
    /// Records in the skipped frames, summed over every round that met them (those the index counts).
    package var recordsSkipped: UInt64 = 0
    /// What the harness did over the sending phase, and whether the run's figures are
    /// harness-bound or system-bound; nil when nothing was sent.
    package var harness: HarnessLoad? = nil
    /// The same per interval (`histogramIntervalNanos`, about 1 s).
    package var harnessIntervals: [HarnessLoad] = []

    /// The process exit code: the outcome's, except 128 + signal (130 SIGINT, 143 SIGTERM) for a signal stop.
    package var exitCode: Int32 {
        if outcome == .interrupted, let stopSignal { return 128 + stopSignal }
        return outcome.exitCode
    }

    /// Capture time replayed per wall time spent sending.
    package var achievedSpeed: Double {
        sendingNanos > 0 ? Double(captureSpanNanos) / Double(sendingNanos) : 0
    }

    package var messagesPerSecond: Double {
        sendingNanos > 0 ? Double(messages) * 1e9 / Double(sendingNanos) : 0
    }

    package var requestedSpeed: Double? {
        if case let .speed(speed) = pace { return speed }
        return nil
    }

    static func percentiles(_ h: Histogram) -> JSONValue {
        .object([
            ("count", .number(String(h.totalCount))),
            ("p50", .number(String(h.valueAtPercentile(50)))),
            ("p90", .number(String(h.valueAtPercentile(90)))),
            ("p99", .number(String(h.valueAtPercentile(99)))),
            ("p99_9", .number(String(h.valueAtPercentile(99.9)))),
            ("p99_99", .number(String(h.valueAtPercentile(99.99)))),
            ("max", .number(String(h.max))),
            ("mean", .number(TimeText.fixed(h.mean, 1))),
        ])
    }

    /// The `summary.json` document (schema in docs/replay.md; all times in ns).
    package func json() -> JSONValue {
        func num(_ v: some BinaryInteger) -> JSONValue { .number(String(v)) }
        var pace: [(String, JSONValue)] = [("mode", .string(self.pace.modeName))]
        switch self.pace {
        case let .speed(speed): pace.append(("speed", .number(TimeText.fixed(speed, 6))))
        case let .rate(rate): pace.append(("rate_msg_per_s", .number(TimeText.fixed(rate, 3))))
        case let .rates(schedule):
            pace.append(
                (
                    "steps",
                    .array(
                        schedule.steps.map { .object([("rate_msg_per_s", .number(TimeText.fixed($0.rate, 3))), ("ns", .number(String($0.nanos)))]) })
                ))
        case .max: break
        }
        let sinks: [JSONValue] = self.sinks.map { sink in
            let counts = sink.stats.counts
            var members: [(String, JSONValue)] = [
                ("uri", .string(sink.uri)),
                ("sent", num(counts.sent)), ("delivered", num(counts.delivered)), ("failed", num(counts.failed)),
                ("unknown", num(counts.unknown)), ("unrouted", num(counts.unrouted)), ("dropped", num(counts.dropped)),
                ("in_flight", num(counts.inFlight)), ("never_sent", num(sink.neverSent)), ("bytes", num(counts.bytes)),
                ("failure_reasons", .object(counts.failureReasons.sorted { $0.key < $1.key }.map { ($0.key, num($0.value)) })),
                ("unknown_reasons", .object(counts.unknownReasons.sorted { $0.key < $1.key }.map { ($0.key, num($0.value)) })),
                ("latency_from_intended_ns", Self.percentiles(sink.stats.latencyFromIntended)),
                ("latency_from_actual_ns", Self.percentiles(sink.stats.latencyFromActual)),
            ]
            if let error = sink.error { members.append(("error", .string(error))) }
            members.append(contentsOf: sink.stats.details)
            return .object(members)
        }
        var members: [(String, JSONValue)] = [
            ("k2_version", .string(K2Version.number)),
            ("files", .array(files.map { .string($0) })),
            ("pace", .object(pace)),
            ("loops", num(loops)),
            ("shard", shard.map { .string($0.description) } ?? .null),
            ("outcome", .string(outcome.rawValue)),
            ("exit_code", num(exitCode)),
            ("stop_reason", stopReason.map { .string($0) } ?? .null),
            ("started", .string(TimeText.iso8601(nanos: startedWallNanos))),
            ("duration_ns", num(durationNanos)),
            ("sending_ns", num(sendingNanos)),
            ("messages", num(messages)),
            ("bytes", num(bytes)),
            ("never_sent", num(neverSent)),
            ("capture_span_ns", num(captureSpanNanos)),
            ("requested_speed", requestedSpeed.map { .number(TimeText.fixed($0, 6)) } ?? .null),
            ("achieved_speed", .number(TimeText.fixed(achievedSpeed, 3))),
            ("messages_per_s", .number(TimeText.fixed(messagesPerSecond, 1))),
            ("lateness_ns", Self.percentiles(lateness)),
            ("scheduling", .string(realtimePriority.map { "SCHED_FIFO \($0)" } ?? "normal")),
            ("input_damage", .array((inputDamage + skippedFrames).map { .string($0) })),
            ("input_frames_skipped", num(skippedFrames.count)),
            ("input_records_skipped", num(recordsSkipped)),
        ]
        members.append(("harness", harness?.json() ?? .null))
        members.append(("harness_intervals", .array(harnessIntervals.map { $0.json() })))
        members.append(("sinks", .array(sinks)))
        return .object(members)
    }

    /// The `.hlog` with the lateness intervals and, tagged, each sink's whole-run latency histograms.
    package func hlog() -> String {
        var writer = HistogramLogWriter(
            startNanos: startedWallNanos, comment: "[k2 replay: lateness per interval; sinkN.intended / sinkN.actual per run; values in ns]")
        for i in latenessIntervals { writer.append(i) }
        let length = Double(durationNanos) / 1e9
        for (n, sink) in sinks.enumerated() {
            writer.append(
                HistogramInterval(startSeconds: 0, lengthSeconds: length, tag: "sink\(n).intended", histogram: sink.stats.latencyFromIntended))
            writer.append(HistogramInterval(startSeconds: 0, lengthSeconds: length, tag: "sink\(n).actual", histogram: sink.stats.latencyFromActual))
        }
        return writer.text
    }

    /// Above this lateness p99 the human summary points at `--realtime`.
    static let latenessHintNanos: Int64 = 50_000

    /// The human summary printed at the end (stderr).
    package func lines() -> [String] {
        func us(_ ns: Int64) -> String { TimeText.fixed(Double(ns) / 1_000, 1) + " µs" }
        func ms(_ ns: Int64) -> String { TimeText.fixed(Double(ns) / 1_000_000, 3) + " ms" }
        var out: [String] = []
        for damage in inputDamage { out.append("warning: \(damage); only the frames before it were replayed (--allow-torn)") }
        for skipped in skippedFrames { out.append("warning: \(skipped); every intact frame before and after it was replayed (--allow-torn)") }
        out.append(
            "replay \(outcome.rawValue)\(stopReason.map { ": " + $0 } ?? ""): \(messages) messages, "
                + "\(SizeText.human(bytes: Int64(bytes))) in \(TimeText.humanDuration(nanos: durationNanos))"
                + (neverSent > 0 ? ", \(neverSent) never sent" : ""))
        var speed = "speed: requested \(pace), achieved \(TimeText.fixed(achievedSpeed, 2))x, \(TimeText.fixed(messagesPerSecond, 0)) msg/s"
        if sendingNanos > 0 {
            speed += ", \(TimeText.fixed(Double(bytes) / Double(sendingNanos) * 1e9 / 1_048_576, 1)) MiB/s"
        }
        out.append(speed)
        if lateness.totalCount > 0 {
            out.append(
                "lateness: p50 \(us(lateness.valueAtPercentile(50))), p99 \(us(lateness.valueAtPercentile(99))), "
                    + "p99.9 \(us(lateness.valueAtPercentile(99.9))), max \(us(lateness.max))"
                    + (realtimePriority.map { " (SCHED_FIFO \($0))" } ?? ""))
            if realtimePriority == nil, lateness.valueAtPercentile(99) > Self.latenessHintNanos {
                out.append(
                    "  lateness above \(us(Self.latenessHintNanos)) under normal scheduling is the sending thread waiting for a CPU; "
                        + "--realtime 10 (root) keeps it in microseconds (docs/replay.md)")
            }
        }
        if let harness {
            let (bound, reason) = harness.classification
            out.append("bound: \(bound.rawValue) — \(reason)")
            let behind = harnessIntervals.filter { $0.bound != bound }.count
            if behind > 0 {
                out.append(
                    "  \(behind) of \(harnessIntervals.count) intervals were \(bound == .system ? Bottleneck.harness.rawValue : Bottleneck.system.rawValue) (summary.json harness_intervals)"
                )
            }
        }
        for sink in sinks {
            let counts = sink.stats.counts
            var line =
                "\(sink.uri): sent \(counts.sent), delivered \(counts.delivered), failed \(counts.failed)"
                + (counts.unknown > 0 ? ", unknown \(counts.unknown)" : "") + (counts.unrouted > 0 ? ", unrouted \(counts.unrouted)" : "")
                + (counts.dropped > 0 ? ", dropped \(counts.dropped)" : "") + ", in flight \(counts.inFlight)"
            if sink.neverSent > 0 { line += ", never sent \(sink.neverSent)" }
            let latency = sink.stats.latencyFromIntended
            if latency.totalCount > 0 {
                line +=
                    "; latency from intended p50 \(ms(latency.valueAtPercentile(50))) p99 \(ms(latency.valueAtPercentile(99))) max \(ms(latency.max))"
            }
            out.append(line)
            for (reason, count) in counts.failureReasons.sorted(by: { $0.value > $1.value }).prefix(3) {
                out.append("  failed \(count): \(reason)")
            }
            for (reason, count) in counts.unknownReasons.sorted(by: { $0.value > $1.value }).prefix(3) {
                out.append("  unknown \(count) (may or may not have landed): \(reason)")
            }
            if let error = sink.error { out.append("  error: \(error)") }
        }
        return out
    }
}

extension Pace {
    var modeName: String {
        switch self {
        case .speed: return "speed"
        case .max: return "max"
        case .rate: return "rate"
        case .rates: return "rates"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ReplaySummary {
    /// Writes `summary.json`, `latency.hlog` (HdrHistogram interval log, ns) and `lateness.hgrm`
    /// (percentile spectrum in µs) into `directory`, creating it if needed. Returns the paths.
    @discardableResult
    package func writeReport(to directory: String) throws(ReplayError) -> [String] {
        if mkdir(directory, 0o755) != 0, errno != EEXIST {
            throw ReplayError(
                .io, place: directory, what: "cannot create the report directory: \(String(cString: strerror(errno)))",
                remedy: "check the parent directory exists and is writable")
        }
        let files: [(String, String)] = [
            ("summary.json", Secrets.mask(json().serialized()) + "\n"),
            ("latency.hlog", hlog()),
            ("lateness.hgrm", lateness.percentileDistributionText(scale: 1_000)),
        ]
        var written: [String] = []
        for (name, text) in files {
            let path = directory + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw ReplayError(.io, place: path, what: "cannot write: \(String(cString: strerror(errno)))", remedy: "check permissions")
            }
            var contents = text
            let ok = contents.withUTF8 { buf -> Bool in
                var off = 0
                while off < buf.count {
                    let writtenBytes = write(fd, buf.baseAddress! + off, buf.count - off)
                    if writtenBytes < 0 { if errno == EINTR { continue }; return false }
                    off += writtenBytes
                }
                return true
            }
            close(fd)
            guard ok else {
                throw ReplayError(.io, place: path, what: "write failed: \(String(cString: strerror(errno)))", remedy: "check free disk space")
            }
            written.append(path)
        }
        return written
    }
}
