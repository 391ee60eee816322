import K2Core

/// Encodes model events as the venues' own JSON bytes: field order, number formats and
/// timestamp styles as the venues send them (see docs/sim-profiles.md, "Messages").
///
/// Prices and quantities are 1e-8 mantissas. Binance writes 8 decimals always
/// (`"0.00100000"`); Kraken v1 writes prices with max(5, tick decimals) and volumes with 8;
/// Coinbase writes prices with the tick's decimals and sizes without trailing zeros.
@inline(__always)
func lit(_ s: StaticString, _ out: inout [UInt8]) { DecimalText.literal(s, to: &out) }

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
            lit(#"{"stream":""#, &out)
            switch kind {
            case .trade: out.append(contentsOf: tradeStreams[s])
            case .aggTrade: out.append(contentsOf: aggStreams[s])
            case .depth: out.append(contentsOf: depthStreams[s])
            }
            lit(#"","data":"#, &out)
        }
        switch kind {
        case .trade:
            let t = m.trades[0]
            lit(#"{"e":"trade","E":"#, &out)
            DecimalText.appendInt(ms, to: &out)
            lit(#","s":""#, &out)
            out.append(contentsOf: names[s])
            lit(#"","t":"#, &out)
            DecimalText.appendInt(t.id, to: &out)
            lit(#","p":"#, &out)
            bnum(t.price, &out)
            lit(#","q":"#, &out)
            bnum(t.qty, &out)
            lit(#","T":"#, &out)
            DecimalText.appendInt(ms, to: &out)
            lit(m.buyerIsMaker ? #","m":true,"M":true}"# : #","m":false,"M":true}"#, &out)
        case .aggTrade:
            var q: Int64 = 0
            for t in m.trades { q += t.qty }
            lit(#"{"e":"aggTrade","E":"#, &out)
            DecimalText.appendInt(ms, to: &out)
            lit(#","s":""#, &out)
            out.append(contentsOf: names[s])
            lit(#"","a":"#, &out)
            DecimalText.appendInt(m.aggId, to: &out)
            lit(#","p":"#, &out)
            bnum(m.trades[0].price, &out)
            lit(#","q":"#, &out)
            bnum(q, &out)
            lit(#","f":"#, &out)
            DecimalText.appendInt(m.trades[0].id, to: &out)
            lit(#","l":"#, &out)
            DecimalText.appendInt(m.trades[m.trades.count - 1].id, to: &out)
            lit(#","T":"#, &out)
            DecimalText.appendInt(ms, to: &out)
            lit(m.buyerIsMaker ? #","m":true,"M":true}"# : #","m":false,"M":true}"#, &out)
        case .depth:
            lit(#"{"e":"depthUpdate","E":"#, &out)
            DecimalText.appendInt(ms, to: &out)
            lit(#","s":""#, &out)
            out.append(contentsOf: names[s])
            lit(#"","U":"#, &out)
            DecimalText.appendInt(m.firstUpdateId, to: &out)
            lit(#","u":"#, &out)
            DecimalText.appendInt(m.finalUpdateId, to: &out)
            lit(#","b":"#, &out)
            binanceLevels(m.bidChanges, &out)
            lit(#","a":"#, &out)
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
        lit(#"{"lastUpdateId":"#, &out)
        DecimalText.appendInt(b.lastUpdateId, to: &out)
        func side(_ ls: [SimLevel]) {
            out.append(91)
            for (i, l) in ls.enumerated() {
                if i > 0 { out.append(44) }
                lit(#"[""#, &out)
                DecimalText.append(l.price, scale: 8, digits: 8, to: &out)
                lit(#"",""#, &out)
                DecimalText.append(l.qty, scale: 8, digits: 8, to: &out)
                lit(#""]"#, &out)
            }
            out.append(93)
        }
        lit(#","bids":"#, &out)
        side(b.bids)
        lit(#","asks":"#, &out)
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
            lit(",[", &out)
            for (i, t) in m.trades.enumerated() {
                if i > 0 { out.append(44) }
                out.append(91)
                kprice(t.price, s, &out)
                out.append(44)
                kvol(t.qty, &out)
                out.append(44)
                ktime(nanos + Int64(i) * 1000, &out)
                // side of the taker: "b" buy, "s" sell; order type "m" market / "l" limit; misc "".
                lit(m.buyerIsMaker ? #","s","m",""]"# : #","b","m",""]"#, &out)
            }
            lit(#"],"trade",""#, &out)
        case .depth:
            DecimalText.appendInt(Self.krakenChannelID(symbol: s, book: true), to: &out)
            // Asks and bids come as separate objects when both sides changed.
            if !m.askChanges.isEmpty {
                lit(#",{"a":"#, &out)
                krakenLevels(m.askChanges, s, nanos, &out)
                out.append(125)
            }
            if !m.bidChanges.isEmpty {
                lit(#",{"b":"#, &out)
                krakenLevels(m.bidChanges, s, nanos, &out)
                out.append(125)
            }
            lit(#","book-"#, &out)
            DecimalText.appendInt(Int64(krakenBookDepth), to: &out)
            lit(#"",""#, &out)
        }
        out.append(contentsOf: names[s])
        lit(#""]"#, &out)
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
        lit(#",{"as":"#, &out)
        krakenLevels(b.asks, s, nanos, &out)
        lit(#","bs":"#, &out)
        krakenLevels(b.bids, s, nanos, &out)
        lit(#"},"book-"#, &out)
        DecimalText.appendInt(Int64(krakenBookDepth), to: &out)
        lit(#"",""#, &out)
        out.append(contentsOf: names[s])
        lit(#""]"#, &out)
        return out
    }

    // MARK: Coinbase Advanced Trade

    private mutating func coinbaseHead(_ channel: StaticString, _ nanos: Int64, _ out: inout [UInt8]) {
        lit(#"{"channel":""#, &out)
        lit(channel, &out)
        lit(#"","client_id":"","timestamp":""#, &out)
        StampText.appendRFC3339(nanos: nanos, to: &out)
        lit(#"","sequence_num":"#, &out)
        DecimalText.appendInt(coinbaseSequence, to: &out)
        coinbaseSequence += 1
        lit(#","events":["#, &out)
    }

    private mutating func coinbase(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ out: inout [UInt8]) {
        switch kind {
        case .trade, .aggTrade:
            coinbaseHead("market_trades", nanos, &out)
            lit(#"{"type":"update","trades":["#, &out)
            for (i, t) in m.trades.enumerated() {
                if i > 0 { out.append(44) }
                lit(#"{"trade_id":""#, &out)
                DecimalText.appendInt(t.id, to: &out)
                lit(#"","product_id":""#, &out)
                out.append(contentsOf: names[s])
                lit(#"","price":""#, &out)
                DecimalText.append(t.price, scale: 8, digits: tickDecimals[s], to: &out)
                lit(#"","size":""#, &out)
                DecimalText.append(t.qty, scale: 8, digits: 8, trim: true, to: &out)
                // The maker's side: a sell-initiated trade filled a resting BUY order.
                lit(m.buyerIsMaker ? #"","side":"BUY","time":""# : #"","side":"SELL","time":""#, &out)
                StampText.appendRFC3339(nanos: nanos - 200_000, fractionDigits: 6, to: &out)
                lit(#""}"#, &out)
            }
            lit("]}]}", &out)
        case .depth:
            coinbaseHead("l2_data", nanos, &out)
            lit(#"{"type":"update","product_id":""#, &out)
            out.append(contentsOf: names[s])
            lit(#"","updates":["#, &out)
            coinbaseLevels(m.bidChanges, bid: true, first: true, s, nanos, &out)
            coinbaseLevels(m.askChanges, bid: false, first: m.bidChanges.isEmpty, s, nanos, &out)
            lit("]}]}", &out)
        }
    }

    private func coinbaseLevels(_ levels: [SimLevel], bid: Bool, first: Bool, _ s: Int, _ nanos: Int64, _ out: inout [UInt8]) {
        for (i, l) in levels.enumerated() {
            if i > 0 || !first { out.append(44) }
            lit(bid ? #"{"side":"bid","event_time":""# : #"{"side":"offer","event_time":""#, &out)
            StampText.appendRFC3339(nanos: nanos - 300_000, fractionDigits: 6, to: &out)
            lit(#"","price_level":""#, &out)
            DecimalText.append(l.price, scale: 8, digits: tickDecimals[s], to: &out)
            lit(#"","new_quantity":""#, &out)
            DecimalText.append(l.qty, scale: 8, digits: 8, trim: true, to: &out)
            lit(#""}"#, &out)
        }
    }
}
