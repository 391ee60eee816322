import K2Capture
import K2Core

/// What one client subscribed to: per symbol, which message kinds.
package struct SubscriptionSet: Sendable, Equatable {
    /// Bit 0 trade, bit 1 aggTrade, bit 2 depth, bit 3 ticker (Binance bookTicker), bit 4 candle.
    private var masks: [UInt8]

    package init(symbols: Int) { masks = Array(repeating: 0, count: symbols) }

    /// Everything for every symbol.
    package static func all(symbols: Int) -> SubscriptionSet {
        var subscriptions = SubscriptionSet(symbols: symbols)
        for i in 0..<symbols { subscriptions.masks[i] = 7 }
        return subscriptions
    }

    package var isEmpty: Bool { !masks.contains { $0 != 0 } }

    @inline(__always)
    static func bit(_ kind: MessageKind) -> UInt8 {
        switch kind {
        case .trade: return 1
        case .aggTrade: return 2
        case .depth: return 4
        case .ticker: return 8
        case .candle: return 16
        default: return 0
        }
    }

    /// Whether a message of `kind` for `symbol` goes to this client. On Kraken and Coinbase a
    /// trade subscription covers both single and multi-fill trade messages.
    @inline(__always)
    package func contains(symbol: Int, kind: MessageKind, venue: Venue = .binance) -> Bool {
        var mask = Self.bit(kind)
        if venue != .binance && mask <= 2 { mask = 3 }
        return masks[symbol] & mask != 0
    }

    package mutating func add(symbol: Int, kind: MessageKind) { masks[symbol] |= Self.bit(kind) }
    package mutating func remove(symbol: Int, kind: MessageKind) { masks[symbol] &= ~Self.bit(kind) }
    /// Kraken/Coinbase trade channels: single and multi-fill trades.
    mutating func addTrades(symbol: Int) { masks[symbol] |= 3 }
    mutating func removeTrades(symbol: Int) { masks[symbol] &= ~3 }

    package func kinds(symbol: Int) -> [MessageKind] {
        var subscribed: [MessageKind] = []
        if masks[symbol] & 1 != 0 { subscribed.append(.trade) }
        if masks[symbol] & 2 != 0 { subscribed.append(.aggTrade) }
        if masks[symbol] & 4 != 0 { subscribed.append(.depth) }
        if masks[symbol] & 8 != 0 { subscribed.append(.ticker) }
        if masks[symbol] & 16 != 0 { subscribed.append(.candle) }
        return subscribed
    }
}

