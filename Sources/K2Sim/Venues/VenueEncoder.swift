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
    private var stamps = StampCache()
    private var checksumText: [UInt8] = []
    private var checksumCache: [UInt8] = []
    private var raw: [UInt8] = []

    private var names: [[UInt8]] = []  // venue symbol names
    private var tradeStreams: [[UInt8]] = []  // binance: btcusdt@trade
    private var aggStreams: [[UInt8]] = []
    private var depthStreams: [[UInt8]] = []
    private let tickDecimals: [Int]

    package init(venue: Venue, universe: SymbolUniverse) {
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

    /// Binance `bookTicker` of `symbol` now: `{"u":400900217,"s":"BNBUSDT","b":"25.35190000",
    /// "B":"31.21000000","a":"25.36520000","A":"40.66000000"}` (`u` the book's last update id),
    /// wrapped as `{"stream":"bnbusdt@bookTicker","data":…}` on combined connections.
    func encodeBinanceBookTicker(symbol s: Int, model m: MarketModel, into out: inout [UInt8]) {
        if combined {
            lit(#"{"stream":""#, &out)
            out.append(contentsOf: lowerNames[s].utf8)
            lit(#"@bookTicker","data":"#, &out)
        }
        let bid = m.level(s, bid: true, 0)
        let ask = m.level(s, bid: false, 0)
        lit(#"{"u":"#, &out)
        DecimalText.appendInt(m.lastUpdateId(s), to: &out)
        lit(#","s":""#, &out)
        out.append(contentsOf: names[s])
        for (key, value) in [(#"","b":""#, bid.price), (#"","B":""#, bid.qty), (#"","a":""#, ask.price), (#"","A":""#, ask.qty)]
            as [(StaticString, Int64)]
        {
            lit(key, &out)
            DecimalText.append(value, scale: 8, digits: 8, to: &out)
        }
        lit(#""}"#, &out)
        if combined { out.append(125) }
    }

    /// Kraken v1 `ticker` channel ids, one per pair.
    static func krakenTickerChannelID(symbol: Int) -> Int64 { Int64(100_000 + symbol) }

    /// The ticker of `symbol` after a trade event (Binance: `bookTicker`, see
    /// `encodeBinanceBookTicker`). Coinbase: `coinbaseSnapshotSequence` set sends the `snapshot`
    /// that answers a subscription with that `sequence_num`; nil sends an `update` numbered
    /// from the connection's counter.
    mutating func encodeTicker(
        symbol s: Int, model m: MarketModel, stats: TickerStats, nanos: Int64,
        coinbaseSnapshotSequence: Int64? = nil, into out: inout [UInt8]
    ) {
        switch venue {
        case .binance: encodeBinanceBookTicker(symbol: s, model: m, into: &out)
        case .kraken: krakenTicker(s, m, stats, &out)
        case .coinbase:
            let sequence: Int64
            if let fixed = coinbaseSnapshotSequence { sequence = fixed } else { sequence = coinbaseSequence; coinbaseSequence += 1 }
            coinbaseTicker(s, m, stats, nanos, sequence: sequence, snapshot: coinbaseSnapshotSequence != nil, &out)
        }
    }

    /// `[chanID,{"a":["5525.40000",1,"1.000"],"b":[…],"c":["5525.10000","0.00398963"],"v":[today,24h],
    /// "p":[vwap,vwap],"t":[trades,trades],"l":[…],"h":[…],"o":[…]},"ticker","XBT/USD"]`
    /// (Kraken WebSocket v1 ticker; best ask/bid as price, whole lot volume, lot volume).
    private func krakenTicker(_ s: Int, _ m: MarketModel, _ stats: TickerStats, _ out: inout [UInt8]) {
        out.append(91)
        DecimalText.appendInt(Self.krakenTickerChannelID(symbol: s), to: &out)
        func best(_ key: StaticString, _ level: SimLevel) {
            lit(key, &out)
            kprice(level.price, s, &out)
            out.append(44)
            DecimalText.appendInt(max(1, level.qty / 100_000_000), to: &out)
            lit(#",""#, &out)
            DecimalText.append(level.qty, scale: 8, digits: 3, to: &out)
            lit(#""]"#, &out)
        }
        func pair(_ key: StaticString, _ value: Int64, price: Bool) {
            lit(key, &out)
            for i in 0..<2 {
                if i > 0 { out.append(44) }
                if price { kprice(value, s, &out) } else { kvol(value, &out) }
            }
            out.append(93)
        }
        best(#",{"a":["#, m.level(s, bid: false, 0))
        best(#","b":["#, m.level(s, bid: true, 0))
        lit(#","c":["#, &out)
        kprice(stats.last, s, &out)
        out.append(44)
        kvol(stats.lastQuantity, &out)
        out.append(93)
        pair(#","v":["#, stats.volume, price: false)
        pair(#","p":["#, stats.vwap, price: true)
        lit(#","t":["#, &out)
        DecimalText.appendInt(stats.trades, to: &out)
        out.append(44)
        DecimalText.appendInt(stats.trades, to: &out)
        out.append(93)
        pair(#","l":["#, stats.low, price: true)
        pair(#","h":["#, stats.high, price: true)
        pair(#","o":["#, stats.open, price: true)
        lit(#"},"ticker",""#, &out)
        out.append(contentsOf: names[s])
        lit(#""]"#, &out)
    }

    /// `{"channel":"ticker","client_id":"","timestamp":"…","sequence_num":N,"events":[{"type":"update",
    /// "tickers":[{"type":"ticker","product_id":"BTC-USD","price":"…","volume_24_h":"…","low_24_h":"…",
    /// "high_24_h":"…","low_52_w":"…","high_52_w":"…","price_percent_chg_24_h":"…","best_bid":"…",
    /// "best_bid_quantity":"…","best_ask":"…","best_ask_quantity":"…"}]}]}` (Coinbase Advanced Trade).
    private func coinbaseTicker(
        _ s: Int, _ m: MarketModel, _ stats: TickerStats, _ nanos: Int64, sequence: Int64,
        snapshot: Bool, _ out: inout [UInt8]
    ) {
        let td = tickDecimals[s]
        func price(_ key: StaticString, _ value: Int64) {
            lit(key, &out)
            DecimalText.append(value, scale: 8, digits: td, to: &out)
        }
        func quantity(_ key: StaticString, _ value: Int64) {
            lit(key, &out)
            DecimalText.append(value, scale: 8, digits: 8, trim: true, to: &out)
        }
        lit(#"{"channel":"ticker","client_id":"","timestamp":""#, &out)
        StampText.appendRFC3339(nanos: nanos, to: &out)
        lit(#"","sequence_num":"#, &out)
        DecimalText.appendInt(sequence, to: &out)
        if snapshot {
            lit(#","events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":""#, &out)
        } else {
            lit(#","events":[{"type":"update","tickers":[{"type":"ticker","product_id":""#, &out)
        }
        out.append(contentsOf: names[s])
        let bid = m.level(s, bid: true, 0)
        let ask = m.level(s, bid: false, 0)
        price(#"","price":""#, stats.last > 0 ? stats.last : bid.price)
        quantity(#"","volume_24_h":""#, stats.volume)
        price(#"","low_24_h":""#, stats.low)
        price(#"","high_24_h":""#, stats.high)
        price(#"","low_52_w":""#, stats.low)
        price(#"","high_52_w":""#, stats.high)
        lit(#"","price_percent_chg_24_h":""#, &out)
        DecimalText.append(stats.percentChange, scale: 8, digits: 8, trim: true, to: &out)
        price(#"","best_bid":""#, bid.price)
        quantity(#"","best_bid_quantity":""#, bid.qty)
        price(#"","best_ask":""#, ask.price)
        quantity(#"","best_ask_quantity":""#, ask.qty)
        lit(#""}]}]}"#, &out)
    }

    /// The candle bucket of each venue: Binance `kline_1m` one minute, Coinbase `candles` five.
    package static func candleBucketNanos(_ venue: Venue) -> Int64 { venue == .coinbase ? 300_000_000_000 : 60_000_000_000 }

    /// The candle message of `symbol` (`candle` its current or just finished bucket):
    /// - Binance `kline_1m`: `{"e":"kline","E":…,"s":"BNBBTC","k":{"t":…,"T":…,"s":"BNBBTC","i":"1m","f":100,
    ///   "L":200,"o":"…","c":"…","h":"…","l":"…","v":"…","n":100,"x":false,"q":"…","V":"…","Q":"…","B":"0"}}`
    ///   (`x` true for the finished one), wrapped as `{"stream":"bnbbtc@kline_1m","data":…}` on combined connections;
    /// - Coinbase `candles`: `{"channel":"candles","client_id":"","timestamp":"…","sequence_num":N,"events":[{"type":"update",
    ///   "candles":[{"start":"1688998200","high":"…","low":"…","open":"…","close":"…","volume":"…","product_id":"ETH-USD"}]}]}`;
    ///   `coinbaseSnapshotSequence` set sends the `snapshot` that answers a subscription with that
    ///   `sequence_num` (no candle yet: `"candles":[]`), nil an `update` numbered from the connection's counter.
    package mutating func encodeCandle(
        symbol s: Int, candle: CandleStats, closed: Bool, nanos: Int64,
        coinbaseSnapshotSequence: Int64? = nil, into out: inout [UInt8]
    ) {
        switch venue {
        case .binance: binanceKline(s, candle, closed: closed, nanos, &out)
        case .coinbase:
            let sequence: Int64
            if let fixed = coinbaseSnapshotSequence { sequence = fixed } else { sequence = coinbaseSequence; coinbaseSequence += 1 }
            coinbaseCandles(s, candle, nanos, sequence: sequence, snapshot: coinbaseSnapshotSequence != nil, &out)
        case .kraken: break
        }
    }

    private func binanceKline(_ s: Int, _ candle: CandleStats, closed: Bool, _ nanos: Int64, _ out: inout [UInt8]) {
        if combined {
            lit(#"{"stream":""#, &out)
            out.append(contentsOf: lowerNames[s].utf8)
            lit(#"@kline_1m","data":"#, &out)
        }
        let startMillis = (candle.start ?? 0) / 1_000_000
        lit(#"{"e":"kline","E":"#, &out)
        DecimalText.appendInt(nanos / 1_000_000, to: &out)
        lit(#","s":""#, &out)
        out.append(contentsOf: names[s])
        lit(#"","k":{"t":"#, &out)
        DecimalText.appendInt(startMillis, to: &out)
        lit(#","T":"#, &out)
        DecimalText.appendInt(startMillis + candle.bucketNanos / 1_000_000 - 1, to: &out)
        lit(#","s":""#, &out)
        out.append(contentsOf: names[s])
        lit(#"","i":"1m","f":"#, &out)
        DecimalText.appendInt(candle.firstTradeID, to: &out)
        lit(#","L":"#, &out)
        DecimalText.appendInt(candle.lastTradeID, to: &out)
        for (key, value) in [
            (#","o":""#, candle.open), (#"","c":""#, candle.close), (#"","h":""#, candle.high),
            (#"","l":""#, candle.low), (#"","v":""#, candle.volume),
        ] as [(StaticString, Int64)] {
            lit(key, &out)
            DecimalText.append(value, scale: 8, digits: 8, to: &out)
        }
        lit(#"","n":"#, &out)
        DecimalText.appendInt(candle.trades, to: &out)
        lit(closed ? #","x":true,"q":""# : #","x":false,"q":""#, &out)
        DecimalText.append(candle.quoteVolume, scale: 8, digits: 8, to: &out)
        lit(#"","V":""#, &out)
        DecimalText.append(candle.takerBuyVolume, scale: 8, digits: 8, to: &out)
        lit(#"","Q":""#, &out)
        DecimalText.append(candle.takerBuyQuoteVolume, scale: 8, digits: 8, to: &out)
        lit(#"","B":"0"}}"#, &out)
        if combined { out.append(125) }
    }

    private func coinbaseCandles(_ s: Int, _ candle: CandleStats, _ nanos: Int64, sequence: Int64, snapshot: Bool, _ out: inout [UInt8]) {
        let td = tickDecimals[s]
        lit(#"{"channel":"candles","client_id":"","timestamp":""#, &out)
        StampText.appendRFC3339(nanos: nanos, to: &out)
        lit(#"","sequence_num":"#, &out)
        DecimalText.appendInt(sequence, to: &out)
        lit(snapshot ? #","events":[{"type":"snapshot","candles":["# : #","events":[{"type":"update","candles":["#, &out)
        if let start = candle.start {
            lit(#"{"start":""#, &out)
            DecimalText.appendInt(start / 1_000_000_000, to: &out)
            for (key, value) in [
                (#"","high":""#, candle.high), (#"","low":""#, candle.low), (#"","open":""#, candle.open),
                (#"","close":""#, candle.close),
            ] as [(StaticString, Int64)] {
                lit(key, &out)
                DecimalText.append(value, scale: 8, digits: td, to: &out)
            }
            lit(#"","volume":""#, &out)
            DecimalText.append(candle.volume, scale: 8, digits: 8, trim: true, to: &out)
            lit(#"","product_id":""#, &out)
            out.append(contentsOf: names[s])
            lit(#""}"#, &out)
        }
        lit("]}]}", &out)
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

    /// Written through a `RawWriter` like Coinbase (see `coinbase`).
    private mutating func kraken(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ out: inout [UInt8]) {
        let items = kind == .depth ? m.bidChanges.count + m.askChanges.count : m.trades.count
        // Head and tail ≤ 100 bytes + name; a trade ≤ 100, a level ≤ 80; the checksum ≤ 20.
        let bound = 160 + names[s].count + items * 112
        writeRaw(bound: bound, &out) { e, w in e.krakenMessage(kind, s, m, nanos, &w) }
    }

    /// Reserves `bound` bytes in `raw` (kept at its largest size), lets `body` write through a
    /// pointer, and appends what it wrote to `out` in one copy.
    @inline(__always)
    private mutating func writeRaw(bound: Int, _ out: inout [UInt8], _ body: (inout VenueEncoder, inout RawWriter) -> Void) {
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

    private mutating func krakenMessage(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ w: inout RawWriter) {
        let pd = max(5, tickDecimals[s])
        w.byte(91)
        switch kind {
        case .trade, .aggTrade:
            w.int(Self.krakenChannelID(symbol: s, book: false))
            w.lit(",[")
            for i in 0..<m.trades.count {
                let trade = m.trades[i]
                if i > 0 { w.byte(44) }
                w.lit(#"[""#)
                w.decimal(trade.price, scale: 8, digits: pd)
                w.lit(#"",""#)
                w.decimal(trade.qty, scale: 8, digits: 8)
                w.lit(#"",""#)
                w.decimal((nanos + Int64(i) * 1000) / 1000, scale: 6, digits: 6)
                // side of the taker: "b" buy, "s" sell; order type "m" market / "l" limit; misc "".
                if m.buyerIsMaker { w.lit(#"","s","m",""]"#) } else { w.lit(#"","b","m",""]"#) }
            }
            w.lit(#"],"trade",""#)
        case .depth:
            w.int(Self.krakenChannelID(symbol: s, book: true))
            // Asks and bids come as separate objects when both sides changed; the CRC32 of the
            // top 10 levels after the update goes into the last object as "c".
            var time: (UnsafeMutablePointer<UInt8>, Int)?
            if !m.askChanges.isEmpty {
                w.lit(#",{"a":"#)
                krakenLevels(m.askChanges, pd, nanos, &time, &w)
                if m.bidChanges.isEmpty { krakenChecksumMember(s, m, &w) }
                w.byte(125)
            }
            if !m.bidChanges.isEmpty {
                w.lit(#",{"b":"#)
                krakenLevels(m.bidChanges, pd, nanos, &time, &w)
                krakenChecksumMember(s, m, &w)
                w.byte(125)
            }
            w.lit(#","book-"#)
            w.int(Int64(krakenBookDepth))
            w.lit(#"",""#)
        }
        w.bytes(names[s])
        w.lit(#""]"#)
    }

    /// `[["price","volume","time"],…]`; every level of one update has the same time, written
    /// once and then copied (`time` remembers where).
    @inline(__always)
    private func krakenLevels(
        _ levels: [SimLevel], _ pd: Int, _ nanos: Int64, _ time: inout (UnsafeMutablePointer<UInt8>, Int)?, _ w: inout RawWriter
    ) {
        w.byte(91)
        for i in 0..<levels.count {
            let level = levels[i]
            if i > 0 { w.byte(44) }
            w.lit(#"[""#)
            w.decimal(level.price, scale: 8, digits: pd)
            w.lit(#"",""#)
            w.decimal(level.qty, scale: 8, digits: 8)
            w.lit(#"",""#)
            if let (timeStart, timeLength) = time {
                w.cursor.update(from: timeStart, count: timeLength)
                w.cursor += timeLength
            } else {
                let start = w.cursor
                w.decimal(nanos / 1000, scale: 6, digits: 6)
                time = (start, w.cursor - start)
            }
            w.lit(#""]"#)
        }
        w.byte(93)
    }

    /// `,"c":"974947235"`: Kraken's book checksum of the model's book now.
    @inline(__always)
    private mutating func krakenChecksumMember(_ s: Int, _ m: MarketModel, _ w: inout RawWriter) {
        w.lit(#","c":""#)
        w.uint(UInt64(krakenChecksum(symbol: s, model: m)))
        w.byte(34)
    }

    /// Kraken's v1 book checksum (docs.kraken.com, "Spot Websockets (v1) Book Checksum"): CRC32
    /// of the top 10 asks (low to high) then the top 10 bids (high to low), each level as its
    /// price and volume text as sent, with the '.' removed and leading zeros stripped. The text
    /// of a fixed-decimal number without dot and leading zeros is its mantissa at that many
    /// decimals in plain decimal, so it is written from the integers directly.
    ///
    /// Most levels are unchanged from one update to the next but move between positions, so
    /// each level's text is cached by price: 64 entries per symbol, indexed by (price / level
    /// step) mod 64 — the 20 levels of the top 10 are consecutive grid prices, so they never
    /// collide. An entry is 64 bytes: price, quantity, text length, text.
    package mutating func krakenChecksum(symbol s: Int, model m: MarketModel) -> UInt32 {
        let topLevels = min(10, m.bookDepth)
        let pd = max(5, tickDecimals[s])
        let step = m.levelStep(s)
        if checksumCache.count < m.symbolCount * 64 * 64 { checksumCache = [UInt8](repeating: 0, count: m.symbolCount * 64 * 64) }
        // 20 levels × 2 numbers × ≤ 20 digits.
        if checksumText.count < 1024 { checksumText = [UInt8](repeating: 0, count: 1024) }
        return checksumCache.withUnsafeMutableBytes { cache -> UInt32 in
            let entries = cache.baseAddress! + s * 64 * 64
            return checksumText.withUnsafeMutableBufferPointer { textBuffer -> UInt32 in
                let base = textBuffer.baseAddress!
                var writer = RawWriter(base)
                for side in 0..<2 {
                    for i in 0..<topLevels {
                        let level = m.level(s, bid: side == 1, i)
                        if level.qty <= 0 { continue }
                        let entry = entries + Int((level.price / step) & 63) * 64
                        let text = (entry + 17).assumingMemoryBound(to: UInt8.self)
                        if entry.load(as: Int64.self) == level.price && entry.load(fromByteOffset: 8, as: Int64.self) == level.qty {
                            let len = Int(entry.load(fromByteOffset: 16, as: UInt8.self))
                            writer.cursor.update(from: text, count: len)
                            writer.cursor += len
                        } else {
                            let start = writer.cursor
                            let scaledPrice = pd <= 8 ? level.price / DecimalText.pow10[8 - pd] : level.price * DecimalText.pow10[pd - 8]
                            if scaledPrice > 0 { writer.uint(UInt64(scaledPrice)) }  // all zeros strip to nothing
                            writer.uint(UInt64(level.qty))
                            let len = writer.cursor - start
                            entry.storeBytes(of: level.price, as: Int64.self)
                            entry.storeBytes(of: level.qty, toByteOffset: 8, as: Int64.self)
                            entry.storeBytes(of: UInt8(len), toByteOffset: 16, as: UInt8.self)
                            text.update(from: start, count: len)
                        }
                    }
                }
                return CRC32.checksum(UnsafeRawBufferPointer(start: base, count: writer.cursor - base))
            }
        }
    }

    /// The checksum of a book given as the text Kraken sends (asks low to high, bids high to
    /// low; only the first 10 of each count): what a client computes.
    package static func krakenChecksum(asks: [(price: String, volume: String)], bids: [(price: String, volume: String)]) -> UInt32 {
        var text: [UInt8] = []
        for side in [asks, bids] {
            for level in side.prefix(10) {
                for field in [level.price, level.volume] {
                    let digits = field.utf8.filter { $0 != 46 }
                    text.append(contentsOf: digits.drop { $0 == 48 })
                }
            }
        }
        return CRC32.checksum(text)
    }

    private func krakenSnapshotLevels(_ levels: [SimLevel], _ s: Int, _ nanos: Int64, _ out: inout [UInt8]) {
        out.append(91)
        for (i, level) in levels.enumerated() {
            if i > 0 { out.append(44) }
            out.append(91)
            kprice(level.price, s, &out)
            out.append(44)
            kvol(level.qty, &out)
            out.append(44)
            ktime(nanos, &out)
            out.append(93)
        }
        out.append(93)
    }

    /// Kraken v1 book snapshot sent after a book subscription:
    /// `[channelID,{"as":[[price,volume,time],…],"bs":[…]},"book-25","XBT/USD"]`.
    package func krakenBookSnapshot(model: MarketModel, symbol s: Int, nanos: Int64) -> [UInt8] {
        let book = model.book(s, levels: krakenBookDepth)
        var out: [UInt8] = [91]
        DecimalText.appendInt(Self.krakenChannelID(symbol: s, book: true), to: &out)
        lit(#",{"as":"#, &out)
        krakenSnapshotLevels(book.asks, s, nanos, &out)
        lit(#","bs":"#, &out)
        krakenSnapshotLevels(book.bids, s, nanos, &out)
        lit(#"},"book-"#, &out)
        DecimalText.appendInt(Int64(krakenBookDepth), to: &out)
        lit(#"",""#, &out)
        out.append(contentsOf: names[s])
        lit(#""]"#, &out)
        return out
    }

    // MARK: Coinbase Advanced Trade

    /// Coinbase messages are the longest (about 440 bytes): written through a `RawWriter`.
    private mutating func coinbase(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ out: inout [UInt8]) {
        let name = names[s].count
        let items = kind == .depth ? m.bidChanges.count + m.askChanges.count : m.trades.count
        // Head ≤ 160 bytes; a trade ≤ 190 + name, a level ≤ 150 (40-digit numbers at most).
        writeRaw(bound: 256 + name + items * (200 + name), &out) { e, w in e.coinbaseMessage(kind, s, m, nanos, &w) }
    }

    private mutating func coinbaseMessage(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ w: inout RawWriter) {
        let td = tickDecimals[s]
        switch kind {
        case .trade, .aggTrade:
            w.lit(#"{"channel":"market_trades","client_id":"","timestamp":""#)
            coinbaseHeadTail(nanos, &w)
            w.lit(#"{"type":"update","trades":["#)
            for i in 0..<m.trades.count {
                let trade = m.trades[i]
                if i > 0 { w.byte(44) }
                w.lit(#"{"trade_id":""#)
                w.int(trade.id)
                w.lit(#"","product_id":""#)
                w.bytes(names[s])
                w.lit(#"","price":""#)
                w.decimal(trade.price, scale: 8, digits: td)
                w.lit(#"","size":""#)
                w.decimal(trade.qty, scale: 8, digits: 8, trim: true)
                // The maker's side: a sell-initiated trade filled a resting BUY order.
                if m.buyerIsMaker { w.lit(#"","side":"BUY","time":""#) } else { w.lit(#"","side":"SELL","time":""#) }
                w.stamp(nanos - 200_000, fractionDigits: 6, cache: &stamps)
                w.lit(#""}"#)
            }
            w.lit("]}]}")
        case .depth:
            w.lit(#"{"channel":"l2_data","client_id":"","timestamp":""#)
            coinbaseHeadTail(nanos, &w)
            w.lit(#"{"type":"update","product_id":""#)
            w.bytes(names[s])
            w.lit(#"","updates":["#)
            // Every level of one update carries the same event_time: write it once, copy it.
            var first = true
            var stampStart: UnsafeMutablePointer<UInt8>?
            var stampCount = 0
            let nb = m.bidChanges.count
            for k in 0..<(nb + m.askChanges.count) {
                let bid = k < nb
                let level = bid ? m.bidChanges[k] : m.askChanges[k - nb]
                if !first { w.byte(44) }
                first = false
                if bid { w.lit(#"{"side":"bid","event_time":""#) } else { w.lit(#"{"side":"offer","event_time":""#) }
                if let st = stampStart {
                    w.cursor.update(from: st, count: stampCount)
                    w.cursor += stampCount
                } else {
                    stampStart = w.cursor
                    w.stamp(nanos - 300_000, fractionDigits: 6, cache: &stamps)
                    stampCount = w.cursor - stampStart!
                }
                w.lit(#"","price_level":""#)
                w.decimal(level.price, scale: 8, digits: td)
                w.lit(#"","new_quantity":""#)
                w.decimal(level.qty, scale: 8, digits: 8, trim: true)
                w.lit(#""}"#)
            }
            w.lit("]}]}")
        }
    }

    /// The `l2_data` snapshot Coinbase sends first after a `level2` subscription: the whole book
    /// of `symbol` now, bids high to low then offers low to high, each level with the
    /// `event_time` the venue gives snapshot levels (`1970-01-01T00:00:00Z`):
    /// `{"channel":"l2_data","client_id":"","timestamp":"…","sequence_num":N,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[…]}]}`.
    package func coinbaseBookSnapshot(model: MarketModel, symbol s: Int, nanos: Int64, sequence: Int64) -> [UInt8] {
        let book = model.book(s, levels: nil)
        let td = tickDecimals[s]
        var out: [UInt8] = []
        out.reserveCapacity(200 + 110 * (book.bids.count + book.asks.count))
        lit(#"{"channel":"l2_data","client_id":"","timestamp":""#, &out)
        StampText.appendRFC3339(nanos: nanos, to: &out)
        lit(#"","sequence_num":"#, &out)
        DecimalText.appendInt(sequence, to: &out)
        lit(#","events":[{"type":"snapshot","product_id":""#, &out)
        out.append(contentsOf: names[s])
        lit(#"","updates":["#, &out)
        var first = true
        for (side, levels) in [("bid", book.bids), ("offer", book.asks)] {
            for level in levels {
                if !first { out.append(44) }
                first = false
                out.append(contentsOf: #"{"side":"\#(side)","event_time":"1970-01-01T00:00:00Z","price_level":""#.utf8)
                DecimalText.append(level.price, scale: 8, digits: td, to: &out)
                lit(#"","new_quantity":""#, &out)
                DecimalText.append(level.qty, scale: 8, digits: 8, trim: true, to: &out)
                lit(#""}"#, &out)
            }
        }
        lit("]}]}", &out)
        return out
    }

    /// `<timestamp>","sequence_num":N,"events":[` after the channel head.
    @inline(__always)
    private mutating func coinbaseHeadTail(_ nanos: Int64, _ w: inout RawWriter) {
        w.stamp(nanos, fractionDigits: 9, cache: &stamps)
        w.lit(#"","sequence_num":"#)
        w.int(coinbaseSequence)
        coinbaseSequence += 1
        w.lit(#","events":["#)
    }
}
