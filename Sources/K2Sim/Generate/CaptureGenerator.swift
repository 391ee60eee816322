import K2Capture
import K2Core

/// Writes synthetic captures that look recorded: per venue one connection with a `connect`
/// record (the URL), the subscription frames (`send`), the venue's acks, then the market
/// messages as `recv` records, receive time = exchange time + `receiveLatency`. Venues are
/// merged in receive-time order.
public struct CaptureGenerator {
    /// Receive time minus exchange time, ns.
    public var receiveLatency: Int64 = 2_000_000
    public let profile: SimProfile

    public init(profile: SimProfile) { self.profile = profile }

    /// What a run produced.
    public struct Result: Sendable {
        public var messages: Int64 = 0
        public var records: Int64 = 0
        public var payloadBytes: Int64 = 0
        public var fileBytes: Int64 = 0
        /// Simulated time covered, ns.
        public var simulatedNanos: Int64 = 0
    }

    /// The header metadata: exchange, profile, seed, subscriptions, source.
    public func metadata(commandLine: String) -> [(String, JSONValue)] {
        var m: [(String, JSONValue)] = [
            ("exchange", .string(profile.venues.map(\.rawValue).joined(separator: ","))),
            ("profile", .string(profile.name)),
            ("seed", .number(String(profile.seed))),
            ("source", .string("k2 sim generate")),
        ]
        if !commandLine.isEmpty { m.append(("command_line", .string(commandLine))) }
        return m
    }

