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

            Binance: /stream?streams=btcusdt@trade/… (combined), /ws/<stream> (raw), SUBSCRIBE requests,
            GET /api/v3/depth?symbol=BTCUSDT&limit=1000 on the same port, a ping frame every 20 s.
            Kraken v1: systemStatus, subscribe → subscriptionStatus (+ book snapshot), heartbeat, ping/pong.
            Coinbase Advanced Trade: subscribe → subscriptions ack, market_trades, level2, heartbeats.
            Each connection gets its own copy of the market (same seed), paced by the profile's load shapes.
            Prints `ws://127.0.0.1:PORT` on stdout when listening; runs until SIGINT/SIGTERM or --duration.
            """
    )

    @Option(help: "binance, kraken or coinbase.") var venue: String
    @Option(help: "Port to listen on (0: any free port, printed on stdout).") var port: Int = 9443
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "A simulator profile (YAML, docs/sim-profiles.md): market, seed and the load timeline.") var profile: String?
    @Option(help: "Messages per second per connection without --profile; 0 = as fast as the client reads; max = a pre-encoded loop of 65,536 messages, faster than any client (benchmarks).") var rate: String = "100"
    @Option(help: "Symbols in the market without --profile.") var symbols: Int?
    @Option(help: "Seed without --profile.") var seed: UInt64 = 1
    // Faults: each flag overrides the same key of the profile's `faults:` section.
    @Option(help: "Drop each connection (no close frame) every interval, e.g. 30s; off disables.") var dropEvery: String?
    @Option(help: "Stall each connection every interval (send nothing, then burst); off disables.") var stallEvery: String?
    @Option(help: "How long a stall lasts (default 2s).") var stallFor: String?
    @Option(help: "Skip every N-th data message (a sequence gap); 0 = off.") var gapEvery: Int?
    @Option(help: "Send every N-th data message twice; 0 = off.") var duplicateEvery: Int?
    @Option(help: "Swap every N-th data message with the next; 0 = off.") var reorderEvery: Int?
    @Option(help: "Send a truncated JSON frame instead of every N-th data message; 0 = off.") var malformedEvery: Int?
    @Option(help: "Close each connection after this long with 1001, like Binance's 24 h limit (default 24h; off disables).") var closeAfter: String?
    @Option(help: "Binance ping frame interval.") var pingEvery: String = "20s"
    @Option(help: "Kraken/Coinbase heartbeat interval.") var heartbeatEvery: String = "1s"
    @Option(help: "Write every frame sent (recv records), received (send records) and every fault (markers) to this capture.") var log: String?
    @Option(help: "Stop after this long.") var duration: String?
    @Flag(help: "No per-connection log lines on stderr.") var quiet = false

    func run() throws {
        try reportingErrors {
            let v: Venue
            do throws(CaptureError) { v = try Venue(parsing: venue) } catch { throw SimError(error, location: "--venue") }
            func nanos(_ text: String, _ flag: String) throws(SimError) -> Int64 {
                guard let n = TimeText.parseDuration(text), n > 0 else {
                    throw SimError(location: flag, what: "bad duration '\(text)'", remedy: "give e.g. 500ms, 30s, 24h")
                }
                return n
            }
            var p: SimProfile
            if let path = profile {
                p = try ProfileLoader.load(path: path)
            } else {
                if let r = Double(rate), r < 0 {
                    throw SimError(location: "--rate", what: "negative value \(self.rate)", remedy: "give messages per second, 0 (as fast as read) or max")
                }
                guard let rate = rate == "max" ? 0 : Double(rate), rate >= 0 else {
                    throw SimError(location: "--rate", what: "bad rate \(self.rate)", remedy: "give messages per second, 0 (as fast as read) or max")
                }
                p = SimProfile.constant(rate: rate > 0 ? rate : 1_000_000, duration: 100 * 365 * 86_400 * 1_000_000_000, venue: v, seed: seed)
                if let n = symbols {
                    guard n >= 1 else { throw SimError(location: "--symbols", what: "needs at least 1 symbol", remedy: "give --symbols 1 or more") }
                    p.market.symbols = n
                }
            }
            var o = ExchangeOptions(venue: v, profile: p)
            o.host = host
            o.port = port
            o.unpaced = profile == nil && (rate == "0" || Double(rate) == 0 || rate == "max")
            if profile == nil && rate == "max" { o.maxRatePool = 65_536 }
            func optionalNanos(_ text: String, _ flag: String) throws(SimError) -> Int64? {
                ["off", "none", "0"].contains(text.lowercased()) ? nil : try nanos(text, flag)
            }
            if let d = dropEvery { o.faults.dropEveryNanos = try optionalNanos(d, "--drop-every") }
            if let s = stallEvery { o.faults.stallEveryNanos = try optionalNanos(s, "--stall-every") }
            if let s = stallFor { o.faults.stallForNanos = try nanos(s, "--stall-for") }
            for (n, flag) in [(gapEvery, "--gap-every"), (duplicateEvery, "--duplicate-every"), (reorderEvery, "--reorder-every"), (malformedEvery, "--malformed-every")] {
                if let n, n < 0 { throw SimError(location: flag, what: "negative value \(n)", remedy: "give 0 (off) or N > 0") }
            }
            if let n = gapEvery { o.faults.gapEvery = n }
            if let n = duplicateEvery { o.faults.duplicateEvery = n }
            if let n = reorderEvery { o.faults.reorderEvery = n }
            if let n = malformedEvery { o.faults.malformedEvery = n }
            if let c = closeAfter { o.faults.closeAfterNanos = try optionalNanos(c, "--close-after") }
            o.pingEveryNanos = try nanos(pingEvery, "--ping-every")
            o.heartbeatEveryNanos = try nanos(heartbeatEvery, "--heartbeat-every")
            o.logPath = log
            o.verbose = !quiet
            let limit = try duration.map { (d) throws(SimError) in try nanos(d, "--duration") }
            let server = try ExchangeServer(o)
            print(server.url)
            fflush(nil)
            let done = Latch<Void>()
            StopSignals.install { _ in done.set() }
            if let limit { _ = done.wait(timeoutNanos: limit) } else { done.wait() }
            server.close()
            let s = server.stats
            if !quiet {
                StdErr.print("k2: sim exchange: \(s.connections) connections, \(s.framesSent) frames sent, \(s.snapshots) snapshots, \(s.faults) faults")
            }
        }
    }
}
