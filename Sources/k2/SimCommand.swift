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
    var rate: RateArgument?
    @Option(help: "Length with --rate: 30s, 5m, 1h.")
    var duration: DurationArgument?
    @Option(help: "binance, kraken or coinbase (overrides the profile's venues).")
    var venue: String?
    @Option(help: "Seed (overrides the profile's); the same seed gives byte-identical messages.")
    var seed: UInt64?
    @Option(parsing: .unconditional, help: "Number of symbols (default 200; overrides the profile's).")
    var symbols: Int?

    func validate() throws {
        try check(symbols, in: 1...Self.maxSymbols, "--symbols", example: 200)
        if let rate, let duration, rate.perSecond * Double(duration.nanos) / 1e9 > Self.maxMessages {
            throw ValidationError(
                "--rate \(rate.text) for --duration \(duration.text) is more than 1e15 messages, the most k2 counts: give a lower rate or a shorter duration"
            )
        }
    }

    /// The most messages a `--rate` × `--duration` run makes (counts stay exact in Int and Double).
    static let maxMessages = 1e15

    /// The most symbols a market is built with from the command line (each has its own book).
    static let maxSymbols = 100_000

    /// The profile; bad input is one `SimError` line (exit 2 through `reportingErrors`).
    func load() throws(SimError) -> SimProfile {
        if profile == nil && rate == nil {
            throw SimError(location: "--profile", what: "no traffic given", remedy: "give --profile FILE, or --rate N with --duration D")
        }
        if profile != nil && (rate != nil || duration != nil) {
            throw SimError(location: "--profile", what: "cannot be combined with --rate/--duration", remedy: "give one or the other")
        }
        if rate != nil && duration == nil { throw SimError(location: "--rate", what: "needs --duration", remedy: "add e.g. --duration 60s") }
        var simProfile: SimProfile
        if let path = profile {
            simProfile = try ProfileLoader.load(path: path)
        } else {
            simProfile = SimProfile.constant(rate: rate?.perSecond ?? 0, duration: duration?.nanos ?? 0)
        }
        if let venue {
            do throws(CaptureError) { simProfile.venues = [try Venue(parsing: venue)] } catch { throw SimError(error, location: "--venue") }
        }
        if let seed { simProfile.seed = seed }
        if let symbols { simProfile.market.symbols = symbols }
        return simProfile
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
                let simProfile = try options.load()
                let clock = SystemClock()
                let t0 = clock.monotonicNanos()
                let generated = try CaptureGenerator(profile: simProfile).write(
                    path: output, commandLine: CommandLine.arguments.joined(separator: " "))
                let secs = Double(clock.monotonicNanos() - t0) / 1e9
                print(
                    "\(output): \(generated.messages) messages (\(generated.records) records) over \(TimeText.humanDuration(nanos: generated.simulatedNanos)) simulated, "
                        + "\(SizeText.human(bytes: generated.payloadBytes)) payload, file \(SizeText.human(bytes: generated.fileBytes)); "
                        + "profile \(simProfile.name), seed \(simProfile.seed), venues \(simProfile.venues.map(\.rawValue).joined(separator: ",")); "
                        + "\(Int(Double(generated.messages) / max(1e-9, secs))) msg/s generated+written")
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
        @OptionGroup var replay: ReplayOptions
        @Option(help: "Also write the generated records (first round) into this capture.") var keep: String?

        func run() throws {
            let filters = replay.filters
            let (source, generator) = try reportingErrors { () throws -> (GeneratedReplaySource, CaptureGenerator) in
                let simProfile = try options.load()
                let captureGenerator = CaptureGenerator(profile: simProfile)
                // --to bounds the generation too (the engine's filter drops the rest anyway).
                // Checked here too, so that a bad --from/--to is refused before the line below.
                let filter = try filters.filter(start: captureGenerator.firstTimestamp)
                let until = filters.to == nil ? nil : filter.to
                let replaySource = try GeneratedReplaySource(
                    generator: captureGenerator, keep: keep, until: until,
                    commandLine: CommandLine.arguments.joined(separator: " "))
                return (replaySource, captureGenerator)
            }
            defer {
                do { try source.closeKept() } catch { StdErr.print("k2: --keep \(keep ?? ""): \(error)") }
            }
            let simProfile = generator.profile
            let expected = Int(simProfile.timeline.expectedCount) * simProfile.venues.count
            StdErr.print(
                "k2 sim run: profile \(simProfile.name) (seed \(simProfile.seed), \(simProfile.venues.map(\.rawValue).joined(separator: ","))), ~\(expected) messages over "
                    + "\(TimeText.humanDuration(nanos: simProfile.timeline.length)), generated as they are replayed"
                    + (keep.map { "; keeping them in \($0)" } ?? ""))
            try replay.run(
                source: ReplaySourceFactory(name: "k2 sim: profile \(simProfile.name), seed \(simProfile.seed)") { source },
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

        func validate() throws {
            try check(messages, in: 1...1_000_000_000_000, "--messages", example: 2_000_000)
        }

        func run() throws {
            try reportingErrors {
                let parsedVenue: Venue
                do throws(CaptureError) { parsedVenue = try Venue(parsing: venue) } catch { throw SimError(error, location: "--venue") }
                let rate = 200_000.0
                let simProfile = SimProfile.constant(
                    rate: rate, duration: Int64(Double(messages) / rate * 1e9), venue: parsedVenue, seed: seed, arrivals: .uniform)
                print(
                    "k2 sim bench: \(parsedVenue.rawValue), \(messages) messages, seed \(seed); generation on one thread, compression on \(SimBench.compressionThreads) more"
                )
                let generated = SimBench.generateOnly(profile: simProfile)
                print("generate only:    " + generated.line)
                let written = try SimBench.generateAndWrite(profile: simProfile, path: output)
                print("generate + write: " + written.line + " (zstd level 3; CPU includes the compression threads)")
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
                let loaded = try ProfileLoader.load(path: profile)
                print(
                    "\(profile): profile \(loaded.name), seed \(loaded.seed), venues \(loaded.venues.map(\.rawValue).joined(separator: ",")), \(loaded.market.symbols) symbols"
                )
                for (i, segment) in loaded.timeline.segments.enumerated() {
                    print(
                        "  [\(i)] +\(TimeText.humanDuration(nanos: loaded.timeline.starts[i])) \(segment.shape.name) for \(TimeText.humanDuration(nanos: segment.length)), \(segment.arrivals.rawValue): ~\(Int(segment.expectedCount)) messages per venue"
                    )
                }
                print(
                    "  total ~\(Int(loaded.timeline.expectedCount)) messages per venue over \(TimeText.humanDuration(nanos: loaded.timeline.length))")
                let faultPlan = loaded.faults
                var faults: [String] = []
                if let every = faultPlan.dropEveryNanos { faults.append("drop every \(TimeText.humanDuration(nanos: every))") }
                if let every = faultPlan.stallEveryNanos {
                    faults.append("stall \(TimeText.humanDuration(nanos: faultPlan.stallForNanos)) every \(TimeText.humanDuration(nanos: every))")
                }
                for (every, what) in [
                    (faultPlan.gapEvery, "gap"), (faultPlan.duplicateEvery, "duplicate"), (faultPlan.reorderEvery, "reorder"),
                    (faultPlan.malformedEvery, "malformed"),
                ] where every > 0 {
                    faults.append("\(what) every \(every) messages")
                }
                faults.append(faultPlan.closeAfterNanos.map { "close after \(TimeText.humanDuration(nanos: $0))" } ?? "no lifetime limit")
                print("  exchange faults: " + faults.joined(separator: ", "))
            }
        }
    }
}
