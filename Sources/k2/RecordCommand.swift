import ArgumentParser
import K2Capture
import K2Core
import K2Record

#if canImport(Glibc)
import Glibc
#endif

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record raw exchange WebSocket traffic into a .k2cap capture.",
        discussion: """
            k2 record --venue binance --symbols BTCUSDT,ETHUSDT --channels trade,depth -o captures/btc.k2cap
            k2 record --venue binance --symbols BTCUSDT --channels trade --url ws://127.0.0.1:9443 -o /tmp/sim.k2cap
            k2 record --url wss://ws.kraken.com --send '{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"trade"}}' -o k.k2cap

            Several venues: repeat --venue; the i-th --symbols/--channels/--url goes with the i-th --venue
            (a single one applies to all). Symbols are the venue's own (Binance BTCUSDT, Kraken XBT/USD,
            Coinbase BTC-USD). Frames are stored exactly as received with their receive time; reconnects
            use exponential backoff 1 s → 128 s with jitter. SIGINT/SIGTERM close the capture cleanly.
            Exit: 0 done, 1 a failure while recording, 2 bad input (venue, channel, host, TLS, rejected subscription).
            """
    )

    @Option(help: "binance, kraken or coinbase; repeat or comma-separate for several venues.") var venue: [String] = []
    @Option(help: "Symbols, comma-separated (one --symbols per --venue, or one for all).") var symbols: [String] = []
    @Option(help: "Channels: trade, depth (and venue names such as aggTrade, level2); one per --venue or one for all.") var channels: [String] = [
        "trade"
    ]
    @Option(help: "Endpoint override (e.g. the simulator, ws://127.0.0.1:PORT), or with no --venue a URL to record as is; repeatable.") var url:
        [String] = []
    @Option(help: "A text frame to send after connecting to a --url without --venue; repeatable.") var send: [String] = []
    @Option(name: .customLong("rest-url"), help: "Base URL of the REST snapshot endpoint (default: the venue's, or the --url's host).") var restURL:
        String?
    @Option(help: "Open this many identical connections per venue or URL.") var connections: Int = 1
    @Option(name: [.customShort("o"), .long], help: "The capture to write (with --rotate: NAME-0000.k2cap, NAME-0001.k2cap …).") var output: String
    @Option(help: "Start a new file every interval (1h, 30m) or size (1GB, 500MB).") var rotate: Rotation?
    @Option(help: "Stop after this long (30s, 10m, 24h).") var duration: DurationArgument?
    @Option(help: "Longest time a frame waits in memory before reaching the file (what kill -9 can lose).") var flushInterval: DurationArgument = "1s"
    @Option(help: "First reconnect delay (doubles up to --max-backoff).") var backoff: DurationArgument = "1s"
    @Option(help: "Largest reconnect delay.") var maxBackoff: DurationArgument = "128s"
    @Flag(help: "Do not verify TLS certificates (local test servers only).") var insecure = false
    @Option(
        name: .customLong("ca-file"), help: "Also trust the CA certificates in this PEM file (e.g. a local test server's self-signed certificate).")
    var caFile: String?
    @Option(help: "Give up opening a connection (TCP, TLS, WebSocket upgrade) after this long.") var connectTimeout: DurationArgument = "15s"
    @Flag(help: "Structured log lines even on a terminal.") var log = false
    @Flag(help: "Only errors on stderr.") var quiet = false

    /// `--rotate`: an interval or a size.
    enum Rotation: CheckedArgument, Sendable {
        case every(nanos: Int64)
        case bytes(Int64)

        static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
            if !text.uppercased().hasSuffix("B"), let interval = try? DurationArgument.parse(text) { return .every(nanos: interval.nanos) }
            if let size = try? SizeArgument.parse(text) { return .bytes(size.bytes) }
            throw ArgumentRefusal(what: "is neither an interval nor a size", remedy: "give an interval (1h, 30m) or a size (1GB, 500MB)")
        }
    }

    /// The most identical connections per venue or URL.
    static let maxConnections = 10_000

    func validate() throws {
        try check(connections, in: 1...Self.maxConnections, "--connections", example: 2)
    }

    func run() throws {
        let recorder = try reportingErrors { try Recorder(try makeConfiguration()) }
        StopSignals.install { signalNumber in recorder.stop(reason: signalNumber == SIGINT ? "SIGINT" : "SIGTERM") }
        // A file size limit (ulimit -f) must end the recording with one line like a full disk
        // (write fails with EFBIG), not kill the process with SIGXFSZ before the capture is closed.
        signal(SIGXFSZ, SIG_IGN)
        do {
            let summary = try recorder.run()
            if !quiet {
                StdErr.print(
                    "k2: recorded \(summary.frames) frames (\(summary.reconnects) reconnects, \(summary.gaps) gaps, \(summary.duplicates) duplicates, \(summary.malformed) malformed) into \(summary.files.joined(separator: ", ")); \(summary.stopReason)"
                )
            }
        } catch {
            // Already printed by the recorder's status output.
            throw ExitCode(error.exitCode)
        }
    }

    private func list(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }.map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
    }

    func makeConfiguration() throws(RecordError) -> RecordConfiguration {
        let venues = try list(venue).map { (name) throws(RecordError) in
            do throws(CaptureError) { return try Venue(parsing: name) } catch {
                throw RecordError(.invalidArgument, place: "--venue", what: error.what, remedy: error.remedy)
            }
        }
        var plans: [ConnectionPlan] = []
        func pick(_ values: [String], _ i: Int) -> String? {
            values.isEmpty ? nil : values.count == 1 ? values[0] : i < values.count ? values[i] : nil
        }
        if venues.isEmpty {
            guard !url.isEmpty else {
                throw RecordError(
                    .invalidArgument, what: "nothing to record", remedy: "give --venue binance|kraken|coinbase or --url URL [--send MSG]")
            }
            for address in url {
                plans.append(try ConnectionPlan.raw(url: address, sends: send))
            }
        } else {
            if !send.isEmpty {
                throw RecordError(.invalidArgument, what: "--send goes with --url and no --venue", remedy: "drop --venue to send frames by hand")
            }
            for (i, venue) in venues.enumerated() {
                guard let venueSymbols = pick(symbols, i) else {
                    throw RecordError(
                        .invalidArgument, what: "no symbols for \(venue.rawValue)", remedy: "give --symbols, e.g. BTCUSDT,ETHUSDT (one per --venue)")
                }
                let ch = pick(channels, i) ?? "trade"
                plans.append(
                    try ConnectionPlan.venue(venue, symbols: list([venueSymbols]), channels: list([ch]), url: pick(url, i), restBase: restURL))
            }
        }
        plans = plans.flatMap { p in Array(repeating: p, count: connections) }
        var configuration = RecordConfiguration(plans: plans, output: output)
        switch rotate {
        case let .every(nanos)?: configuration.rotateEveryNanos = nanos
        case let .bytes(bytes)?: configuration.rotateBytes = bytes
        case nil: break
        }
        if let duration { configuration.durationNanos = duration.nanos }
        configuration.flushIntervalNanos = flushInterval.nanos
        configuration.backoffInitialNanos = backoff.nanos
        configuration.backoffMaxNanos = maxBackoff.nanos
        configuration.client.tls.verifyCertificate = !insecure
        if let caFile {
            guard access(caFile, R_OK) == 0 else {
                throw RecordError(
                    .invalidArgument, place: caFile, what: "cannot read the --ca-file", remedy: "give a readable PEM file of CA certificates")
            }
            configuration.client.tls.trustRootsPEMFile = caFile
        }
        configuration.client.handshakeTimeoutNanos = connectTimeout.nanos
        configuration.status = quiet ? .quiet : log ? .log : .auto
        configuration.metadata = [("command_line", .string((["k2"] + CommandLine.arguments.dropFirst()).joined(separator: " ")))]
        return configuration
    }
}
