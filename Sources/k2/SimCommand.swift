import ArgumentParser
import K2Capture
import K2Core
import K2Replay
import K2Sim

struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Synthetic markets: generate captures from load profiles, measure generation speed.",
        subcommands: [Generate.self, Run.self, Check.self, Bench.self, SimExchangeCommand.self]
    )
}

/// `--profile FILE` or `--rate N --duration D`, plus venue and seed overrides.
struct ProfileOptions: ParsableArguments {
    @Option(help: "A YAML profile (docs/sim-profiles.md); captures/profiles/ has examples.")
    var profile: String?
    @Option(parsing: .unconditional, help: "Constant rate in messages per second (instead of --profile).")
    var rate: Double?
    @Option(help: "Length with --rate: 30s, 5m, 1h.")
    var duration: String?
    @Option(help: "binance, kraken or coinbase (overrides the profile's venues).")
    var venue: String?
    @Option(help: "Seed (overrides the profile's); the same seed gives byte-identical messages.")
    var seed: UInt64?
    @Option(parsing: .unconditional, help: "Number of symbols (default 200; overrides the profile's).")
    var symbols: Int?

    /// The profile; bad input is one `SimError` line (exit 2 through `reportingErrors`).
    func load() throws(SimError) -> SimProfile {
        if profile == nil && rate == nil { throw SimError(location: "--profile", what: "no traffic given", remedy: "give --profile FILE, or --rate N with --duration D") }
        if profile != nil && (rate != nil || duration != nil) { throw SimError(location: "--profile", what: "cannot be combined with --rate/--duration", remedy: "give one or the other") }
        if rate != nil && duration == nil { throw SimError(location: "--rate", what: "needs --duration", remedy: "add e.g. --duration 60s") }
        if let r = rate, !(r > 0) { throw SimError(location: "--rate", what: "must be a positive number of messages per second, found \(r)", remedy: "give e.g. --rate 10000") }
        if let s = symbols, s < 1 { throw SimError(location: "--symbols", what: "must be at least 1, found \(s)", remedy: "give e.g. --symbols 200") }
        var p: SimProfile
        if let path = profile {
            p = try ProfileLoader.load(path: path)
        } else {
            guard let d = duration.flatMap({ TimeText.parseDuration($0) }), d > 0 else {
                throw SimError(location: "--duration", what: "'\(duration ?? "")' is not a duration", remedy: "write e.g. 30s, 5m, 1h")
            }
            p = SimProfile.constant(rate: rate ?? 0, duration: d)
        }
        if let venue {
            do throws(CaptureError) { p.venues = [try Venue(parsing: venue)] } catch { throw SimError(error, location: "--venue") }
        }
        if let s = seed { p.seed = s }
        if let n = symbols { p.market.symbols = n }
        return p
    }
}

