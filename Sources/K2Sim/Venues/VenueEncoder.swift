import K2Core

/// Encodes model events as the venues' own JSON bytes: field order, number formats and
/// timestamp styles as the venues send them (see docs/sim-profiles.md, "Messages").
///
/// Prices and quantities are 1e-8 mantissas. Binance writes 8 decimals always
/// (`"0.00100000"`); Kraken v1 writes prices with max(5, tick decimals) and volumes with 8;
/// Coinbase writes prices with the tick's decimals and sizes without trailing zeros.
public struct VenueEncoder: Sendable {
    public let venue: Venue
    /// Binance: wrap payloads as combined-stream messages `{"stream":…,"data":…}` (true) or
    /// send raw payloads as on `/ws/<stream>` (false).
    public var combined: Bool = true
    /// Binance depth stream suffix: `@depth@100ms` (default) or `@depth`.
    public var depthStreamSuffix: String = "@depth@100ms" {
        didSet { buildStreamNames() }
    }
    /// Kraken book subscription depth (in `book-25`).
    public var krakenBookDepth: Int = 25
    /// Coinbase per-connection `sequence_num` of the next message.
    public var coinbaseSequence: Int64 = 0

    private var names: [[UInt8]] = []          // venue symbol names
    private var tradeStreams: [[UInt8]] = []   // binance: btcusdt@trade
    private var aggStreams: [[UInt8]] = []
    private var depthStreams: [[UInt8]] = []
    private let tickDecimals: [Int]

    public init(venue: Venue, universe: SymbolUniverse) {
        self.venue = venue
        tickDecimals = universe.symbols.map(\.tickDecimals)
        names = universe.symbols.map { Array($0.name(for: venue).utf8) }
        buildStreamNames(universe.symbols.map(\.binanceStream))
    }

    private var lowerNames: [String] = []

    private mutating func buildStreamNames(_ lower: [String]? = nil) {
        if let lower { lowerNames = lower }
        tradeStreams = lowerNames.map { Array(($0 + "@trade").utf8) }
        aggStreams = lowerNames.map { Array(($0 + "@aggTrade").utf8) }
        depthStreams = lowerNames.map { Array(($0 + depthStreamSuffix).utf8) }
    }

    /// The stream name (Binance) or channel name (Kraken, Coinbase) a message of `kind` for
    /// `symbol` belongs to: `btcusdt@aggTrade`, `trade`, `book`, `market_trades`, `level2`.
    public func streamName(_ kind: MessageKind, symbol: Int) -> String {
        switch venue {
        case .binance:
            switch kind {
            case .trade: return String(decoding: tradeStreams[symbol], as: UTF8.self)
            case .aggTrade: return String(decoding: aggStreams[symbol], as: UTF8.self)
            default: return String(decoding: depthStreams[symbol], as: UTF8.self)
            }
        case .kraken: return kind == .depth ? "book" : "trade"
        case .coinbase: return kind == .depth ? "level2" : "market_trades"
        }
    }

    /// Kraken v1 channel ids: trade and book channels per pair.
    public static func krakenChannelID(symbol: Int, book: Bool) -> Int64 { Int64(100 + symbol * 2 + (book ? 1 : 0)) }

    /// Appends the message for the model's current event (`model` has just generated `kind`
    /// for `symbol`). `nanos` is the exchange event time.
    public mutating func encode(_ kind: MarketEventKind, symbol s: Int, model: MarketModel, nanos: Int64, into out: inout [UInt8]) {
        switch venue {
        case .binance: binance(kind, s, model, nanos, &out)
        case .kraken: kraken(kind, s, model, nanos, &out)
        case .coinbase: coinbase(kind, s, model, nanos, &out)
        }
    }

    // MARK: Binance

    @inline(__always)
    private func bnum(_ v: Int64, _ out: inout [UInt8]) {
        out.append(34)
        DecimalText.append(v, scale: 8, digits: 8, to: &out)
        out.append(34)
    }

