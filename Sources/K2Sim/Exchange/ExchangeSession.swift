import K2Capture
import K2Core
import K2Net

/// One client connection of the exchange simulator: the venue's subscription protocol, its
/// own `LiveFeed` filtered to its subscriptions, and the faults. Loop-confined.
final class ExchangeSession: WebSocketDelegate, @unchecked Sendable {
    // unchecked: loop-confined (all calls on the simulator's loop).
    let id: UInt32
    unowned let server: ExchangeServer
    let request: HTTPRequestInfo
    private(set) var connection: WebSocketConnection?
    private var feed: LiveFeed
    private var subscriptions: SubscriptionSet
    private var binanceActive: [String] = []
    private var coinbaseHeartbeats = false
    private var heartbeatCounter: Int64 = 0
    private var buf: [UInt8] = []
    private var pending = false
    private var pendingOffset: Int64 = 0
    private var held: [UInt8]?
    private var dataCount = 0
    private var sentSinceStats: Int64 = 0
    private var baseMono: Int64?
    private var stalledUntil: Int64 = 0
    private var nextDrop: Int64 = .max
    private var nextStall: Int64 = .max
    private var closeAt: Int64 = .max
    private var nextPing: Int64 = .max
    private var nextHeartbeat: Int64 = .max
    private var closing = false
    private var fastQueued = false
    /// `--rate max`: the pre-encoded frames streamed in a loop, and the next one to write.
    private var pool: EncodedFrames?
    private var poolPos = 0
    private static var noAux: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    init(id: UInt32, server: ExchangeServer, request: HTTPRequestInfo, subscriptions: SubscriptionSet?, combined: Bool) {
        self.id = id
        self.server = server
        self.request = request
        feed = LiveFeed(profile: server.profile, venue: server.options.venue, startNanos: server.clock.wallNanos())
        feed.binanceCombined = combined
        // Every fill on @trade and one message per event on @aggTrade, both with continuous ids.
        feed.binanceTradeFanout = true
        self.subscriptions = subscriptions ?? SubscriptionSet(symbols: server.universe.count)
        feed.filter = self.subscriptions
    }

    private var isSubscribed: Bool { !subscriptions.isEmpty }

    /// Binance REST snapshot from this connection's market.
    func snapshot(symbol: Int, limit: Int) -> [UInt8] { feed.snapshot(symbol: symbol, limit: limit) }

    // MARK: WebSocketDelegate

    func webSocketOpened(_ c: WebSocketConnection) {
        connection = c
        let o = server.options
        let now = server.clock.monotonicNanos()
        if let d = o.faults.dropEveryNanos { nextDrop = now + d }
        if let s = o.faults.stallEveryNanos { nextStall = now + s }
        if let a = o.faults.closeAfterNanos { closeAt = now + a }
        if o.venue == .binance { nextPing = now + o.pingEveryNanos }
        nextHeartbeat = now + o.heartbeatEveryNanos
        if let w = server.log {
            let url = Array("\(server.url)\(request.target)".utf8)
            url.withUnsafeBytes { u in try? w.append(kind: .connect, timestamp: server.clock.wallNanos(), connection: id, isBinary: false, aux: u, payload: Self.noAux) }
        }
        server.opened(self)
        switch o.venue {
        case .binance:
            if isSubscribed { startFeed() }
        case .kraken:
            sendControl(KrakenProtocol.systemStatus(connectionID: 10_000_000 + UInt64(id)))
        case .coinbase:
            break
        }
        connection?.flush()
    }

    func webSocket(_ c: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool) {
        if let w = server.log { try? w.append(kind: .send, timestamp: server.clock.wallNanos(), connection: id, isBinary: binary, aux: Self.noAux, payload: payload) }
        let bytes = [UInt8](payload)
        switch server.options.venue {
        case .binance: binanceRequest(bytes)
        case .kraken: krakenRequest(bytes)
        case .coinbase: coinbaseRequest(bytes)
        }
        feed.filter = subscriptions
        pool = nil   // --rate max: rebuilt for the new subscriptions
        if isSubscribed { startFeed() }
        if stalledUntil == 0 { c.flush() }
    }

    func webSocketClosed(_ c: WebSocketConnection, code: UInt16, reason: String) {
        closing = true
        let body = JSONValue.object([("code", .number(String(code))), ("reason", .string(reason))]).serialized()
        logRecord(.disconnect, Array(body.utf8))
        server.closed(self, code: code, reason: reason)
        connection = nil
    }

    func webSocket(_ c: WebSocketConnection, control: WebSocketControl, payload: UnsafeRawBufferPointer) {
        if control == .pong { server.updateStats { $0.pongs += 1 } }
    }

    func webSocketWritable(_ c: WebSocketConnection) {
        pump(now: server.clock.monotonicNanos())
    }

    /// Closes for shutdown (1001).
    func shutdown() {
        guard let c = connection, !closing else { return }
        closing = true
        c.flush()
        c.close(code: CloseCode.goingAway, reason: "simulator stopping")
    }