extension SimCommand {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate",
            abstract: "Write a synthetic capture that looks recorded.",
            discussion: """
                One connection per venue: connect and subscription records first, then the venue's \
                messages as recv records with receive times from the load shapes. Header metadata: \
                exchange, profile, seed. Example: k2 sim generate --rate 10000 --duration 60s -o /tmp/s.k2cap
                """
        )
        @OptionGroup var options: ProfileOptions
        @Option(name: .shortAndLong, help: "The capture to write.") var output: String

        func run() throws {
            try reportingErrors {
                let p = try options.load()
                let clock = SystemClock()
                let t0 = clock.monotonicNanos()
                let r = try CaptureGenerator(profile: p).write(path: output, commandLine: CommandLine.arguments.joined(separator: " "))
                let secs = Double(clock.monotonicNanos() - t0) / 1e9
                print("\(output): \(r.messages) messages (\(r.records) records) over \(TimeText.humanDuration(nanos: r.simulatedNanos)) simulated, "
                      + "\(SizeText.human(bytes: r.payloadBytes)) payload, file \(SizeText.human(bytes: r.fileBytes)); "
                      + "profile \(p.name), seed \(p.seed), venues \(p.venues.map(\.rawValue).joined(separator: ",")); "
                      + "\(Int(Double(r.messages) / max(1e-9, secs))) msg/s generated+written")
            }
        }
    }

    /// `k2 sim run`: the profile's traffic through the replay engine into the sinks, generated
    /// as the replay pulls it (no capture file; `--keep FILE` writes one alongside).
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Generate a profile's traffic straight into sinks (mock://, kafka://, clickhouse://, file:, -).",
            discussion: """
                The replay engine pulls the records from the generator as it sends them: the same records, \
                timestamps and bytes as `k2 sim generate … -o TMP && k2 replay TMP --sink …`, without the \
                file (--keep FILE also writes it). Pacing follows the profile's timeline at --speed \
                (default 1, or max); --loop, --from/--to (offsets from the first record) and the other \
                filters work as for captures. Exit codes as `k2 replay`.
                """
        )
        @OptionGroup var options: ProfileOptions
        @Option(name: .customLong("sink"), help: "Destination URI (repeat to fan out): mock://, kafka://…, clickhouse://…, file:PATH, -")
        var sinks: [String] = []
        @Option(parsing: .unconditional, help: "Replay speed multiplier or max.") var speed: String = "1"
        @Option(parsing: .unconditional, help: "Play the profile N times; each round shifts times by the profile's span.") var loop: Int = 1
        @OptionGroup var filters: FilterOptions
        @Option(help: "Record kinds to replay (default recv); comma-separated: connect, send, recv.") var kinds: [String] = []
        @Option(help: "Write the replay summary, latency.hlog and lateness.hgrm into this directory.") var report: String?
        @Option(help: "Also write the generated records (first round) into this capture.") var keep: String?
        @Option(name: .customShort("X"), help: "Sink property key=value; repeatable.") var properties: [String] = []
        @Flag(help: "Create destination tables before replaying.") var createTables = false
        @Option(help: ReplayCommand.Run.shardHelp) var shard: String?
        @Option(parsing: .unconditional, help: ReplayCommand.Run.realtimeHelp) var realtime: Int32?
        @Option(parsing: .unconditional, help: ReplayCommand.Run.metricsPortHelp) var metricsPort: Int?
        @Flag(help: "No progress line.") var quiet = false

        func run() throws {
            guard !sinks.isEmpty else { throw ValidationError("Give at least one --sink URI (e.g. --sink mock://).") }
            var args = ["sim", "--speed", speed, "--loop", String(loop)]
            for s in sinks { args += ["--sink", s] }
            if let report { args += ["--report", report] }
            for x in properties { args += ["-X", x] }
            if let f = filters.from { args += ["--from", f] }
            if let t = filters.to { args += ["--to", t] }
            for (flag, values) in [("--kind", filters.kind), ("--conn", filters.conn), ("--stream", filters.stream),
                                   ("--symbol", filters.symbol), ("--kinds", kinds)] {
                for v in values { args += [flag, v] }
            }
            if createTables { args.append("--create-tables") }
            if let shard { args += ["--shard", shard] }
            if let realtime { args += ["--realtime", String(realtime)] }
            if let metricsPort { args += ["--metrics-port", String(metricsPort)] }
            if quiet { args.append("--quiet") }
            let replay = try ReplayCommand.Run.parse(args)
            let (source, generator) = try reportingErrors { () throws -> (GeneratedReplaySource, CaptureGenerator) in
                let p = try options.load()
                let g = CaptureGenerator(profile: p)
                // --to bounds the generation too (the engine's filter drops the rest anyway).
                let until = filters.to == nil ? nil : try filters.filter(start: g.firstTimestamp).to
                let s = try GeneratedReplaySource(generator: g, keep: keep, until: until,
                                                  commandLine: CommandLine.arguments.joined(separator: " "))
                return (s, g)
            }
            defer {
                do { try source.closeKept() } catch { StdErr.print("k2: --keep \(keep ?? ""): \(error)") }
            }
            let p = generator.profile
            let expected = Int(p.timeline.expectedCount) * p.venues.count
            StdErr.print("k2 sim run: profile \(p.name) (seed \(p.seed), \(p.venues.map(\.rawValue).joined(separator: ","))), ~\(expected) messages over "
                         + "\(TimeText.humanDuration(nanos: p.timeline.length)), generated as they are replayed" + (keep.map { "; keeping them in \($0)" } ?? ""))
            try replay.run(source: ReplaySourceFactory(name: "k2 sim: profile \(p.name), seed \(p.seed)") { source },
                           sourceStart: generator.firstTimestamp)
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Measure generation speed: generation alone and generation + capture writing (zstd).",
            discussion: "Default: 2,000,000 Binance messages (a 10 s constant profile at 200K msg/s). Prints wall and CPU-time rates."
        )
        @Option(help: "Messages to generate.") var messages: Int = 2_000_000
        @Option(help: "binance, kraken or coinbase.") var venue: String = "binance"
        @Option(help: "Seed.") var seed: UInt64 = 1
        @Option(help: "Where to write the capture for the write pass.") var output: String = "/tmp/k2-sim-bench.k2cap"

        func run() throws {
            try reportingErrors {
                let v: Venue
                do throws(CaptureError) { v = try Venue(parsing: venue) } catch { throw SimError(error, location: "--venue") }
                guard messages > 0 else { throw SimError(location: "--messages", what: "must be positive", remedy: "e.g. --messages 2000000") }
                let rate = 200_000.0
                let p = SimProfile.constant(rate: rate, duration: Int64(Double(messages) / rate * 1e9), venue: v, seed: seed, arrivals: .uniform)
                print("k2 sim bench: \(v.rawValue), \(messages) messages, seed \(seed), one core")
                let g = SimBench.generateOnly(profile: p)
                print("generate only:    " + g.line)
                let w = try SimBench.generateAndWrite(profile: p, path: output)
                print("generate + write: " + w.line + " (zstd level 3)")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate a profile and print its timeline with expected message counts.")
        @Argument(help: "The YAML profile.") var profile: String

        func run() throws {
            try reportingErrors {
                let p = try ProfileLoader.load(path: profile)
                print("\(profile): profile \(p.name), seed \(p.seed), venues \(p.venues.map(\.rawValue).joined(separator: ",")), \(p.market.symbols) symbols")
                for (i, s) in p.timeline.segments.enumerated() {
                    print("  [\(i)] +\(TimeText.humanDuration(nanos: p.timeline.starts[i])) \(s.shape.name) for \(TimeText.humanDuration(nanos: s.length)), \(s.arrivals.rawValue): ~\(Int(s.expectedCount)) messages per venue")
                }
                print("  total ~\(Int(p.timeline.expectedCount)) messages per venue over \(TimeText.humanDuration(nanos: p.timeline.length))")
                let f = p.faults
                var faults: [String] = []
                if let d = f.dropEveryNanos { faults.append("drop every \(TimeText.humanDuration(nanos: d))") }
                if let d = f.stallEveryNanos { faults.append("stall \(TimeText.humanDuration(nanos: f.stallForNanos)) every \(TimeText.humanDuration(nanos: d))") }
                for (n, what) in [(f.gapEvery, "gap"), (f.duplicateEvery, "duplicate"), (f.reorderEvery, "reorder"), (f.malformedEvery, "malformed")] where n > 0 {
                    faults.append("\(what) every \(n) messages")
                }
                faults.append(f.closeAfterNanos.map { "close after \(TimeText.humanDuration(nanos: $0))" } ?? "no lifetime limit")
                print("  exchange faults: " + faults.joined(separator: ", "))
            }
        }
    }
}
