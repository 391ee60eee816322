import K2Capture
import K2Core

/// Encodes model events as the venues' own JSON bytes: field order, number formats and
/// timestamp styles as the venues send them (see docs/sim-profiles.md, "Messages").
///
/// Prices and quantities are 1e-8 mantissas. Binance writes 8 decimals always
/// (`"0.00100000"`); Kraken v1 writes prices with max(5, tick decimals) and volumes with 8;
/// Coinbase writes prices with the tick's decimals and sizes without trailing zeros.
@inline(__always)
func lit(_ s: StaticString, _ out: inout [UInt8]) { DecimalText.literal(s, to: &out) }

package struct VenueEncoder: Sendable {
    package let venue: Venue
    /// Binance: wrap payloads as combined-stream messages `{"stream":…,"data":…}` (true) or
    /// send raw payloads as on `/ws/<stream>` (false).
    package var combined: Bool = true
    /// Binance depth stream suffix: `@depth@100ms` (default) or `@depth`.
    var depthStreamSuffix: String = "@depth@100ms" {
        didSet { buildStreamNames() }
    }
    /// Kraken book subscription depth (in `book-25`).
    package var krakenBookDepth: Int = 25
    /// Coinbase per-connection `sequence_num` of the next message.
    package var coinbaseSequence: Int64 = 0
    // Internal, not private: the venues' encoders in VenueEncoder+Kraken/+Coinbase/+Tickers use them.
    var stamps = StampCache()
    var checksumText: [UInt8] = []
    var checksumCache: [UInt8] = []
    private var raw: [UInt8] = []

    var names: [[UInt8]] = []  // venue symbol names
    private var tradeStreams: [[UInt8]] = []  // binance: btcusdt@trade
    private var aggStreams: [[UInt8]] = []
    private var depthStreams: [[UInt8]] = []
    let tickDecimals: [Int]

    package init(venue: Venue, universe: SymbolUniverse) {
        self.venue = venue
        tickDecimals = universe.symbols.map(\.tickDecimals)
        names = universe.symbols.map { Array($0.name(for: venue).utf8) }
        buildStreamNames(universe.symbols.map(\.binanceStream))
    }

    var lowerNames: [String] = []

    private mutating func buildStreamNames(_ lower: [String]? = nil) {
        if let lower { lowerNames = lower }
        tradeStreams = lowerNames.map { Array(($0 + "@trade").utf8) }
        aggStreams = lowerNames.map { Array(($0 + "@aggTrade").utf8) }
        depthStreams = lowerNames.map { Array(($0 + depthStreamSuffix).utf8) }
    }

    /// The stream name (Binance) or channel name (Kraken, Coinbase) a message of `kind` for
    /// `symbol` belongs to: `btcusdt@aggTrade`, `trade`, `book`, `market_trades`, `level2`.
    func streamName(_ kind: MessageKind, symbol: Int) -> String {
        switch venue {
        case .binance:
            switch kind {
            case .trade: return String(decoding: tradeStreams[symbol], as: UTF8.self)
            case .aggTrade: return String(decoding: aggStreams[symbol], as: UTF8.self)
            case .ticker: return lowerNames[symbol] + "@bookTicker"
            case .candle: return lowerNames[symbol] + "@kline_1m"
            default: return String(decoding: depthStreams[symbol], as: UTF8.self)
            }
        case .kraken: return kind == .depth ? "book" : "trade"
        case .coinbase: return kind == .depth ? "level2" : kind == .candle ? "candles" : "market_trades"
        }
    }

    /// Kraken v1 channel ids: trade and book channels per pair.
    static func krakenChannelID(symbol: Int, book: Bool) -> Int64 { Int64(100 + symbol * 2 + (book ? 1 : 0)) }

    /// Appends the message for the model's current event (`model` has just generated `kind`
    /// for `symbol`). `nanos` is the exchange event time.
    package mutating func encode(_ kind: MarketEventKind, symbol s: Int, model: MarketModel, nanos: Int64, into out: inout [UInt8]) {
        switch venue {
        case .binance: binance(kind, s, model, nanos, &out)
        case .kraken: kraken(kind, s, model, nanos, &out)
        case .coinbase: coinbase(kind, s, model, nanos, &out)
        }
    }

    /// Reserves `bound` bytes in `raw` (kept at its largest size), lets `body` write through a
    /// pointer, and appends what it wrote to `out` in one copy.
    @inline(__always)
    mutating func writeRaw(bound: Int, _ out: inout [UInt8], _ body: (inout VenueEncoder, inout RawWriter) -> Void) {
        var buffer: [UInt8] = []
        swap(&buffer, &raw)
        if buffer.count < bound { buffer = [UInt8](repeating: 0, count: max(bound, 8192)) }
        let used = buffer.withUnsafeMutableBufferPointer { storage -> Int in
            let base = storage.baseAddress!
            var writer = RawWriter(base)
            body(&self, &writer)
            return writer.cursor - base
        }
        buffer.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<used])) }
        swap(&buffer, &raw)
    }

    // MARK: Binance

    @inline(__always)
    private func bnum(_ v: Int64, _ w: inout RawWriter) {
        w.byte(34)
        w.decimal(v, scale: 8, digits: 8)
        w.byte(34)
    }

    /// Written through a `RawWriter` (see `writeRaw`).
    private mutating func binance(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ out: inout [UInt8]) {
        let items = kind == .depth ? m.bidChanges.count + m.askChanges.count : 1
        // Wrapper ≤ 40 + stream, payload ≤ 240 + name, a level ≤ 50.
        writeRaw(bound: 320 + 2 * names[s].count + depthStreams[s].count + items * 56, &out) { e, w in e.binanceMessage(kind, s, m, nanos, &w) }
    }

    private func binanceMessage(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ w: inout RawWriter) {
        let ms = nanos / 1_000_000
        if combined {
            w.lit(#"{"stream":""#)
            switch kind {
            case .trade: w.bytes(tradeStreams[s])
            case .aggTrade: w.bytes(aggStreams[s])
            case .depth: w.bytes(depthStreams[s])
            }
            w.lit(#"","data":"#)
        }
        switch kind {
        case .trade: binanceTrade(s, m, m.trades[0], ms, &w)
        case .aggTrade: binanceAgg(s, m, ms, &w)
        case .depth: binanceDepth(s, m, ms, &w)
        }
        if combined { w.byte(125) }
    }

    /// Appends the Binance `trade` message of fill `fill` of the model's current trade event
    /// (the exchange simulator sends every fill of a multi-fill event on `@trade`).
    package mutating func encodeBinanceFill(_ fill: Int, symbol s: Int, model m: MarketModel, nanos: Int64, into out: inout [UInt8]) {
        writeRaw(bound: 320 + 2 * names[s].count + tradeStreams[s].count, &out) { encoder, writer in
            if encoder.combined {
                writer.lit(#"{"stream":""#)
                writer.bytes(encoder.tradeStreams[s])
                writer.lit(#"","data":"#)
            }
            encoder.binanceTrade(s, m, m.trades[fill], nanos / 1_000_000, &writer)
            if encoder.combined { writer.byte(125) }
        }
    }

    @inline(__always)
    private func binanceTrade(_ s: Int, _ m: MarketModel, _ t: SimTrade, _ ms: Int64, _ w: inout RawWriter) {
        w.lit(#"{"e":"trade","E":"#)
        w.int(ms)
        w.lit(#","s":""#)
        w.bytes(names[s])
        w.lit(#"","t":"#)
        w.int(t.id)
        w.lit(#","p":"#)
        bnum(t.price, &w)
        w.lit(#","q":"#)
        bnum(t.qty, &w)
        w.lit(#","T":"#)
        w.int(ms)
        if m.buyerIsMaker { w.lit(#","m":true,"M":true}"#) } else { w.lit(#","m":false,"M":true}"#) }
    }

    @inline(__always)
    private func binanceAgg(_ s: Int, _ m: MarketModel, _ ms: Int64, _ w: inout RawWriter) {
        var totalQty: Int64 = 0
        for t in m.trades { totalQty += t.qty }
        w.lit(#"{"e":"aggTrade","E":"#)
        w.int(ms)
        w.lit(#","s":""#)
        w.bytes(names[s])
        w.lit(#"","a":"#)
        w.int(m.aggId)
        w.lit(#","p":"#)
        bnum(m.trades[0].price, &w)
        w.lit(#","q":"#)
        bnum(totalQty, &w)
        w.lit(#","f":"#)
        w.int(m.trades[0].id)
        w.lit(#","l":"#)
        w.int(m.trades[m.trades.count - 1].id)
        w.lit(#","T":"#)
        w.int(ms)
        if m.buyerIsMaker { w.lit(#","m":true,"M":true}"#) } else { w.lit(#","m":false,"M":true}"#) }
    }

    @inline(__always)
    private func binanceDepth(_ s: Int, _ m: MarketModel, _ ms: Int64, _ w: inout RawWriter) {
        w.lit(#"{"e":"depthUpdate","E":"#)
        w.int(ms)
        w.lit(#","s":""#)
        w.bytes(names[s])
        w.lit(#"","U":"#)
        w.int(m.firstUpdateId)
        w.lit(#","u":"#)
        w.int(m.finalUpdateId)
        w.lit(#","b":"#)
        binanceLevels(m.bidChanges, &w)
        w.lit(#","a":"#)
        binanceLevels(m.askChanges, &w)
        w.byte(125)
    }

    @inline(__always)
    private func binanceLevels(_ levels: [SimLevel], _ w: inout RawWriter) {
        w.byte(91)
        for i in 0..<levels.count {
            if i > 0 { w.byte(44) }
            w.byte(91)
            bnum(levels[i].price, &w)
            w.byte(44)
            bnum(levels[i].qty, &w)
            w.byte(93)
        }
        w.byte(93)
    }

    /// Binance REST `GET /api/v3/depth` body for the model's book of `symbol`:
    /// `{"lastUpdateId":…,"bids":[["price","qty"],…],"asks":[…]}`.
    package static func binanceSnapshot(model: MarketModel, symbol: Int, limit: Int? = nil) -> [UInt8] {
        let book = model.book(symbol, levels: limit)
        var out: [UInt8] = []
        out.reserveCapacity(64 + 48 * (book.bids.count + book.asks.count))
        lit(#"{"lastUpdateId":"#, &out)
        DecimalText.appendInt(book.lastUpdateId, to: &out)
        func side(_ ls: [SimLevel]) {
            out.append(91)
            for (i, level) in ls.enumerated() {
                if i > 0 { out.append(44) }
                lit(#"[""#, &out)
                DecimalText.append(level.price, scale: 8, digits: 8, to: &out)
                lit(#"",""#, &out)
                DecimalText.append(level.qty, scale: 8, digits: 8, to: &out)
                lit(#""]"#, &out)
            }
            out.append(93)
        }
        lit(#","bids":"#, &out)
        side(book.bids)
        lit(#","asks":"#, &out)
        side(book.asks)
        out.append(125)
        return out
    }
}
