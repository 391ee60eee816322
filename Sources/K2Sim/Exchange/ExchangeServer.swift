import K2Capture
import K2Core
import K2Net
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A live fake exchange: a WebSocket server on 127.0.0.1 that speaks one venue's subscription
/// protocol, streams the synthetic market of a profile to each connection (its own `LiveFeed`,
/// filtered to its subscriptions, paced by the profile's load shapes), serves Binance's REST
/// depth snapshot over HTTP on the same port, injects faults, and can log every frame it sent
/// into a capture so a test can compare it with what a client recorded.
///
/// Everything runs on one event loop thread: a 1 ms timer moves every connection's feed
/// forward to "now" and flushes what it produced in one write. A client whose socket buffer is
/// full is not fed until it drains (its feed falls behind and catches up).
package final class ExchangeServer: WebSocketServerDelegate, @unchecked Sendable {
    // unchecked: sessions and timers are touched on the simulator's loop only.
    package let options: ExchangeOptions
    /// The profile the feeds use.
    let profile: SimProfile
    private var server: WebSocketServer?
    let loop: NetLoop
    let universe: SymbolUniverse
    private var sessions: [ExchangeSession] = []
    private var nextSession: UInt32 = 0
    private var timers: [NetTimer] = []
    var log: CaptureWriter?
    let clock = SystemClock()
    let startedMono: Int64
    private let statsLock = Lock()
    private var _stats = ExchangeStats()
    /// The Binance session that connected last: REST snapshots come from its market, so a
    /// recorder that connects and then asks for a snapshot gets one consistent with its stream.
    private weak var lastBinance: ExchangeSession?

    /// zstd level of `--log`: the fast level -3. The log is compressed on the loop thread that
    /// generates and sends, so at `--rate max` it must cost the simulator as little as it can:
    /// on 1 MiB blocks of Binance frames, level 3 compresses 741 MB/s to 10.8:1, level -3
    /// 1,126 MB/s to 7.8:1 (`zstd -b3` / `-b --fast=3 -B1M`).
    static let logCompressionLevel: Int32 = -3

    /// Starts listening. Throws one actionable line (port in use, bad log path).
    package init(_ options: ExchangeOptions) throws(SimError) {
        self.options = options
        let simProfile = options.profile
        profile = simProfile
        universe = LiveFeed(profile: simProfile, venue: options.venue).universe
        startedMono = clock.monotonicNanos()
        loop = NetLoop(threads: 1)
        if let path = options.logPath {
            do {
                log = try CaptureWriter(
                    path: path,
                    header: CaptureHeader.now(metadata: [
                        ("exchange", .string(options.venue.rawValue)), ("source", .string("k2 sim exchange")),
                        ("profile", .string(simProfile.name)), ("seed", .number(String(simProfile.seed))),
                    ]), options: CaptureWriter.Options(level: Self.logCompressionLevel))
            } catch {
                loop.shutdown()
                throw SimError(location: path, what: error.what, remedy: error.remedy)
            }
        }
        do {
            server = try WebSocketServer(.init(host: options.host, port: options.port), delegate: self, loop: loop)
        } catch {
            try? log?.close()
            loop.shutdown()
            throw SimError(location: "--port \(options.port)", what: error.what, remedy: error.remedy)
        }
        loop.execute { [self] in
            self.timers.append(self.loop.scheduleRepeating(everyNanos: 1_000_000) { [self] in self.tick() })
            if self.log != nil {
                self.timers.append(self.loop.scheduleRepeating(everyNanos: 250_000_000) { [self] in try? self.log?.flushIfDue() })
            }
        }
    }

    /// The bound port.
    package var port: Int { server?.port ?? 0 }
    /// `ws://127.0.0.1:PORT`.
    package var url: String { "ws://\(options.host):\(port)" }

    /// Counters so far (any thread).
    package var stats: ExchangeStats { statsLock.withLock { _stats } }

    func updateStats(_ body: (inout ExchangeStats) -> Void) { statsLock.withLock { body(&_stats) } }

    /// Stops: closes every connection with 1001, finishes the log, stops listening. Not on the loop.
    package func close() {
        guard server != nil else { return }
        try? loop.sync { [self] in
            for t in self.timers { t.cancel() }
            for s in self.sessions { s.shutdown() }
        }
        usleep(100_000)
        try? loop.sync { [self] in try? self.log?.close() }
        server?.close()
        server = nil
        loop.shutdown()
    }

    deinit { close() }

    // MARK: WebSocketServerDelegate (on the loop)

    package func accept(_ request: HTTPRequestInfo) -> WebSocketAcceptance {
        var subscriptions: SubscriptionSet?
        var combined = true
        if options.venue == .binance {
            do {
                let (set, isCombined) = try BinanceProtocol.parsePath(request.target, universe: universe)
                subscriptions = set
                combined = isCombined
            } catch {
                return .reject(
                    HTTPResponseInfo(
                        status: 400, headers: [("Content-Type", "application/json")],
                        body: #"{"code":-1100,"msg":\#(JSONText.quoted(error.description))}"#))
            }
        }
        let session = ExchangeSession(id: nextSession, server: self, request: request, subscriptions: subscriptions, combined: combined)
        nextSession += 1
        return .accept(session)
    }

    package func respond(to request: HTTPRequestInfo) -> HTTPResponseInfo {
        guard request.method == "GET" else { return HTTPResponseInfo(status: 405, body: "GET only\n") }
        let json = [("Content-Type", "application/json")]
        switch request.path {
        case "/api/v3/depth" where options.venue == .binance:
            guard let sym = request.queryValue("symbol"), let symbol = universe.index(ofName: sym, venue: .binance) else {
                return HTTPResponseInfo(status: 400, headers: json, body: #"{"code":-1121,"msg":"Invalid symbol."}"#)
            }
            let limit = Int(request.queryValue("limit") ?? "100") ?? 100
            updateStats { $0.snapshots += 1 }
            let body =
                lastBinance?.snapshot(symbol: symbol, limit: limit)
                ?? LiveFeed(profile: profile, venue: .binance).snapshot(symbol: symbol, limit: limit)
            return HTTPResponseInfo(status: 200, headers: json, body: body)
        case "/api/v3/ping":
            return HTTPResponseInfo(status: 200, headers: json, body: "{}")
        case "/api/v3/time":
            return HTTPResponseInfo(status: 200, headers: json, body: #"{"serverTime":\#(clock.wallNanos() / 1_000_000)}"#)
        default:
            return HTTPResponseInfo(status: 404, body: "not found\n")
        }
    }

    // MARK: sessions

    func opened(_ s: ExchangeSession) {
        sessions.append(s)
        if options.venue == .binance { lastBinance = s }
        updateStats { $0.connections += 1 }
        note("connect", ["conn": "\(s.id)", "target": s.request.target])
    }

    func closed(_ s: ExchangeSession, code: UInt16, reason: String) {
        sessions.removeAll { $0 === s }
        note("disconnect", ["conn": "\(s.id)", "code": "\(code)", "reason": reason])
    }

    func note(_ event: String, _ fields: [String: String]) {
        guard options.verbose else { return }
        options.logger.info("\(event)", metadata: fields.mapValues { .string($0) })
    }

    private func tick() {
        let now = clock.monotonicNanos()
        for s in sessions { s.pump(now: now) }
    }
}

/// What the simulator has done so far.
package struct ExchangeStats: Sendable, Equatable {
    package var connections = 0
    package var framesSent: Int64 = 0
    package var snapshots = 0
    package var faults = 0
    /// Pongs received (answers to the Binance pings).
    var pongs = 0
}