    // MARK: sending

    private func startFeed() {
        if baseMono == nil { baseMono = server.clock.monotonicNanos() }
    }

    private func logRecord(_ kind: RecordKind, _ bytes: [UInt8]) {
        guard let w = server.log else { return }
        bytes.withUnsafeBytes { try? w.append(kind: kind, timestamp: server.clock.wallNanos(), connection: id, isBinary: false, aux: Self.noAux, payload: $0) }
    }

    private func marker(_ fault: String, _ extra: [(String, JSONValue)] = []) {
        server.updateStats { $0.faults += 1 }
        logRecord(.marker, Array(JSONValue.object([("marker", .string("fault")), ("fault", .string(fault)), ("conn", .number(String(id)))] + extra).serialized().utf8))
        server.note("fault", ["conn": "\(id)", "fault": fault])
    }

    @inline(__always)
    private func sendFrame(_ bytes: UnsafeRawBufferPointer) {
        guard let c = connection else { return }
        c.send(bytes)
        if let w = server.log { try? w.append(kind: .recv, timestamp: server.clock.wallNanos(), connection: id, isBinary: false, aux: Self.noAux, payload: bytes) }
        sentSinceStats += 1
    }

    private func sendControl(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { sendFrame($0) }
    }

    /// One data message, through the faults.
    private func deliver(_ msg: UnsafeRawBufferPointer) {
        dataCount += 1
        let f = server.options.faults
        if f.gapEvery > 0, dataCount % f.gapEvery == 0 {
            marker("gap", [("skipped", .string(String(decoding: msg, as: UTF8.self)))])
            return
        }
        if f.malformedEvery > 0, dataCount % f.malformedEvery == 0 {
            marker("malformed")
            sendFrame(UnsafeRawBufferPointer(rebasing: msg[0..<max(1, msg.count / 2)]))
            return
        }
        if f.reorderEvery > 0, dataCount % f.reorderEvery == 0, held == nil {
            held = [UInt8](msg)
            marker("reorder")
            return
        }
        sendFrame(msg)
        if let h = held {
            h.withUnsafeBytes { sendFrame($0) }
            held = nil
        }
        if f.duplicateEvery > 0, dataCount % f.duplicateEvery == 0 {
            marker("duplicate")
            sendFrame(msg)
        }
    }

    /// Moves the feed forward to `now`, applies timed faults, pings and heartbeats, flushes.
    func pump(now: Int64) {
        guard let c = connection, !closing else { return }
        timers(now: now, c)
        guard !closing, let base = baseMono, isSubscribed else { flushUnlessStalled(now); return }
        if server.options.maxRatePool > 0 {
            pumpPool(c, now: now)
            return
        }
        let elapsed = now - base
        let unpaced = server.options.unpaced
        var produced = 0
        while c.isWritable {
            if !pending {
                buf.removeAll(keepingCapacity: true)
                guard let e = feed.next(into: &buf) else {
                    server.note("timeline_end", ["conn": "\(id)"])
                    c.flush()
                    c.close(code: CloseCode.goingAway, reason: "profile timeline finished")
                    closing = true
                    return
                }
                pending = true
                pendingOffset = e.offsetNanos
            }
            if !unpaced && pendingOffset > elapsed { break }
            buf.withUnsafeBytes { deliver($0) }
            pending = false
            produced += 1
            if c.pendingBytes >= 256 * 1024 {
                if !flushUnlessStalled(now) { break }
                if unpaced { break }
            }
            if produced >= 200_000 { break }
        }
        flushUnlessStalled(now)
        if unpaced, !fastQueued, c.isWritable, stalledUntil == 0 {
            fastQueued = true
            c.execute { [self] in
                self.fastQueued = false
                self.pump(now: self.server.clock.monotonicNanos())
            }
        }
    }

    /// `--rate max`: writes runs of the pre-encoded pool (zero-copy slices) while the socket
    /// takes them, up to a budget per loop turn, then yields to the loop and comes back.
    private func pumpPool(_ c: WebSocketConnection, now: Int64) {
        guard flushUnlessStalled(now) else { return }   // control frames (acks, heartbeats) first
        if pool == nil { pool = buildPool() }
        guard let p = pool, p.count > 0 else { return }
        var bytes = 0
        while c.isWritable && bytes < 4 << 20 {
            let end = p.runEnd(from: poolPos, maxBytes: 256 << 10)
            if let w = server.log {
                let ts = server.clock.wallNanos()
                for i in poolPos..<end {
                    p.withPayload(i) { b -> Void in _ = try? w.append(kind: .recv, timestamp: ts, connection: id, isBinary: false, aux: Self.noAux, payload: b) }
                }
            }
            c.write(p, poolPos..<end)
            sentSinceStats += Int64(end - poolPos)
            bytes += 256 << 10
            poolPos = end == p.count ? 0 : end
        }
        flushUnlessStalled(now)
        if !fastQueued, c.isWritable {
            fastQueued = true
            c.execute { [self] in
                self.fastQueued = false
                self.pump(now: self.server.clock.monotonicNanos())
            }
        }
    }

