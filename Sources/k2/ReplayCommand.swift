import ArgumentParser
import K2Bench
import K2Capture
import K2Core
import K2Replay

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay captures at a paced speed into one or more sinks.",
        subcommands: [Run.self, SynthCapture.self],
        defaultSubcommand: Run.self
    )
}

extension ReplayCommand {
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Replay captures at a paced speed into one or more sinks (the default: k2 replay FILE… --sink URI).",
        discussion: """
            Sinks (--sink, repeat to fan out):
              \(SinkFactory.usage.joined(separator: "\n  "))
            Only recv records are replayed unless --kinds says otherwise. Lateness (actual − intended \
            send time) and every sink's latency from the intended time are measured; the summary goes \
            to stderr and, with --report DIR, to DIR/summary.json, DIR/latency.hlog and DIR/lateness.hgrm.
            Exit codes: 0 all delivered; 1 a sink failed or did not deliver everything; 2 bad input or a \
            sink that cannot open; 130 stopped by Ctrl-C, 143 by SIGTERM (summary still written; another signal ≥ 1 s later exits at once).
            See docs/replay.md.
            """
    )

    @Argument(help: "Capture files (.k2cap); several are merged by receive time.")
    var files: [String]

    @Option(name: .customLong("sink"), help: "Destination URI: mock://, mock://?capacity=N, file:PATH, - (stdout), …")
    var sinks: [String] = []

    // `.unconditional`: a negative value (`--speed -2`) reaches the check and its message,
    // instead of being taken for an unknown flag.
    @Option(parsing: .unconditional, help: "Speed multiplier (1, 0.5, 100, 100x) or max.")
    var speed: String?

    @Option(parsing: .unconditional, help: "Fixed message rate in msg/s instead of capture timing.")
    var rate: String?

    @Option(parsing: .unconditional, help: "Play the capture N times; each round shifts capture times by the capture's span.")
    var loop: Int = 1

    @OptionGroup var filters: FilterOptions

    @Option(help: "Record kinds to replay (default recv); comma-separated: connect, send, recv, disconnect, http, marker.")
    var kinds: [String] = []

    @Option(help: "Write summary.json, latency.hlog and lateness.hgrm into this directory.")
    var report: String?

    @Option(help: Run.shardHelp)
    var shard: String?

    // Help shared with `k2 sim run`, which forwards these options.
    static let shardHelp = ArgumentHelp("Replay only shard i of N (i/N): messages split by a hash of their symbol, else connection.")
    static let realtimeHelp = ArgumentHelp("Paced runs: the sending thread runs under SCHED_FIFO with this priority (1–99; needs root/CAP_SYS_NICE).",
                                           valueName: "priority")
    static let metricsPortHelp = ArgumentHelp("Serve live Prometheus metrics on http://127.0.0.1:PORT/metrics while replaying (0 = any free port).",
                                              valueName: "port")

    @Option(name: .customShort("X"), help: "Sink property key=value (e.g. librdkafka settings for kafka://); repeatable.")
    var properties: [String] = []

    @Flag(help: "Create destination tables before replaying (sinks that support it).")
    var createTables = false

    @Option(name: .customLong("ca-file"), help: "Trust the CA certificates in this PEM file for TLS sinks (clickhouses://), e.g. a self-signed server's.")
    var caFile: String?

    @Option(parsing: .unconditional, help: Run.realtimeHelp)
    var realtime: Int32?

    @Flag(help: ArgumentHelp("Decompress on the sending thread, as before read-ahead (for measuring it).", visibility: .hidden))
    var noReadAhead = false

    @Option(parsing: .unconditional, help: Run.metricsPortHelp)
    var metricsPort: Int?

    @Flag(help: "No progress line.")
    var quiet = false

    func run() throws { try run(source: nil) }

    /// `source`: replay its records instead of `files` (`k2 sim run`); `sourceStart` is its
    /// first receive time, the origin of `--from`/`--to` offsets.
    func run(source: ReplaySourceFactory?, sourceStart: Int64? = nil) throws {
        // Before opening anything: a signal during setup then still ends with a summary (0 sent).
        ReplayInterrupt.install()
        let engine = try reportingErrors { try makeEngine(source: source, sourceStart: sourceStart) }
        signal(SIGPIPE, SIG_IGN)
        let progressOnTTY = !quiet && isatty(2) != 0
        let metrics = try reportingErrors { () throws -> MetricsServer? in
            guard let metricsPort else { return nil }
            guard (0...65535).contains(metricsPort) else {
                throw ReplayError(.invalidArgument, what: "--metrics-port \(metricsPort) is not a port", remedy: "give 1-65535, or 0 for any free port")
            }
            let server = try MetricsServer(port: metricsPort)
            StdErr.print("metrics: http://127.0.0.1:\(server.port)/metrics")
            return server
        }
        defer { metrics?.stop() }
        let sinks = engine.sinks
        let progress: ((ReplayProgress) -> Void)? = progressOnTTY || metrics != nil ? { p in
            if progressOnTTY { Self.printProgress(p) }
            metrics?.update(LiveMetrics.replaySamples(p, sinks: sinks.map { ($0.uri, $0.counts) }))
        } : nil
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

    func makeEngine(source: ReplaySourceFactory? = nil, sourceStart: Int64? = nil) throws -> ReplayEngine {
        guard !sinks.isEmpty else {
            throw ReplayError(.invalidArgument, what: "no --sink given", remedy: "add e.g. --sink mock:// or --sink - (NDJSON on stdout)")
        }
        var config = source.map { ReplayConfig(source: $0) } ?? ReplayConfig(files: files)
        // A generated source would have to generate the rest of the run to count it: not after a stop.
        if source != nil { config.countUnsentOnStop = false }
        config.pace = try Pace.parse(speed: speed, rate: rate)
        guard loop >= 1 else { throw ReplayError(.invalidArgument, what: "--loop \(loop) must be ≥ 1", remedy: "write e.g. --loop 3") }
        config.loops = loop
        var start: Int64? = sourceStart
        if filters.usesTime, source == nil {
            for f in files {
                if let t = try CaptureReader(path: f).index().firstTimestamp { start = Swift.min(start ?? t, t) }
            }
        }
        config.filter = try filters.filter(start: start)
        if !kinds.isEmpty {
            var set = Set<RecordKind>()
            for name in kinds.flatMap({ $0.split(separator: ",") }) {
                guard let k = RecordKind(name: String(name).trimmingSpaces()) else {
                    throw ReplayError(.invalidArgument, what: "--kinds '\(name)' is not a record kind",
                                      remedy: "use connect, send, recv, disconnect, http, marker")
                }
                set.insert(k)
            }
            config.kinds = set
        }
        if let shard { config.shard = try Shard(parsing: shard) }
        config.realtimePriority = realtime
        config.readAhead = !noReadAhead
        var props: [(String, String)] = []
        for p in properties {
            let kv = p.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, !kv[0].isEmpty else {
                throw ReplayError(.invalidArgument, what: "-X '\(p)' is not key=value", remedy: "write e.g. -X linger.ms=5")
            }
            props.append((String(kv[0]), String(kv[1])))
        }
        let options = SinkOptions(properties: props, createTables: createTables, caFile: caFile)
        let made = try sinks.map { try SinkFactory.make($0, options: options) }
        return ReplayEngine(config: config, sinks: made)
    }

    static func printProgress(_ p: ReplayProgress) {
        var line = "\r\u{1B}[K\(p.messages) msgs  \(TimeText.fixed(p.rate, 0)) msg/s"
        line += "  lag \(TimeText.fixed(Double(p.lagNanos) / 1e6, 3)) ms"
        if let f = p.fraction { line += "  \(TimeText.fixed(f * 100, 1))%" }
        if let eta = p.etaNanos { line += "  ETA \(TimeText.humanDuration(nanos: eta))" }
        writeStderr(line)
    }

    static func writeStderr(_ text: String) {
        var t = text
        t.withUTF8 { buf in _ = write(2, buf.baseAddress, buf.count) }
    }
}

/// `k2 replay synth-capture OUT --duration 10m --rate 300`: a seeded Binance-like capture for benchmarks.
struct SynthCapture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-capture",
        abstract: "Write a seeded synthetic Binance-like capture (Poisson arrivals, bursty rate) for benchmarks.",
        shouldDisplay: false
    )
    @Argument(help: "Output .k2cap path.") var output: String
    @Option(help: "Capture length (10m, 1h).") var duration: String = "10m"
    @Option(help: "Mean messages per second.") var rate: Double = 300
    @Option(help: "Generator seed.") var seed: UInt64 = 1

    func run() throws {
        try reportingErrors {
            guard let d = TimeText.parseDuration(duration), d > 0 else {
                throw ReplayError(.invalidArgument, what: "--duration '\(duration)' is not a duration", remedy: "write e.g. 10m or 1h")
            }
            guard rate > 0 else { throw ReplayError(.invalidArgument, what: "--rate must be positive", remedy: "write e.g. --rate 300") }
            let n = try SyntheticCapture(durationNanos: d, rate: rate, seed: seed).write(to: output)
            StdErr.print("\(output): \(n) recv messages over \(TimeText.humanDuration(nanos: d))")
        }
    }
}
}
