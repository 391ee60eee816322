import K2Capture
import K2Core

/// What one client subscribed to: per symbol, which message kinds.
public struct SubscriptionSet: Sendable, Equatable {
    /// Bit 0 trade, bit 1 aggTrade, bit 2 depth, bit 3 ticker (Binance bookTicker).
    private var masks: [UInt8]

    public init(symbols: Int) { masks = Array(repeating: 0, count: symbols) }

    /// Everything for every symbol.
    public static func all(symbols: Int) -> SubscriptionSet {
        var subscriptions = SubscriptionSet(symbols: symbols)
        for i in 0..<symbols { subscriptions.masks[i] = 7 }
        return subscriptions
    }

    public var isEmpty: Bool { !masks.contains { $0 != 0 } }

    @inline(__always)
    static func bit(_ kind: MessageKind) -> UInt8 {
        switch kind {
        case .trade: return 1
        case .aggTrade: return 2
        case .depth: return 4
        case .ticker: return 8
        default: return 0
        }
    }

    /// Whether a message of `kind` for `symbol` goes to this client. On Kraken and Coinbase a
    /// trade subscription covers both single and multi-fill trade messages.
    @inline(__always)
    public func contains(symbol: Int, kind: MessageKind, venue: Venue = .binance) -> Bool {
        var mask = Self.bit(kind)
        if venue != .binance && mask != 4 && mask != 8 { mask = 3 }
        return masks[symbol] & mask != 0
    }

    public mutating func add(symbol: Int, kind: MessageKind) { masks[symbol] |= Self.bit(kind) }
    public mutating func remove(symbol: Int, kind: MessageKind) { masks[symbol] &= ~Self.bit(kind) }
    /// Kraken/Coinbase trade channels: single and multi-fill trades.
    public mutating func addTrades(symbol: Int) { masks[symbol] |= 3 }
    public mutating func removeTrades(symbol: Int) { masks[symbol] &= ~3 }

    public func kinds(symbol: Int) -> [MessageKind] {
        var subscribed: [MessageKind] = []
        if masks[symbol] & 1 != 0 { subscribed.append(.trade) }
        if masks[symbol] & 2 != 0 { subscribed.append(.aggTrade) }
        if masks[symbol] & 4 != 0 { subscribed.append(.depth) }
        if masks[symbol] & 8 != 0 { subscribed.append(.ticker) }
        return subscribed
    }
}

/// Binance's subscription protocol: URL paths, `SUBSCRIBE` requests and their responses.
public enum BinanceProtocol {
    /// A parsed stream name: `btcusdt@trade`, `btcusdt@aggTrade`, `btcusdt@depth`, `btcusdt@depth@100ms`.
    public static func parseStream(_ name: String, universe: SymbolUniverse) -> (symbol: Int, kind: MessageKind)? {
        guard let at = name.firstIndex(of: "@") else { return nil }
        let sym = String(name[..<at])
        let rest = String(name[name.index(after: at)...])
        let kind: MessageKind
        switch rest {
        case "trade": kind = .trade
        case "aggTrade": kind = .aggTrade
        case "depth", "depth@100ms", "depth@1000ms": kind = .depth
        case "bookTicker": kind = .ticker
        default: return nil
        }
        guard let symbol = universe.index(ofName: sym, venue: .binance) else { return nil }
        return (symbol, kind)
    }