    private func buildPool() -> EncodedFrames {
        let n = server.options.maxRatePool
        let frames = EncodedFrames(capacity: n * 256)
        var b: [UInt8] = []
        b.reserveCapacity(4096)
        for _ in 0..<n {
            b.removeAll(keepingCapacity: true)
            guard feed.next(into: &b) != nil else { break }
            b.withUnsafeBytes { frames.append($0) }
        }
        poolPos = 0
        return frames
    }

    /// Writes what is queued unless stalled; returns false while stalled.
    @discardableResult
    private func flushUnlessStalled(_ now: Int64) -> Bool {
        if sentSinceStats > 0 {
            let k = sentSinceStats
            server.updateStats { $0.framesSent += k }
            sentSinceStats = 0
        }
        if stalledUntil > 0 {
            if now < stalledUntil { return false }
            stalledUntil = 0
        }
        connection?.flush()
        return true
    }

    private func timers(now: Int64, _ c: WebSocketConnection) {
        let o = server.options
        if now >= nextDrop {
            nextDrop = .max
            marker("drop")
            c.flush()
            c.abort()
            closing = true
            return
        }
        if now >= closeAt {
            closeAt = .max
            marker("close_after")
            c.flush()
            c.close(code: CloseCode.goingAway, reason: "connection lifetime limit reached")
            closing = true
            return
        }
        if now >= nextStall, let every = o.faults.stallEveryNanos {
            nextStall = now + every
            stalledUntil = now + o.faults.stallForNanos
            marker("stall", [("for_ns", .number(String(o.faults.stallForNanos)))])
        }
        if now >= nextPing {
            nextPing = now + o.pingEveryNanos
            c.ping(Array(String(server.clock.wallNanos() / 1_000_000).utf8))
        }
        if now >= nextHeartbeat {
            nextHeartbeat = now + o.heartbeatEveryNanos
            if o.venue == .kraken, isSubscribed {
                sendControl(KrakenProtocol.heartbeat)
            } else if o.venue == .coinbase, coinbaseHeartbeats {
                heartbeatCounter += 1
                sendControl(CoinbaseProtocol.heartbeat(counter: heartbeatCounter, nanos: server.clock.wallNanos(),
                                                       uptimeNanos: now - server.startedMono, sequence: feed.takeCoinbaseSequence()))
            }
        }
    }

    // MARK: venue protocols

    private func binanceRequest(_ bytes: [UInt8]) {
        guard let r = BinanceProtocol.parseRequest(bytes) else {
            sendControl(Array(#"{"error":{"code":3,"msg":"Invalid JSON"},"id":null}"#.utf8))
            return
        }
        sendControl(BinanceProtocol.handle(r, set: &subscriptions, active: &binanceActive, universe: server.universe))
    }

    private func krakenRequest(_ bytes: [UInt8]) {
        guard let r = KrakenProtocol.parseRequest(bytes) else {
            sendControl(Array(#"{"errorMessage":"Malformed request","event":"error"}"#.utf8))
            return
        }
        switch r.event {
        case "ping":
            sendControl(KrakenProtocol.pong(reqid: r.reqid))
        case "subscribe", "unsubscribe":
            let (frames, books) = KrakenProtocol.handle(r, set: &subscriptions, universe: server.universe, bookDepth: server.profile.krakenBookDepth)
            for f in frames { sendControl(f) }
            for b in books { sendControl(feed.krakenBookSnapshot(symbol: b, nanos: server.clock.wallNanos())) }
        default:
            sendControl(Array(#"{"errorMessage":"Unsupported event","event":"error"}"#.utf8))
        }
    }

    private func coinbaseRequest(_ bytes: [UInt8]) {
        guard let r = CoinbaseProtocol.parseRequest(bytes), r.type == "subscribe" || r.type == "unsubscribe" else {
            sendControl(Array(#"{"type":"error","message":"malformed request: expected {\"type\":\"subscribe\",\"product_ids\":[…],\"channel\":…}"}"#.utf8))
            return
        }
        guard CoinbaseProtocol.apply(r, set: &subscriptions, universe: server.universe) else {
            let list = r.productIDs.joined(separator: ",")
            sendControl(Array(#"{"type":"error","message":\#(JSONText.quoted("Failed to subscribe to \(r.channel) for \(list): unknown channel or product"))}"#.utf8))
            return
        }
        if r.channel == "heartbeats" { coinbaseHeartbeats = r.type == "subscribe" }
        sendControl(CoinbaseProtocol.subscriptions(subscriptions, universe: server.universe, heartbeats: coinbaseHeartbeats,
                                                   nanos: server.clock.wallNanos(), sequence: feed.takeCoinbaseSequence()))
    }
}
