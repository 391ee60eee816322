import ArgumentParser
import K2Bench
import K2Core
import K2Replay

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
                Records go out in receive-time order whatever the file order (a capture too scrambled \
                for that is refused with the `k2 capture sort` command that fixes it).
                Exit codes: 0 all delivered; 1 a sink failed or did not deliver everything, or a capture \
                has a torn tail (nothing sent; --allow-torn replays its intact frames) or a damaged frame \
                (the replay stops there; --allow-torn skips it and replays every intact frame, still exit 1); 2 bad input or a \
                sink that cannot open; 130 stopped by Ctrl-C, 143 by SIGTERM (summary still written; another signal ≥ 1 s later exits at once).
                See docs/replay.md.
                """
        )

        @Argument(help: "Capture files (.k2cap); several are merged by receive time.")
        var files: [String]

        @OptionGroup var options: ReplayOptions

        // `.unconditional`: a negative value (`--rate -2`) reaches the check and its message,
        // instead of being taken for an unknown flag.
        @Option(parsing: .unconditional, help: "Fixed message rate in msg/s (5000, 12k) instead of capture timing.")
        var rate: RateArgument?

        @Flag(help: ArgumentHelp("Decompress on the sending thread, as before read-ahead (for measuring it).", visibility: .hidden))
        var noReadAhead = false

        @Flag(
            help:
                "Replay the complete frames of a capture with a torn tail (otherwise refused: exit 1), and skip a damaged frame mid-file (exit 1 still)."
        )
        var allowTorn = false

        func validate() throws {
            if options.speed != nil, rate != nil {
                throw ValidationError("--speed and --rate both given: give one, e.g. --speed 10, --speed max or --rate 5000")
            }
        }

        func run() throws {
            try options.run(files: files, pace: rate.map { .rate($0.perSecond) }, readAhead: !noReadAhead, allowTorn: allowTorn)
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
        @Option(help: "Capture length (10m, 1h).") var duration: DurationArgument = "10m"
        @Option(help: "Mean messages per second.") var rate: RateArgument = "300"
        @Option(help: "Generator seed.") var seed: UInt64 = 1

        func run() throws {
            try reportingErrors {
                let nanos = duration.nanos
                let count = try SyntheticCapture(durationNanos: nanos, rate: rate.perSecond, seed: seed).write(to: output)
                StdErr.print("\(output): \(count) recv messages over \(TimeText.humanDuration(nanos: nanos))")
            }
        }
    }
}
