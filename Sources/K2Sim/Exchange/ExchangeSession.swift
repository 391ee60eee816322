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
        var profile = server.profile
        // Kraken books start at the venue's default depth, 10; a subscription asking for another
        // rebuilds the market with that many levels (`krakenBookDepth(_:)`).
        if server.options.venue == .kraken { profile.krakenBookDepth = 10 }
        feed = LiveFeed(profile: profile, venue: server.options.venue, startNanos: server.clock.wallNanos())
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
        let options = server.options
        let now = server.clock.monotonicNanos()
        if let dropEvery = options.faults.dropEveryNanos { nextDrop = now + dropEvery }
        if let stallEvery = options.faults.stallEveryNanos { nextStall = now + stallEvery }
        if let closeAfter = options.faults.closeAfterNanos { closeAt = now + closeAfter }
        if options.venue == .binance { nextPing = now + options.pingEveryNanos }
        nextHeartbeat = now + options.heartbeatEveryNanos
        if let writer = server.log {
            let url = Array("\(server.url)\(request.target)".utf8)
            url.withUnsafeBytes { u in
                try? writer.append(kind: .connect, timestamp: server.clock.wallNanos(), connection: id, isBinary: false, aux: u, payload: Self.noAux)
            }
        }
        server.opened(self)
        switch options.venue {
        case .binance:
            if isSubscribed { startFeed() }
        case .kraken:
            sendControl(VenueAnswers.krakenSystemStatus(connectionID: 10_000_000 + UInt64(id)))
        case .coinbase:
            break
        }
        connection?.flush()
    }

    func webSocket(_ c: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool) {
        if let writer = server.log {
            try? writer.append(kind: .send, timestamp: server.clock.wallNanos(), connection: id, isBinary: binary, aux: Self.noAux, payload: payload)
        }
        let bytes = [UInt8](payload)
        finishPool()
        switch server.options.venue {
        case .binance: binanceRequest(bytes)
        case .kraken: krakenRequest(bytes)
        case .coinbase: coinbaseRequest(bytes)
        }
        feed.filter = subscriptions
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
        guard let connection = connection, !closing else { return }
        closing = true
        connection.flush()
        connection.close(code: CloseCode.goingAway, reason: "simulator stopping")
    }

    // MARK: sending

    private func startFeed() {
        if baseMono == nil { baseMono = server.clock.monotonicNanos() }
    }

    private func logRecord(_ kind: RecordKind, _ bytes: [UInt8]) {
        guard let writer = server.log else { return }
        bytes.withUnsafeBytes {
            try? writer.append(kind: kind, timestamp: server.clock.wallNanos(), connection: id, isBinary: false, aux: Self.noAux, payload: $0)
        }
    }

    private func marker(_ fault: String, _ extra: [(String, JSONValue)] = []) {
        server.updateStats { $0.faults += 1 }
        logRecord(
            .marker,
            Array(
                JSONValue.object([("marker", .string("fault")), ("fault", .string(fault)), ("conn", .number(String(id)))] + extra).serialized().utf8))
        server.note("fault", ["conn": "\(id)", "fault": fault])
    }

    @inline(__always)
    private func sendFrame(_ bytes: UnsafeRawBufferPointer) {
        guard let connection = connection else { return }
        connection.send(bytes)
        if let writer = server.log {
            try? writer.append(kind: .recv, timestamp: server.clock.wallNanos(), connection: id, isBinary: false, aux: Self.noAux, payload: bytes)
        }
        sentSinceStats += 1
    }

    private func sendControl(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { sendFrame($0) }
    }

    /// One data message, through the faults.
    private func deliver(_ msg: UnsafeRawBufferPointer) {
        dataCount += 1
        let faults = server.options.faults
        if faults.gapEvery > 0, dataCount % faults.gapEvery == 0 {
            marker("gap", [("skipped", .string(String(decoding: msg, as: UTF8.self)))])
            return
        }
        if faults.malformedEvery > 0, dataCount % faults.malformedEvery == 0 {
            marker("malformed")
            sendFrame(UnsafeRawBufferPointer(rebasing: msg[0..<max(1, msg.count / 2)]))
            return
        }
        if faults.reorderEvery > 0, dataCount % faults.reorderEvery == 0, held == nil {
            held = [UInt8](msg)
            marker("reorder")
            return
        }
        sendFrame(msg)
        if let heldFrame = held {
            heldFrame.withUnsafeBytes { sendFrame($0) }
            held = nil
        }
        if faults.duplicateEvery > 0, dataCount % faults.duplicateEvery == 0 {
            marker("duplicate")
            sendFrame(msg)
        }
    }

    /// Moves the feed forward to `now`, applies timed faults, pings and heartbeats, flushes.
    func pump(now: Int64) {
        guard let connection = connection, !closing else { return }
        timers(now: now, connection)
        guard !closing, let base = baseMono, isSubscribed else { flushUnlessStalled(now); return }
        if server.options.maxRatePool > 0 {
            pumpPool(connection, now: now)
            return
        }
        let elapsed = now - base
        let unpaced = server.options.unpaced
        var produced = 0
        while connection.isWritable {
            if !pending {
                buf.removeAll(keepingCapacity: true)
                guard let event = feed.next(into: &buf) else {
                    server.note("timeline_end", ["conn": "\(id)"])
                    connection.flush()
                    connection.close(code: CloseCode.goingAway, reason: "profile timeline finished")
                    closing = true
                    return
                }
                pending = true
                pendingOffset = event.offsetNanos
            }
            if !unpaced && pendingOffset > elapsed { break }
            buf.withUnsafeBytes { deliver($0) }
            pending = false
            produced += 1
            if connection.pendingBytes >= 256 * 1024 {
                if !flushUnlessStalled(now) { break }
                if unpaced { break }
            }
            if produced >= 200_000 { break }
        }
        flushUnlessStalled(now)
        if unpaced, !fastQueued, connection.isWritable, stalledUntil == 0 {
            fastQueued = true
            connection.execute { [self] in
                self.fastQueued = false
                self.pump(now: self.server.clock.monotonicNanos())
            }
        }
    }

    /// `--rate max`: writes runs of the current chunk of pre-encoded frames (zero-copy slices)
    /// while the socket takes them, up to a budget per loop turn, then yields to the loop and
    /// comes back. A finished chunk is followed by the next `maxRatePool` messages of the same
    /// feed, so the market continues (ids, `sequence_num` and books stay consistent) instead
    /// of repeating; control frames (acks, heartbeats) go out between chunks.
    private func pumpPool(_ c: WebSocketConnection, now: Int64) {
        guard flushUnlessStalled(now) else { return }  // control frames (acks, heartbeats) first
        if pool == nil {
            pool = buildPool()
            if pool?.count == 0 {
                server.note("timeline_end", ["conn": "\(id)"])
                c.flush()
                c.close(code: CloseCode.goingAway, reason: "profile timeline finished")
                closing = true
                return
            }
        }
        guard let framePool = pool else { return }
        var bytes = 0
        while c.isWritable && bytes < 4 << 20 && poolPos < framePool.count {
            let end = framePool.runEnd(from: poolPos, maxBytes: 256 << 10)
            writePool(c, framePool, poolPos..<end)
            bytes += 256 << 10
        }
        if poolPos == framePool.count { pool = nil }
        flushUnlessStalled(now)
        if !fastQueued, c.isWritable {
            fastQueued = true
            c.execute { [self] in
                self.fastQueued = false
                self.pump(now: self.server.clock.monotonicNanos())
            }
        }
    }

    /// Logs and writes frames `run` of `p`, and moves `poolPos` past them.
    private func writePool(_ c: WebSocketConnection, _ p: EncodedFrames, _ run: Range<Int>) {
        if let writer = server.log {
            let ts = server.clock.wallNanos()
            for i in run {
                p.withPayload(i) { b -> Void in
                    _ = try? writer.append(kind: .recv, timestamp: ts, connection: id, isBinary: false, aux: Self.noAux, payload: b)
                }
            }
        }
        c.write(p, run)
        sentSinceStats += Int64(run.count)
        poolPos = run.upperBound
    }

    /// `--rate max`: queues the rest of the current chunk (a reply to the client must come
    /// after the messages generated before it, or the venue's numbering would go backwards),
    /// so the next chunk starts from the new subscriptions.
    private func finishPool() {
        guard let connection = connection, let framePool = pool else { return }
        if poolPos < framePool.count { writePool(connection, framePool, poolPos..<framePool.count) }
        pool = nil
    }

    /// The next `maxRatePool` messages of this connection's feed as one buffer of frames
    /// (fewer at the end of the timeline).
    private func buildPool() -> EncodedFrames {
        let poolSize = server.options.maxRatePool
        let frames = EncodedFrames(capacity: poolSize * 256, frames: poolSize)
        var frame: [UInt8] = []
        frame.reserveCapacity(4096)
        for _ in 0..<poolSize {
            frame.removeAll(keepingCapacity: true)
            guard feed.next(into: &frame) != nil else { break }
            frame.withUnsafeBytes { frames.append($0) }
        }
        poolPos = 0
        return frames
    }

    /// Writes what is queued unless stalled; returns false while stalled.
    @discardableResult
    private func flushUnlessStalled(_ now: Int64) -> Bool {
        if sentSinceStats > 0 {
            let sent = sentSinceStats
            server.updateStats { $0.framesSent += sent }
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
        let options = server.options
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
        if now >= nextStall, let every = options.faults.stallEveryNanos {
            nextStall = now + every
            stalledUntil = now + options.faults.stallForNanos
            marker("stall", [("for_ns", .number(String(options.faults.stallForNanos)))])
        }
        if now >= nextPing {
            nextPing = now + options.pingEveryNanos
            c.ping(Array(String(server.clock.wallNanos() / 1_000_000).utf8))
        }
        // --rate max: heartbeats wait for the end of the chunk being streamed (see pumpPool).
        if now >= nextHeartbeat, pool == nil {
            nextHeartbeat = now + options.heartbeatEveryNanos
            if options.venue == .kraken, isSubscribed {
                sendControl(VenueAnswers.krakenHeartbeat)
            } else if options.venue == .coinbase, coinbaseHeartbeats {
                heartbeatCounter += 1
                sendControl(
                    VenueAnswers.coinbaseHeartbeat(
                        counter: heartbeatCounter, nanos: server.clock.wallNanos(),
                        uptimeNanos: now - server.startedMono, sequence: controlSequence()))
            }
        }
    }

    // MARK: venue protocols

    private func binanceRequest(_ bytes: [UInt8]) {
        guard let venueRequest = BinanceProtocol.parseRequest(bytes) else {
            sendControl(VenueAnswers.malformedRequest(.binance))
            return
        }
        sendControl(BinanceProtocol.handle(venueRequest, set: &subscriptions, active: &binanceActive, universe: server.universe))
    }

    private func krakenRequest(_ bytes: [UInt8]) {
        guard let venueRequest = KrakenProtocol.parseRequest(bytes) else {
            sendControl(VenueAnswers.malformedRequest(.kraken))
            return
        }
        switch venueRequest.event {
        case "ping":
            sendControl(VenueAnswers.krakenPong(reqid: venueRequest.reqid))
        case "subscribe", "unsubscribe":
            if venueRequest.event == "subscribe", venueRequest.name == "book", let refusal = krakenBookDepth(venueRequest) {
                for f in refusal { sendControl(f) }
                return
            }
            let (frames, books) = KrakenProtocol.handle(
                venueRequest, set: &subscriptions, universe: server.universe, bookDepth: feed.encoder.krakenBookDepth)
            for f in frames { sendControl(f) }
            for b in books { sendControl(feed.krakenBookSnapshot(symbol: b, nanos: server.clock.wallNanos())) }
        default:
            sendControl(Array(#"{"errorMessage":"Unsupported event","event":"error"}"#.utf8))
        }
    }

    /// Kraken `book` subscriptions: the depth asked for (10 when none, as the venue does) must be
    /// one Kraken offers; the connection's market is then rebuilt with books of that many levels
    /// (snapshot, updates, `book-N` and checksums all follow it). One depth per connection: once
    /// messages went out, another depth is refused. Nil when the subscription can go ahead,
    /// otherwise the error statuses to send (one per pair).
    private func krakenBookDepth(_ r: KrakenProtocol.Request) -> [[UInt8]]? {
        let depth = r.depth ?? 10
        var problem: String?
        if !VenueAnswers.krakenBookDepths.contains(depth) {
            problem = "Subscription depth not supported"
        } else if depth != feed.encoder.krakenBookDepth {
            if feed.emitted == 0 {
                var profile = feed.profile
                profile.krakenBookDepth = depth
                feed = LiveFeed(profile: profile, venue: .kraken, startNanos: feed.startNanos)
            } else {
                problem = "Subscription depth not supported: k2 sim serves one book depth per connection (book-\(feed.encoder.krakenBookDepth) here)"
            }
        }
        guard let problem else { return nil }
        return r.pairs.map { VenueAnswers.krakenError(problem, name: "book", depth: depth, pair: $0, reqid: r.reqid) }
    }

    private func coinbaseRequest(_ bytes: [UInt8]) {
        guard let venueRequest = CoinbaseProtocol.parseRequest(bytes), venueRequest.type == "subscribe" || venueRequest.type == "unsubscribe" else {
            sendControl(VenueAnswers.malformedRequest(.coinbase))
            return
        }
        guard CoinbaseProtocol.apply(venueRequest, set: &subscriptions, universe: server.universe) else {
            let list = venueRequest.productIDs.joined(separator: ",")
            sendControl(VenueAnswers.coinbaseError("Failed to subscribe to \(venueRequest.channel) for \(list): unknown channel or product"))
            return
        }
        if venueRequest.channel == "heartbeats" { coinbaseHeartbeats = venueRequest.type == "subscribe" }
        sendControl(
            CoinbaseProtocol.subscriptions(
                subscriptions, universe: server.universe, heartbeats: coinbaseHeartbeats,
                nanos: server.clock.wallNanos(), sequence: controlSequence()))
        // level2, ticker and candles: a snapshot per product first (the book, the ticker, the candle now), then the updates.
        if venueRequest.type == "subscribe", ["level2", "ticker", "candles"].contains(venueRequest.channel) {
            for product in venueRequest.productIDs {
                guard let symbol = server.universe.index(ofName: product, venue: .coinbase) else { continue }
                let (nanos, sequence) = (server.clock.wallNanos(), controlSequence())
                switch venueRequest.channel {
                case "level2": sendControl(feed.coinbaseBookSnapshot(symbol: symbol, nanos: nanos, sequence: sequence))
                case "ticker": sendControl(feed.coinbaseTickerSnapshot(symbol: symbol, nanos: nanos, sequence: sequence))
                default: sendControl(feed.coinbaseCandleSnapshot(symbol: symbol, nanos: nanos, sequence: sequence))
                }
            }
        }
    }

    /// Coinbase: the `sequence_num` of a control message sent now. A data message already
    /// encoded and waiting for its time (`pending`) was numbered first but leaves after the
    /// control message, so the control message takes its number and it takes the next one:
    /// the connection's numbering stays 0, 1, 2, … in the order the frames are sent.
    private func controlSequence() -> Int64 {
        let next = feed.takeCoinbaseSequence()
        guard pending, pool == nil else { return next }
        let held = next - 1
        VenueAnswers.setCoinbaseSequence(next, in: &buf)
        return held
    }
}