    /// The subscriptions and framing a connection URL asks for:
    /// `/stream?streams=btcusdt@trade/ethusdt@depth@100ms` → combined; `/ws/btcusdt@trade` or
    /// `/ws` → raw payloads. Unknown stream names throw (Binance answers HTTP 400).
    public static func parsePath(_ pathAndQuery: String, universe: SymbolUniverse) throws(SimError) -> (subscriptions: SubscriptionSet, combined: Bool) {
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
                throw SimError(location: pathAndQuery, key: String(stream), what: "unknown stream", remedy: "use <symbol>@trade, @aggTrade, @depth, @depth@100ms or @bookTicker")
            }
            set.add(symbol: symbol, kind: kind)
        }
        return (set, combined)
    }

    /// A client request: `{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1}` (parsed in K2Capture, shared with the ws:// replay sink).
    public typealias Request = BinanceRequest

    public static func parseRequest(_ bytes: [UInt8]) -> Request? { BinanceRequest(parsing: bytes) }

    /// Applies SUBSCRIBE / UNSUBSCRIBE to `set` and returns the response frame:
    /// `{"result":null,"id":1}`, for LIST_SUBSCRIPTIONS `{"result":["btcusdt@trade"],"id":3}`,
    /// or an error `{"error":{"code":2,"msg":"Invalid request: unknown stream"},"id":1}`.
    public static func handle(_ r: Request, set: inout SubscriptionSet, active: inout [String], universe: SymbolUniverse) -> [UInt8] {
        switch r.method {
        case "SUBSCRIBE", "UNSUBSCRIBE":
            var parsed: [(Int, MessageKind, String)] = []
            for stream in r.params {
                guard let (symbol, kind) = parseStream(stream, universe: universe) else {
                    return Array(#"{"error":{"code":2,"msg":"Invalid request: unknown stream \#(stream)"},"id":\#(r.idJSON)}"#.utf8)
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
            return Array(#"{"result":null,"id":\#(r.idJSON)}"#.utf8)
        case "LIST_SUBSCRIPTIONS":
            var out = Array(#"{"result":["#.utf8)
            for (i, stream) in active.enumerated() {
                if i > 0 { out.append(44) }
                JSONText.appendString(stream, to: &out)
            }
            out.append(contentsOf: #"],"id":\#(r.idJSON)}"#.utf8)
            return out
        default:
            return Array(#"{"error":{"code":2,"msg":"Invalid request: unknown method"},"id":\#(r.idJSON)}"#.utf8)
        }
    }

    /// The subscription frame a recorder sends on a combined connection.
    public static func subscribeRequest(streams: [String], id: Int = 1) -> [UInt8] {
        var out = Array(#"{"method":"SUBSCRIBE","params":["#.utf8)
        for (i, stream) in streams.enumerated() {
            if i > 0 { out.append(44) }
            JSONText.appendString(stream, to: &out)
        }
        out.append(contentsOf: #"],"id":\#(id)}"#.utf8)
        return out
    }
}

/// Kraken WebSocket v1: subscribe requests, subscriptionStatus, systemStatus, heartbeat, pong.
public enum KrakenProtocol {
    /// `{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"trade"}}`, also
    /// `unsubscribe` and `{"event":"ping","reqid":42}` (parsed in K2Capture, shared with the ws:// replay sink).
    public typealias Request = KrakenRequest

    public static func parseRequest(_ bytes: [UInt8]) -> Request? { KrakenRequest(parsing: bytes) }

    /// Sent on connect: `{"connectionID":…,"event":"systemStatus","status":"online","version":"1.9.1"}`.
    public static func systemStatus(connectionID: UInt64) -> [UInt8] {
        Array(#"{"connectionID":\#(connectionID),"event":"systemStatus","status":"online","version":"1.9.1"}"#.utf8)
    }

    /// The book depths Kraken v1 offers (`"subscription":{"name":"book","depth":N}`; 10 when omitted).
    public static let bookDepths: Set<Int> = [10, 25, 100, 500, 1000]

    /// `{"event":"heartbeat"}`, sent after about 1 s without other messages.
    public static let heartbeat: [UInt8] = Array(#"{"event":"heartbeat"}"#.utf8)

    /// `{"event":"pong","reqid":42}` (reqid omitted when the ping had none).
    public static func pong(reqid: String?) -> [UInt8] {
        if let requestID = reqid { return Array(#"{"event":"pong","reqid":\#(requestID)}"#.utf8) }
        return Array(#"{"event":"pong"}"#.utf8)
    }

    /// Applies a subscribe/unsubscribe and returns one subscriptionStatus frame per pair, e.g.
    /// `{"channelID":100,"channelName":"trade","event":"subscriptionStatus","pair":"XBT/USD","status":"subscribed","subscription":{"name":"trade"}}`
    /// (book: `"channelName":"book-25"`, `"subscription":{"depth":25,"name":"book"}`), or an
    /// error status for unknown pairs/channels. `subscribedBooks` lists symbols whose book
    /// snapshot the server should send next (`LiveFeed.krakenBookSnapshot`).
    public static func handle(_ r: Request, set: inout SubscriptionSet, universe: SymbolUniverse, bookDepth: Int)
        -> (frames: [[UInt8]], subscribedBooks: [Int]) {
        var frames: [[UInt8]] = []
        var books: [Int] = []
        let subscribe = r.event == "subscribe"
        let reqid = r.reqid.map { #""reqid":\#($0),"# } ?? ""
        for pair in r.pairs {
            let known = ["trade", "book", "ticker"].contains(r.name)
            guard let symbol = universe.index(ofName: pair, venue: .kraken), known else {
                let msg = known ? "Currency pair not supported" : "Subscription name invalid"
                frames.append(Array(#"{"errorMessage":"\#(msg)","event":"subscriptionStatus","pair":\#(JSONText.quoted(pair)),\#(reqid)"status":"error","subscription":{"name":\#(JSONText.quoted(r.name))}}"#.utf8))
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
            let ch = isTicker ? VenueEncoder.krakenTickerChannelID(symbol: symbol) : VenueEncoder.krakenChannelID(symbol: symbol, book: isBook)
            let chName = isBook ? "book-\(bookDepth)" : r.name
            let sub = isBook ? #"{"depth":\#(bookDepth),"name":"book"}"# : #"{"name":"\#(r.name)"}"#
            let pairName = universe[symbol].krakenName
            frames.append(Array(#"{"channelID":\#(ch),"channelName":"\#(chName)","event":"subscriptionStatus","pair":"\#(pairName)",\#(reqid)"status":"\#(subscribe ? "subscribed" : "unsubscribed")","subscription":\#(sub)}"#.utf8))
        }
        return (frames, books)
    }

    public static func subscribeRequest(pairs: [String], name: String, depth: Int? = nil) -> [UInt8] {
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

/// Coinbase Advanced Trade: subscribe requests, the `subscriptions` ack and `heartbeats`.
public enum CoinbaseProtocol {
    /// `{"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}` (or unsubscribe;
    /// parsed in K2Capture, shared with the ws:// replay sink).
    public typealias Request = CoinbaseRequest

    public static func parseRequest(_ bytes: [UInt8]) -> Request? { CoinbaseRequest(parsing: bytes) }

    /// Applies the request; returns false for unknown products or channels. Channels:
    /// `market_trades`, `level2`, `ticker`, `heartbeats` (heartbeats are the server's job: see `heartbeat`).
    public static func apply(_ r: Request, set: inout SubscriptionSet, universe: SymbolUniverse) -> Bool {
        guard ["market_trades", "level2", "ticker", "heartbeats"].contains(r.channel) else { return false }
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
            default: break
            }
        }
        return true
    }

    /// The ack Coinbase sends after every (un)subscribe:
    /// `{"channel":"subscriptions","client_id":"","timestamp":"…","sequence_num":N,"events":[{"subscriptions":{"market_trades":["BTC-USD"]}}]}`.
    public static func subscriptions(_ set: SubscriptionSet, universe: SymbolUniverse, heartbeats: Bool,
                                     nanos: Int64, sequence: Int64) -> [UInt8] {
        var out = Array(#"{"channel":"subscriptions","client_id":"","timestamp":""#.utf8)
        StampText.appendRFC3339(nanos: nanos, to: &out)
        out.append(contentsOf: #"","sequence_num":\#(sequence),"events":[{"subscriptions":{"#.utf8)
        var firstChannel = true
        func channel(_ name: String, _ kind: MessageKind) {
            let ids = (0..<universe.count).filter { set.contains(symbol: $0, kind: kind, venue: .coinbase) }
            guard !ids.isEmpty else { return }
            if !firstChannel { out.append(44) }
            firstChannel = false
            out.append(contentsOf: #""\#(name)":["#.utf8)
            for (j, symbol) in ids.enumerated() {
                if j > 0 { out.append(44) }
                JSONText.appendString(universe[symbol].coinbaseName, to: &out)
            }
            out.append(93)
        }
        if heartbeats {
            out.append(contentsOf: #""heartbeats":["heartbeats"]"#.utf8)
            firstChannel = false
        }
        channel("level2", .depth)
        channel("market_trades", .trade)
        channel("ticker", .ticker)
        out.append(contentsOf: "}}]}".utf8)
        return out
    }

    /// `{"channel":"heartbeats","client_id":"","timestamp":"…","sequence_num":N,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":3049}]}`,
    /// once a second on a connection subscribed to `heartbeats` (the docs' example quotes the
    /// counter; the venue sends a number).
    public static func heartbeat(counter: Int64, nanos: Int64, uptimeNanos: Int64, sequence: Int64) -> [UInt8] {
        var out = Array(#"{"channel":"heartbeats","client_id":"","timestamp":""#.utf8)
        StampText.appendRFC3339(nanos: nanos, to: &out)
        out.append(contentsOf: #"","sequence_num":\#(sequence),"events":[{"current_time":""#.utf8)
        var currentTime: [UInt8] = []
        StampText.appendRFC3339(nanos: nanos, trim: false, to: &currentTime)
        // "2023-06-23T20:31:56.121961769Z" → "2023-06-23 20:31:56.121961769 +0000 UTC"
        currentTime.removeLast()
        currentTime[10] = 32
        out.append(contentsOf: currentTime)
        out.append(contentsOf: " +0000 UTC m=+".utf8)
        DecimalText.append(uptimeNanos, scale: 9, digits: 9, to: &out)
        out.append(contentsOf: #"","heartbeat_counter":\#(counter)}]}"#.utf8)
        return out
    }

    public static func subscribeRequest(productIDs: [String], channel: String) -> [UInt8] {
        var out = Array(#"{"type":"subscribe","product_ids":["#.utf8)
        for (i, product) in productIDs.enumerated() {
            if i > 0 { out.append(44) }
            JSONText.appendString(product, to: &out)
        }
        out.append(contentsOf: #"],"channel":"\#(channel)"}"#.utf8)
        return out
    }
}