    private func binance(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ out: inout [UInt8]) {
        let ms = nanos / 1_000_000
        if combined {
            out.append(contentsOf: #"{"stream":""#.utf8)
            switch kind {
            case .trade: out.append(contentsOf: tradeStreams[s])
            case .aggTrade: out.append(contentsOf: aggStreams[s])
            case .depth: out.append(contentsOf: depthStreams[s])
            }
            out.append(contentsOf: #"","data":"#.utf8)
        }
        switch kind {
        case .trade:
            let t = m.trades[0]
            out.append(contentsOf: #"{"e":"trade","E":"#.utf8)
            DecimalText.appendInt(ms, to: &out)
            out.append(contentsOf: #","s":""#.utf8)
            out.append(contentsOf: names[s])
            out.append(contentsOf: #"","t":"#.utf8)
            DecimalText.appendInt(t.id, to: &out)
            out.append(contentsOf: #","p":"#.utf8)
            bnum(t.price, &out)
            out.append(contentsOf: #","q":"#.utf8)
            bnum(t.qty, &out)
            out.append(contentsOf: #","T":"#.utf8)
            DecimalText.appendInt(ms, to: &out)
            out.append(contentsOf: m.buyerIsMaker ? #","m":true,"M":true}"#.utf8 : #","m":false,"M":true}"#.utf8)
        case .aggTrade:
            var q: Int64 = 0
            for t in m.trades { q += t.qty }
            out.append(contentsOf: #"{"e":"aggTrade","E":"#.utf8)
            DecimalText.appendInt(ms, to: &out)
            out.append(contentsOf: #","s":""#.utf8)
            out.append(contentsOf: names[s])
            out.append(contentsOf: #"","a":"#.utf8)
            DecimalText.appendInt(m.aggId, to: &out)
            out.append(contentsOf: #","p":"#.utf8)
            bnum(m.trades[0].price, &out)
            out.append(contentsOf: #","q":"#.utf8)
            bnum(q, &out)
            out.append(contentsOf: #","f":"#.utf8)
            DecimalText.appendInt(m.trades[0].id, to: &out)
            out.append(contentsOf: #","l":"#.utf8)
            DecimalText.appendInt(m.trades[m.trades.count - 1].id, to: &out)
            out.append(contentsOf: #","T":"#.utf8)
            DecimalText.appendInt(ms, to: &out)
            out.append(contentsOf: m.buyerIsMaker ? #","m":true,"M":true}"#.utf8 : #","m":false,"M":true}"#.utf8)
        case .depth:
            out.append(contentsOf: #"{"e":"depthUpdate","E":"#.utf8)
            DecimalText.appendInt(ms, to: &out)
            out.append(contentsOf: #","s":""#.utf8)
            out.append(contentsOf: names[s])
            out.append(contentsOf: #"","U":"#.utf8)
            DecimalText.appendInt(m.firstUpdateId, to: &out)
            out.append(contentsOf: #","u":"#.utf8)
            DecimalText.appendInt(m.finalUpdateId, to: &out)
            out.append(contentsOf: #","b":"#.utf8)
            binanceLevels(m.bidChanges, &out)
            out.append(contentsOf: #","a":"#.utf8)
            binanceLevels(m.askChanges, &out)
            out.append(125)
        }
        if combined { out.append(125) }
    }

    private func binanceLevels(_ levels: [SimLevel], _ out: inout [UInt8]) {
        out.append(91)
        for (i, l) in levels.enumerated() {
            if i > 0 { out.append(44) }
            out.append(91)
            bnum(l.price, &out)
            out.append(44)
            bnum(l.qty, &out)
            out.append(93)
        }
        out.append(93)
    }

    /// Binance REST `GET /api/v3/depth` body for the model's book of `symbol`:
    /// `{"lastUpdateId":…,"bids":[["price","qty"],…],"asks":[…]}`.
    public static func binanceSnapshot(model: MarketModel, symbol: Int, limit: Int? = nil) -> [UInt8] {
        let b = model.book(symbol, levels: limit)
        var out: [UInt8] = []
        out.reserveCapacity(64 + 48 * (b.bids.count + b.asks.count))
        out.append(contentsOf: #"{"lastUpdateId":"#.utf8)
        DecimalText.appendInt(b.lastUpdateId, to: &out)
        func side(_ ls: [SimLevel]) {
            out.append(91)
            for (i, l) in ls.enumerated() {
                if i > 0 { out.append(44) }
                out.append(contentsOf: #"[""#.utf8)
                DecimalText.append(l.price, scale: 8, digits: 8, to: &out)
                out.append(contentsOf: #"",""#.utf8)
                DecimalText.append(l.qty, scale: 8, digits: 8, to: &out)
                out.append(contentsOf: #""]"#.utf8)
            }
            out.append(93)
        }
        out.append(contentsOf: #","bids":"#.utf8)
        side(b.bids)
        out.append(contentsOf: #","asks":"#.utf8)
        side(b.asks)
        out.append(125)
        return out
    }

    // MARK: Kraken v1

    @inline(__always)
    private func kprice(_ v: Int64, _ s: Int, _ out: inout [UInt8]) {
        out.append(34)
        DecimalText.append(v, scale: 8, digits: max(5, tickDecimals[s]), to: &out)
        out.append(34)
    }

    @inline(__always)
    private func kvol(_ v: Int64, _ out: inout [UInt8]) {
        out.append(34)
        DecimalText.append(v, scale: 8, digits: 8, to: &out)
        out.append(34)
    }

    /// `"1534614057.321597"`: seconds with 6 decimals.
    @inline(__always)
    private func ktime(_ nanos: Int64, _ out: inout [UInt8]) {
        out.append(34)
        DecimalText.append(nanos / 1000, scale: 6, digits: 6, to: &out)
        out.append(34)
    }

    private func kraken(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ out: inout [UInt8]) {
        out.append(91)
        switch kind {
        case .trade, .aggTrade:
            DecimalText.appendInt(Self.krakenChannelID(symbol: s, book: false), to: &out)
            out.append(contentsOf: ",[".utf8)
            for (i, t) in m.trades.enumerated() {
                if i > 0 { out.append(44) }
                out.append(91)
                kprice(t.price, s, &out)
                out.append(44)
                kvol(t.qty, &out)
                out.append(44)
                ktime(nanos + Int64(i) * 1000, &out)
                // side of the taker: "b" buy, "s" sell; order type "m" market / "l" limit; misc "".
                out.append(contentsOf: m.buyerIsMaker ? #","s","m",""]"#.utf8 : #","b","m",""]"#.utf8)
            }
            out.append(contentsOf: #"],"trade",""#.utf8)
        case .depth:
            DecimalText.appendInt(Self.krakenChannelID(symbol: s, book: true), to: &out)
            // Asks and bids come as separate objects when both sides changed.
            if !m.askChanges.isEmpty {
                out.append(contentsOf: #",{"a":"#.utf8)
                krakenLevels(m.askChanges, s, nanos, &out)
                out.append(125)
            }
            if !m.bidChanges.isEmpty {
                out.append(contentsOf: #",{"b":"#.utf8)
                krakenLevels(m.bidChanges, s, nanos, &out)
                out.append(125)
            }
            out.append(contentsOf: #","book-"#.utf8)
            DecimalText.appendInt(Int64(krakenBookDepth), to: &out)
            out.append(contentsOf: #"",""#.utf8)
        }
        out.append(contentsOf: names[s])
        out.append(contentsOf: #""]"#.utf8)
    }

    private func krakenLevels(_ levels: [SimLevel], _ s: Int, _ nanos: Int64, _ out: inout [UInt8]) {
        out.append(91)
        for (i, l) in levels.enumerated() {
            if i > 0 { out.append(44) }
            out.append(91)
            kprice(l.price, s, &out)
            out.append(44)
            kvol(l.qty, &out)
            out.append(44)
            ktime(nanos, &out)
            out.append(93)
        }
        out.append(93)
    }

    /// Kraken v1 book snapshot sent after a book subscription:
    /// `[channelID,{"as":[[price,volume,time],…],"bs":[…]},"book-25","XBT/USD"]`.
    public func krakenBookSnapshot(model: MarketModel, symbol s: Int, nanos: Int64) -> [UInt8] {
        let b = model.book(s, levels: krakenBookDepth)
        var out: [UInt8] = [91]
        DecimalText.appendInt(Self.krakenChannelID(symbol: s, book: true), to: &out)
        out.append(contentsOf: #",{"as":"#.utf8)
        krakenLevels(b.asks, s, nanos, &out)
        out.append(contentsOf: #","bs":"#.utf8)
        krakenLevels(b.bids, s, nanos, &out)
        out.append(contentsOf: #"},"book-"#.utf8)
        DecimalText.appendInt(Int64(krakenBookDepth), to: &out)
        out.append(contentsOf: #"",""#.utf8)
        out.append(contentsOf: names[s])
        out.append(contentsOf: #""]"#.utf8)
        return out
    }

    // MARK: Coinbase Advanced Trade

    private mutating func coinbaseHead(_ channel: StaticString, _ nanos: Int64, _ out: inout [UInt8]) {
        out.append(contentsOf: #"{"channel":""#.utf8)
        out.append(contentsOf: UnsafeRawBufferPointer(start: channel.utf8Start, count: channel.utf8CodeUnitCount))
        out.append(contentsOf: #"","client_id":"","timestamp":""#.utf8)
        StampText.appendRFC3339(nanos: nanos, to: &out)
        out.append(contentsOf: #"","sequence_num":"#.utf8)
        DecimalText.appendInt(coinbaseSequence, to: &out)
        coinbaseSequence += 1
        out.append(contentsOf: #","events":["#.utf8)
    }

    private mutating func coinbase(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ out: inout [UInt8]) {
        switch kind {
        case .trade, .aggTrade:
            coinbaseHead("market_trades", nanos, &out)
            out.append(contentsOf: #"{"type":"update","trades":["#.utf8)
            for (i, t) in m.trades.enumerated() {
                if i > 0 { out.append(44) }
                out.append(contentsOf: #"{"trade_id":""#.utf8)
                DecimalText.appendInt(t.id, to: &out)
                out.append(contentsOf: #"","product_id":""#.utf8)
                out.append(contentsOf: names[s])
                out.append(contentsOf: #"","price":""#.utf8)
                DecimalText.append(t.price, scale: 8, digits: tickDecimals[s], to: &out)
                out.append(contentsOf: #"","size":""#.utf8)
                DecimalText.append(t.qty, scale: 8, digits: 8, trim: true, to: &out)
                // The maker's side: a sell-initiated trade filled a resting BUY order.
                out.append(contentsOf: m.buyerIsMaker ? #"","side":"BUY","time":""#.utf8 : #"","side":"SELL","time":""#.utf8)
                StampText.appendRFC3339(nanos: nanos - 200_000, fractionDigits: 6, to: &out)
                out.append(contentsOf: #""}"#.utf8)
            }
            out.append(contentsOf: "]}]}".utf8)
        case .depth:
            coinbaseHead("l2_data", nanos, &out)
            out.append(contentsOf: #"{"type":"update","product_id":""#.utf8)
            out.append(contentsOf: names[s])
            out.append(contentsOf: #"","updates":["#.utf8)
            coinbaseLevels(m.bidChanges, bid: true, first: true, s, nanos, &out)
            coinbaseLevels(m.askChanges, bid: false, first: m.bidChanges.isEmpty, s, nanos, &out)
            out.append(contentsOf: "]}]}".utf8)
        }
    }

    private func coinbaseLevels(_ levels: [SimLevel], bid: Bool, first: Bool, _ s: Int, _ nanos: Int64, _ out: inout [UInt8]) {
        for (i, l) in levels.enumerated() {
            if i > 0 || !first { out.append(44) }
            out.append(contentsOf: bid ? #"{"side":"bid","event_time":""#.utf8 : #"{"side":"offer","event_time":""#.utf8)
            StampText.appendRFC3339(nanos: nanos - 300_000, fractionDigits: 6, to: &out)
            out.append(contentsOf: #"","price_level":""#.utf8)
            DecimalText.append(l.price, scale: 8, digits: tickDecimals[s], to: &out)
            out.append(contentsOf: #"","new_quantity":""#.utf8)
            DecimalText.append(l.qty, scale: 8, digits: 8, trim: true, to: &out)
            out.append(contentsOf: #""}"#.utf8)
        }
    }
}