    /// The opening records of venue `index`'s connection (connect, sends, acks), at `t0`.
    public func openingRecords(venue: Venue, index: Int, feed: inout LiveFeed, t0: Int64) -> [OwnedRecord] {
        let conn = UInt32(index)
        let u = feed.universe
        var recs: [OwnedRecord] = []
        var t = t0
        func add(_ kind: RecordKind, url: String = "", _ payload: [UInt8]) {
            recs.append(OwnedRecord(kind: kind, timestamp: t, connection: conn, url: Array(url.utf8), payload: payload))
            t += 1_000_000
        }
        switch venue {
        case .binance:
            var streams: [String] = []
            for s in u.symbols {
                let n = s.binanceStream
                if profile.market.tradeWeight > 0 { streams.append(n + "@trade") }
                if profile.market.aggTradeWeight > 0 { streams.append(n + "@aggTrade") }
                if profile.market.depthWeight > 0 { streams.append(n + profile.binanceDepthSuffix) }
            }
            add(.connect, url: venue.endpoint + (profile.binanceCombined ? "/stream" : "/ws"), [])
            add(.send, BinanceProtocol.subscribeRequest(streams: streams, id: 1))
            add(.recv, Array(#"{"result":null,"id":1}"#.utf8))
        case .kraken:
            add(.connect, url: venue.endpoint, [])
            add(.recv, KrakenProtocol.systemStatus(connectionID: 8_628_615_390_848_610_000 &+ profile.seed % 1_000_000))
            let pairs = u.symbols.map(\.krakenName)
            var set = SubscriptionSet(symbols: u.count)
            for (name, depth) in [("trade", nil), ("book", profile.krakenBookDepth)] as [(String, Int?)] {
                if name == "trade" && profile.market.tradeWeight + profile.market.aggTradeWeight <= 0 { continue }
                if name == "book" && profile.market.depthWeight <= 0 { continue }
                let req = KrakenProtocol.subscribeRequest(pairs: pairs, name: name, depth: depth)
                add(.send, req)
                let r = KrakenProtocol.parseRequest(req)!
                let (frames, books) = KrakenProtocol.handle(r, set: &set, universe: u, bookDepth: profile.krakenBookDepth)
                for f in frames { add(.recv, f) }
                for b in books { add(.recv, feed.krakenBookSnapshot(symbol: b, nanos: profile.startNanos)) }
            }
        case .coinbase:
            add(.connect, url: venue.endpoint, [])
            let ids = u.symbols.map(\.coinbaseName)
            var set = SubscriptionSet(symbols: u.count)
            var channels: [String] = ["heartbeats"]
            if profile.market.tradeWeight + profile.market.aggTradeWeight > 0 { channels.append("market_trades") }
            if profile.market.depthWeight > 0 { channels.append("level2") }
            for ch in channels {
                let req = CoinbaseProtocol.subscribeRequest(productIDs: ch == "heartbeats" ? [] : ids, channel: ch)
                add(.send, req)
                _ = CoinbaseProtocol.apply(CoinbaseProtocol.parseRequest(req)!, set: &set, universe: u)
                add(.recv, CoinbaseProtocol.subscriptions(set, universe: u, heartbeats: true, nanos: t,
                                                          sequence: feed.takeCoinbaseSequence()))
            }
        }
        return recs
    }

    /// Generates the whole profile into `path`.
    public func write(path: String, commandLine: String = "", options: CaptureWriter.Options = .init()) throws(CaptureError) -> Result {
        let header = CaptureHeader.now(metadata: metadata(commandLine: commandLine))
        let writer = try CaptureWriter(path: path, header: header, options: options)
        var result = Result()
        try run({ (kind, ts, conn, payload) throws(CaptureError) in
            try writer.append(kind: kind, timestamp: ts, connection: conn, isBinary: false, aux: UnsafeRawBufferPointer(start: nil, count: 0), payload: payload)
        }, opening: { (r) throws(CaptureError) in
            try writer.append(r)
        }, result: &result)
        try writer.close()
        result.fileBytes = writer.fileBytes
        return result
    }

    /// Generates the whole profile, handing every record to `sink` (no file): for measuring
    /// generation alone and for feeding other consumers.
    public func run(_ sink: (RecordKind, Int64, UInt32, UnsafeRawBufferPointer) throws(CaptureError) -> Void,
                    opening: (OwnedRecord) throws(CaptureError) -> Void,
                    result: inout Result) throws(CaptureError) {
        var feeds: [LiveFeed] = []
        let t0 = profile.startNanos - 100_000_000
        var opens: [OwnedRecord] = []
        for (i, v) in profile.venues.enumerated() {
            var f = LiveFeed(profile: profile, venue: v, startNanos: profile.startNanos, venueIndex: i)
            f.heartbeats = true
            opens += openingRecords(venue: v, index: i, feed: &f, t0: t0 + Int64(i) * 10_000_000)
            feeds.append(f)
        }
        // connects and sends first, then acks, each group in time order
        let ordered = opens.filter { $0.kind != .recv }.sorted { $0.timestamp < $1.timestamp }
            + opens.filter { $0.kind == .recv }.sorted { $0.timestamp < $1.timestamp }
        var lastOpen = Int64.min
        for r in ordered {
            var r2 = r
            if r2.timestamp <= lastOpen { r2.timestamp = lastOpen + 1 }
            lastOpen = r2.timestamp
            try opening(r2)
            result.records += 1
        }
        let lat = receiveLatency
        let start = profile.startNanos
        if feeds.count == 1 {
            var buf: [UInt8] = []
            buf.reserveCapacity(1 << 16)
            while let e = feeds[0].next(into: &buf) {
                try withBytes(buf) { (p) throws(CaptureError) in try sink(.recv, start + e.offsetNanos + lat, 0, p) }
                result.messages += 1
                result.payloadBytes += Int64(buf.count)
                result.simulatedNanos = e.offsetNanos
                buf.removeAll(keepingCapacity: true)
            }
        } else {
            // k-way merge by time: one pending message per feed.
            var bufs = [[UInt8]](repeating: [], count: feeds.count)
            var next = [Int64?](repeating: nil, count: feeds.count)
            for i in feeds.indices { next[i] = feeds[i].next(into: &bufs[i])?.offsetNanos }
            while true {
                var best = -1
                for i in feeds.indices { if let t = next[i], best < 0 || t < next[best]! { best = i } }
                if best < 0 { break }
                let t = next[best]!
                try withBytes(bufs[best]) { (p) throws(CaptureError) in try sink(.recv, start + t + lat, UInt32(best), p) }
                result.messages += 1
                result.payloadBytes += Int64(bufs[best].count)
                result.simulatedNanos = t
                bufs[best].removeAll(keepingCapacity: true)
                next[best] = feeds[best].next(into: &bufs[best])?.offsetNanos
            }
        }
        result.records += result.messages
    }
}

/// `withUnsafeBytes` keeping the typed error.
@inline(__always)
func withBytes(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(CaptureError) -> Void) throws(CaptureError) {
    var failure: CaptureError?
    a.withUnsafeBytes { p in
        do throws(CaptureError) { try body(p) } catch { failure = error }
    }
    if let failure { throw failure }
}
