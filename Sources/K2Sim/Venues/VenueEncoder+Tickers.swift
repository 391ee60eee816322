import K2Capture
import K2Core

/// The venues' ticker and candle messages (Binance `bookTicker` and `kline_1m`, Kraken v1
/// `ticker`, Coinbase `ticker` and `candles`), from the model's book and the feed's statistics.
extension VenueEncoder {
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
}