/// Binance's subscription protocol: URL paths, `SUBSCRIBE` requests and their responses.
package enum BinanceProtocol {
    /// A parsed stream name: `btcusdt@trade`, `btcusdt@aggTrade`, `btcusdt@depth`, `btcusdt@depth@100ms`,
    /// `btcusdt@bookTicker`, `btcusdt@kline_1m`.
    package static func parseStream(_ name: String, universe: SymbolUniverse) -> (symbol: Int, kind: MessageKind)? {
        guard let at = name.firstIndex(of: "@") else { return nil }
        let sym = String(name[..<at])
        let rest = String(name[name.index(after: at)...])
        let kind: MessageKind
        switch rest {
        case "trade": kind = .trade
        case "aggTrade": kind = .aggTrade
        case "depth", "depth@100ms", "depth@1000ms": kind = .depth
        case "bookTicker": kind = .ticker
        case "kline_1m": kind = .candle
        default: return nil
        }
        guard let symbol = universe.index(ofName: sym, venue: .binance) else { return nil }
        return (symbol, kind)
    }

    /// The subscriptions and framing a connection URL asks for:
    /// `/stream?streams=btcusdt@trade/ethusdt@depth@100ms` → combined; `/ws/btcusdt@trade` or
    /// `/ws` → raw payloads. Unknown stream names throw (Binance answers HTTP 400).
    package static func parsePath(_ pathAndQuery: String, universe: SymbolUniverse) throws(SimError) -> (
        subscriptions: SubscriptionSet, combined: Bool
    ) {
        var set = SubscriptionSet(symbols: universe.count)
        var streams: [Substring] = []
        let combined: Bool
        if pathAndQuery.hasPrefix("/stream") {
            combined = true
            if let queryStart = pathAndQuery.firstIndex(of: "?") {
                for part in pathAndQuery[pathAndQuery.index(after: queryStart)...].split(separator: "&") where part.hasPrefix("streams=") {
                    streams += part.dropFirst("streams=".count).split(separator: "/")
                }
            }
        } else if pathAndQuery.hasPrefix("/ws") {
            combined = false
            streams = pathAndQuery.dropFirst(3).split(separator: "/")
        } else {
            throw SimError(location: pathAndQuery, what: "unknown path", remedy: "use /ws/<stream> or /stream?streams=<a>/<b>")
        }
        for stream in streams {
            guard let (symbol, kind) = parseStream(String(stream), universe: universe) else {
                throw SimError(
                    location: pathAndQuery, key: String(stream), what: "unknown stream",
                    remedy: "use <symbol>@trade, @aggTrade, @depth, @depth@100ms, @bookTicker or @kline_1m")
            }
            set.add(symbol: symbol, kind: kind)
        }
        return (set, combined)
    }

    /// A client request: `{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1}` (parsed in K2Capture, shared with the ws:// replay sink).
    package typealias Request = BinanceRequest

    package static func parseRequest(_ bytes: [UInt8]) -> Request? { BinanceRequest(parsing: bytes) }

    /// Applies SUBSCRIBE / UNSUBSCRIBE to `set` and returns the response frame:
    /// `{"result":null,"id":1}`, for LIST_SUBSCRIPTIONS `{"result":["btcusdt@trade"],"id":3}`,
    /// or an error `{"error":{"code":2,"msg":"Invalid request: unknown stream"},"id":1}`.
    package static func handle(_ r: Request, set: inout SubscriptionSet, active: inout [String], universe: SymbolUniverse) -> [UInt8] {
        switch r.method {
        case "SUBSCRIBE", "UNSUBSCRIBE":
            var parsed: [(Int, MessageKind, String)] = []
            for stream in r.params {
                guard let (symbol, kind) = parseStream(stream, universe: universe) else {
                    return VenueAnswers.binanceError("Invalid request: unknown stream \(stream)", id: r.idJSON)
                }
                parsed.append((symbol, kind, stream))
            }
            for (symbol, kind, stream) in parsed {
                if r.method == "SUBSCRIBE" {
                    set.add(symbol: symbol, kind: kind)
                    if !active.contains(stream) { active.append(stream) }
                } else {
                    set.remove(symbol: symbol, kind: kind)
                    active.removeAll { $0 == stream }
                }
            }
            return VenueAnswers.binanceResult(id: r.idJSON)
        case "LIST_SUBSCRIPTIONS":
            return VenueAnswers.binanceList(active, id: r.idJSON)
        default:
            return VenueAnswers.binanceError("Invalid request: unknown method", id: r.idJSON)
        }
    }

    /// The subscription frame a recorder sends on a combined connection.
    package static func subscribeRequest(streams: [String], id: Int = 1) -> [UInt8] {
        var out = Array(#"{"method":"SUBSCRIBE","params":["#.utf8)
        for (i, stream) in streams.enumerated() {
            if i > 0 { out.append(44) }
            JSONText.appendString(stream, to: &out)
        }
        out.append(contentsOf: #"],"id":\#(id)}"#.utf8)
        return out
    }
}

/// Kraken WebSocket v1: subscribe requests and their `subscriptionStatus` answers (the frames
/// themselves, with systemStatus, heartbeat and pong, are K2Capture's `VenueAnswers`).
package enum KrakenProtocol {
    /// `{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"trade"}}`, also
    /// `unsubscribe` and `{"event":"ping","reqid":42}` (parsed in K2Capture, shared with the ws:// replay sink).
    package typealias Request = KrakenRequest

    package static func parseRequest(_ bytes: [UInt8]) -> Request? { KrakenRequest(parsing: bytes) }

    /// Applies a subscribe/unsubscribe and returns one subscriptionStatus frame per pair, e.g.
    /// `{"channelID":100,"channelName":"trade","event":"subscriptionStatus","pair":"XBT/USD","status":"subscribed","subscription":{"name":"trade"}}`
    /// (book: `"channelName":"book-25"`, `"subscription":{"depth":25,"name":"book"}`), or an
    /// error status for unknown pairs/channels. `subscribedBooks` lists symbols whose book
    /// snapshot the server should send next (`LiveFeed.krakenBookSnapshot`).
    package static func handle(_ r: Request, set: inout SubscriptionSet, universe: SymbolUniverse, bookDepth: Int)
        -> (frames: [[UInt8]], subscribedBooks: [Int])
    {
        var frames: [[UInt8]] = []
        var books: [Int] = []
        let subscribe = r.event == "subscribe"
        for pair in r.pairs {
            let known = ["trade", "book", "ticker"].contains(r.name)
            guard let symbol = universe.index(ofName: pair, venue: .kraken), known else {
                let message = known ? "Currency pair not supported" : "Subscription name invalid"
                frames.append(VenueAnswers.krakenError(message, name: r.name, pair: pair, reqid: r.reqid))
                continue
            }
            let isBook = r.name == "book"
            let isTicker = r.name == "ticker"
            switch (subscribe, r.name) {
            case (true, "book"): set.add(symbol: symbol, kind: .depth); books.append(symbol)
            case (false, "book"): set.remove(symbol: symbol, kind: .depth)
            case (true, "ticker"): set.add(symbol: symbol, kind: .ticker)
            case (false, "ticker"): set.remove(symbol: symbol, kind: .ticker)
            case (true, _): set.addTrades(symbol: symbol)
            case (false, _): set.removeTrades(symbol: symbol)
            }
            let channelID = isTicker ? VenueEncoder.krakenTickerChannelID(symbol: symbol) : VenueEncoder.krakenChannelID(symbol: symbol, book: isBook)
            frames.append(
                VenueAnswers.krakenStatus(
                    channelID: channelID, name: r.name, depth: isBook ? bookDepth : nil, pair: universe[symbol].krakenName,
                    reqid: r.reqid, subscribed: subscribe))
        }
        return (frames, books)
    }

    package static func subscribeRequest(pairs: [String], name: String, depth: Int? = nil) -> [UInt8] {
        var out = Array(#"{"event":"subscribe","pair":["#.utf8)
        for (i, pair) in pairs.enumerated() {
            if i > 0 { out.append(44) }
            JSONText.appendString(pair, to: &out)
        }
        out.append(contentsOf: #"],"subscription":{"#.utf8)
        if let depth { out.append(contentsOf: #""depth":\#(depth),"#.utf8) }
        out.append(contentsOf: #""name":"\#(name)"}}"#.utf8)
        return out
    }
}

/// Coinbase Advanced Trade: subscribe requests and the `subscriptions` ack (the frames themselves,
/// with `heartbeats`, are K2Capture's `VenueAnswers`).
package enum CoinbaseProtocol {
    /// `{"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}` (or unsubscribe;
    /// parsed in K2Capture, shared with the ws:// replay sink).
    package typealias Request = CoinbaseRequest

    package static func parseRequest(_ bytes: [UInt8]) -> Request? { CoinbaseRequest(parsing: bytes) }

    /// Applies the request; returns false for unknown products or channels. Channels:
    /// `market_trades`, `level2`, `ticker`, `candles`, `heartbeats` (heartbeats are the server's job: see `VenueAnswers.coinbaseHeartbeat`).
    package static func apply(_ r: Request, set: inout SubscriptionSet, universe: SymbolUniverse) -> Bool {
        guard ["market_trades", "level2", "ticker", "candles", "heartbeats"].contains(r.channel) else { return false }
        var idx: [Int] = []
        for product in r.productIDs {
            guard let symbol = universe.index(ofName: product, venue: .coinbase) else { return false }
            idx.append(symbol)
        }
        for i in idx {
            switch (r.type, r.channel) {
            case ("subscribe", "market_trades"): set.addTrades(symbol: i)
            case ("unsubscribe", "market_trades"): set.removeTrades(symbol: i)
            case ("subscribe", "level2"): set.add(symbol: i, kind: .depth)
            case ("unsubscribe", "level2"): set.remove(symbol: i, kind: .depth)
            case ("subscribe", "ticker"): set.add(symbol: i, kind: .ticker)
            case ("unsubscribe", "ticker"): set.remove(symbol: i, kind: .ticker)
            case ("subscribe", "candles"): set.add(symbol: i, kind: .candle)
            case ("unsubscribe", "candles"): set.remove(symbol: i, kind: .candle)
            default: break
            }
        }
        return true
    }

    /// The ack Coinbase sends after every (un)subscribe (`VenueAnswers.coinbaseSubscriptions`):
    /// every channel of `set`, products in universe order.
    package static func subscriptions(
        _ set: SubscriptionSet, universe: SymbolUniverse, heartbeats: Bool,
        nanos: Int64, sequence: Int64
    ) -> [UInt8] {
        var products: [String: [String]] = heartbeats ? ["heartbeats": ["heartbeats"]] : [:]
        for (channel, kind) in [("candles", MessageKind.candle), ("level2", .depth), ("market_trades", .trade), ("ticker", .ticker)] {
            let names = (0..<universe.count).filter { set.contains(symbol: $0, kind: kind, venue: .coinbase) }.map { universe[$0].coinbaseName }
            if !names.isEmpty { products[channel] = names }
        }
        return VenueAnswers.coinbaseSubscriptions(products, nanos: nanos, sequence: sequence)
    }

    package static func subscribeRequest(productIDs: [String], channel: String) -> [UInt8] {
        var out = Array(#"{"type":"subscribe","product_ids":["#.utf8)
        for (i, product) in productIDs.enumerated() {
            if i > 0 { out.append(44) }
            JSONText.appendString(product, to: &out)
        }
        out.append(contentsOf: #"],"channel":"\#(channel)"}"#.utf8)
        return out
    }
}
