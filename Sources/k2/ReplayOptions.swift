import ArgumentParser
import K2Bench
import K2Capture
import K2Core
import K2Net
import K2Replay

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The options `k2 replay` and `k2 sim run` share (sinks, pacing, rounds, filters, reports),
/// and the replay they run: engine, progress line, live metrics, summary, report, exit code.
struct ReplayOptions: ParsableArguments {
    @Option(
        name: .customLong("sink"),
        help: "Destination URI, repeat to fan out: mock://, mock://?capacity=N, kafka://…, clickhouse://…, file:PATH, - (stdout).")
    var sinks: [String] = []

    // `.unconditional`: a negative value (`--speed -2`) reaches the check and its message,
    // instead of being taken for an unknown flag.
    @Option(parsing: .unconditional, help: "Speed multiplier (1, 0.5, 100, 100x) or max.")
    var speed: SpeedArgument?

    @Option(parsing: .unconditional, help: "Play the input N times; each round shifts its times by its span.")
    var loop: Int = 1

    @OptionGroup var filters: FilterOptions

    @Option(help: "Record kinds to replay (default recv); comma-separated: connect, send, recv, disconnect, http, marker.")
    var kinds: [String] = []

    @Option(help: "Write summary.json, latency.hlog and lateness.hgrm into this directory.")
    var report: String?

    @Option(parsing: .unconditional, help: "Replay only shard i of N (i/N): messages split by a hash of their symbol, else connection.")
    var shard: ShardArgument?

    @Option(name: .customShort("X"), help: "Sink property key=value (e.g. librdkafka settings for kafka://); repeatable.")
    var properties: [String] = []

    @Flag(help: "Create destination tables before replaying (sinks that support it).")
    var createTables = false

    @Option(
        name: .customLong("ca-file"), help: "Trust the CA certificates in this PEM file for TLS sinks (clickhouses://), e.g. a self-signed server's.")
    var caFile: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Paced runs: the sending thread runs under SCHED_FIFO with this priority (1–99; needs root/CAP_SYS_NICE).",
            valueName: "priority"))
    var realtime: Int32?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Serve live Prometheus metrics on http://127.0.0.1:PORT/metrics while replaying (0 = any free port).",
            valueName: "port"))
    var metricsPort: Port<AnyFreePort>?

    @Flag(help: "No progress line.")
    var quiet = false

    func validate() throws {
        guard !sinks.isEmpty else { throw ValidationError("no --sink given: add e.g. --sink mock:// or --sink - (NDJSON on stdout)") }
        // The most rounds depend on the input's span: the engine checks them (ReplayEngine.maxScheduleNanos).
        try check(loop, in: 1...Int.max, "--loop", example: 3)
        try check(realtime, in: 1...99, "--realtime", example: 10)
    }

    /// Replays `files`, or `source`'s records (`k2 sim run`; `sourceStart` is its first receive
    /// time, the origin of `--from`/`--to` offsets). `pace`: instead of `--speed` (`--rate`).
    func run(
        files: [String] = [], source: ReplaySourceFactory? = nil, sourceStart: Int64? = nil,
        pace: Pace? = nil, readAhead: Bool = true, allowTorn: Bool = false
    ) throws {
        // Before opening anything: a signal during setup then still ends with a summary (0 sent).
        StopSignals.install()  // the policy: docs/signals.md
        let engine = try reportingErrors {
            try makeEngine(files: files, source: source, sourceStart: sourceStart, pace: pace, readAhead: readAhead, allowTorn: allowTorn)
        }
        signal(SIGPIPE, SIG_IGN)
        let progressOnTTY = !quiet && isatty(2) != 0
        let metrics = try reportingErrors { try startMetricsServer(port: metricsPort, announcement: "metrics: ") }
        defer { metrics?.stop() }
        let sinks = engine.sinks
        let progress: ((ReplayProgress) -> Void)? =
            progressOnTTY || metrics != nil
            ? { snapshot in
                if progressOnTTY { Self.printProgress(snapshot) }
                metrics?.update(LiveMetrics.replaySamples(snapshot, sinks: sinks.map { ($0.uri, $0.counts) }))
            } : nil
        // A damaged input (`--allow-torn` not given): nothing was sent, exit 1 (ReplayError.exitCode).
        let summary = try reportingErrors { try engine.runOnDedicatedThread(progress: progress) }
        if progressOnTTY { Self.writeStderr("\r\u{1B}[K") }
        for line in summary.lines() { StdErr.print(line) }
        if let report {
            try reportingErrors {
                let paths = try summary.writeReport(to: report) + ReplayReport.write(summary, to: report)
                StdErr.print("report: " + paths.joined(separator: ", "))
            }
        }
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }

    func makeEngine(files: [String], source: ReplaySourceFactory?, sourceStart: Int64?, pace: Pace?, readAhead: Bool, allowTorn: Bool) throws
        -> ReplayEngine
    {
        var config = source.map { ReplayConfig(source: $0) } ?? ReplayConfig(files: files)
        // A generated source would have to generate the rest of the run to count it: not after a stop.
        if source != nil { config.countUnsentOnStop = false }
        config.pace = pace ?? speed?.pace ?? .speed(1)
        config.loops = loop
        var start: Int64? = sourceStart
        if filters.usesTime, source == nil {
            for file in files {
                if let first = try CaptureReader(path: file).index().firstTimestamp { start = Swift.min(start ?? first, first) }
            }
        }
        config.filter = try filters.filter(start: start)
        if !kinds.isEmpty {
            var set = Set<RecordKind>()
            for name in kinds.flatMap({ $0.split(separator: ",") }) {
                guard let kind = RecordKind(name: String(name).trimmingSpaces()) else {
                    throw ReplayError(
                        .invalidArgument, what: "--kinds '\(name)' is not a record kind",
                        remedy: "use connect, send, recv, disconnect, http, marker")
                }
                set.insert(kind)
            }
            config.kinds = set
        }
        config.shard = shard?.shard
        config.realtimePriority = realtime
        config.readAhead = readAhead
        config.allowTorn = allowTorn
        var props: [(String, String)] = []
        for property in properties {
            let kv = property.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, !kv[0].isEmpty else {
                throw ReplayError(.invalidArgument, what: "-X '\(property)' is not key=value", remedy: "write e.g. -X linger.ms=5")
            }
            props.append((String(kv[0]), String(kv[1])))
        }
        // The venue a `ws://` sink impersonates: the captures' `exchange` when they agree.
        let exchanges = Set(files.map { (try? CaptureReader(path: $0))?.header.metadataValue("exchange")?.stringValue ?? "unknown" })
        let options = SinkOptions(
            properties: props, createTables: createTables, caFile: caFile,
            venue: exchanges.count == 1 ? exchanges.first : nil, captures: files)
        let made = try sinks.map { try SinkFactory.make($0, options: options) }
        return ReplayEngine(config: config, sinks: made)
    }

    static func printProgress(_ p: ReplayProgress) {
        var line = "\r\u{1B}[K\(p.messages) msgs  \(TimeText.fixed(p.rate, 0)) msg/s"
        line += "  lag \(TimeText.fixed(Double(p.lagNanos) / 1e6, 3)) ms"
        if let fraction = p.fraction { line += "  \(TimeText.fixed(fraction * 100, 1))%" }
        if let eta = p.etaNanos { line += "  ETA \(TimeText.humanDuration(nanos: eta))" }
        writeStderr(line)
    }

    static func writeStderr(_ text: String) {
        var utf8Text = text
        utf8Text.withUTF8 { buf in _ = write(2, buf.baseAddress, buf.count) }
    }
}
