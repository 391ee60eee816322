import ArgumentParser
import Dispatch
import K2Capture
import K2Core
import K2Record
import K2Sim

#if canImport(Glibc)
import Glibc
#endif

struct SimExchangeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exchange",
        abstract: "A fake exchange on 127.0.0.1: the venue's WebSocket protocol, a live synthetic market, faults.",
        discussion: """
            k2 sim exchange --venue binance --port 9443 --rate 1000
            k2 record --venue binance --symbols BTCUSDT --channels trade,depth --url ws://127.0.0.1:9443 -o /tmp/sim.k2cap

            Binance: /stream?streams=btcusdt@trade/… (combined), /ws/<stream> (raw), SUBSCRIBE requests, @kline_1m,
            GET /api/v3/depth?symbol=BTCUSDT&limit=1000 on the same port, a ping frame every 20 s.
            Kraken v1: systemStatus, subscribe → subscriptionStatus (+ book snapshot at depth 10/25/100/500/1000), trade, book, ticker, heartbeat, ping/pong.
            Coinbase Advanced Trade: subscribe → subscriptions ack, market_trades, level2 (snapshot first), ticker, candles, heartbeats.
            Each connection gets its own copy of the market (same seed), paced by the profile's load shapes.
            Prints `ws://127.0.0.1:PORT` on stdout when listening; runs until SIGINT/SIGTERM or --duration.
            """
    )

    @Option(help: "binance, kraken or coinbase.") var venue: String
    @Option(parsing: .unconditional, help: "Port to listen on (0: any free port, printed on stdout).") var port: Port<AnyFreePort> = 9443
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "A simulator profile (YAML, docs/sim-profiles.md): market, seed and the load timeline.") var profile: String?
    @Option(
        help:
            "Messages per second per connection without --profile; 0 = as fast as the client reads; max = chunks of 65,536 messages generated ahead and streamed as zero-copy slices (the market continues from chunk to chunk; benchmarks)."
    ) var rate: FeedRate = "100"
    @Option(help: "Symbols in the market without --profile.") var symbols: Int?
    @Option(help: "Seed without --profile.") var seed: UInt64 = 1
    // Faults: each flag overrides the same key of the profile's `faults:` section.
    @Option(help: "Drop each connection (no close frame) every interval, e.g. 30s; off disables.") var dropEvery: DurationOrOffArgument?
    @Option(help: "Stall each connection every interval (send nothing, then burst); off disables.") var stallEvery: DurationOrOffArgument?
    @Option(help: "How long a stall lasts (default 2s).") var stallFor: DurationArgument?
    @Option(help: "Skip every N-th data message (a sequence gap); 0 = off.") var gapEvery: Int?
    @Option(help: "Send every N-th data message twice; 0 = off.") var duplicateEvery: Int?
    @Option(help: "Swap every N-th data message with the next; 0 = off.") var reorderEvery: Int?
    @Option(help: "Send a truncated JSON frame instead of every N-th data message; 0 = off.") var malformedEvery: Int?
    @Option(help: "Close each connection after this long with 1001, like Binance's 24 h limit (default 24h; off disables).") var closeAfter:
        DurationOrOffArgument?
    @Option(help: "Binance ping frame interval.") var pingEvery: DurationArgument = "20s"
    @Option(help: "Kraken/Coinbase heartbeat interval.") var heartbeatEvery: DurationArgument = "1s"
    @Option(help: "Write every frame sent (recv records), received (send records) and every fault (markers) to this capture.") var log: String?
    @Option(help: "Stop after this long.") var duration: DurationArgument?
    @Flag(help: "No per-connection log lines on stderr.") var quiet = false

    /// `--rate`: messages per second, 0 (as fast as the client reads) or max (pre-encoded chunks of a continuing market).
    enum FeedRate: CheckedArgument, ExpressibleByStringLiteral, Sendable {
        case perSecond(Double, text: String)
        case asFastAsRead
        case max

        static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
            switch text.trimmingSpaces().lowercased() {
            case "max": return .max
            case "0": return .asFastAsRead
            default:
                if let number = Double(text.trimmingSpaces()), number == 0 { return .asFastAsRead }
                do {
                    return .perSecond(try RateArgument.parse(text).perSecond, text: text)
                } catch {
                    throw ArgumentRefusal(what: error.what, remedy: error.remedy + ", 0 (as fast as read) or max")
                }
            }
        }

        init(stringLiteral text: String) { self.init(valid: text) }

        var isUnpaced: Bool {
            switch self {
            case .perSecond: return false
            case .asFastAsRead, .max: return true
            }
        }

        var defaultValueDescription: String {
            switch self {
            case let .perSecond(_, text): return text
            case .asFastAsRead: return "0"
            case .max: return "max"
            }
        }
    }

    func validate() throws {
        try check(symbols, in: 1...ProfileOptions.maxSymbols, "--symbols", example: 200)
        for (count, flag) in [
            (gapEvery, "--gap-every"), (duplicateEvery, "--duplicate-every"), (reorderEvery, "--reorder-every"),
            (malformedEvery, "--malformed-every"),
        ] {
            try check(count, in: 0...Int.max, flag, example: 100)
        }
    }

    func run() throws {
        try reportingErrors {
            let parsedVenue: Venue
            do throws(CaptureError) { parsedVenue = try Venue(parsing: venue) } catch { throw SimError(error, location: "--venue") }
            var simProfile: SimProfile
            if let path = profile {
                simProfile = try ProfileLoader.load(path: path)
            } else {
                let perSecond: Double
                if case let .perSecond(value, _) = rate { perSecond = value } else { perSecond = 1_000_000 }
                simProfile = SimProfile.constant(rate: perSecond, duration: 100 * 365 * 86_400 * 1_000_000_000, venue: parsedVenue, seed: seed)
                if let symbols { simProfile.market.symbols = symbols }
            }
            var options = ExchangeOptions(venue: parsedVenue, profile: simProfile)
            options.host = host
            options.port = port.number
            options.unpaced = profile == nil && rate.isUnpaced
            if profile == nil, case .max = rate { options.maxRatePool = 65_536 }
            if let dropEvery { options.faults.dropEveryNanos = dropEvery.nanos }
            if let stallEvery { options.faults.stallEveryNanos = stallEvery.nanos }
            if let stallFor { options.faults.stallForNanos = stallFor.nanos }
            if let gapEvery { options.faults.gapEvery = gapEvery }
            if let duplicateEvery { options.faults.duplicateEvery = duplicateEvery }
            if let reorderEvery { options.faults.reorderEvery = reorderEvery }
            if let malformedEvery { options.faults.malformedEvery = malformedEvery }
            if let closeAfter { options.faults.closeAfterNanos = closeAfter.nanos }
            options.pingEveryNanos = pingEvery.nanos
            options.heartbeatEveryNanos = heartbeatEvery.nanos
            options.logPath = log
            options.verbose = !quiet
            let limit = duration?.nanos
            let server = try ExchangeServer(options)
            print(server.url)
            fflush(nil)
            let done = Latch<Void>()
            StopSignals.install { _ in done.set() }
            if let limit { _ = done.wait(timeoutNanos: limit) } else { done.wait() }
            server.close()
            let stats = server.stats
            if !quiet {
                StdErr.print(
                    "k2: sim exchange: \(stats.connections) connections, \(stats.framesSent) frames sent, \(stats.snapshots) snapshots, \(stats.faults) faults"
                )
            }
        }
    }
}
