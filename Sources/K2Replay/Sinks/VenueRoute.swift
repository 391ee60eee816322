import K2Capture

/// Subscription keys of the `ws://` replay sink: a replayed message and a client subscription
/// meet on one string per venue, so routing is a set lookup.
///
/// - Binance: the stream name, lower-cased, without the update speed: `btcusdt@trade`,
///   `btcusdt@aggtrade`, `btcusdt@depth` (`@depth@100ms` and `@depth` are one key).
/// - Kraken v1: `channel|PAIR` with the channel name before any `-`: `trade|XBT/USD`, `book|XBT/USD`.
/// - Coinbase Advanced Trade: `channel|PRODUCT` with the subscribe name: `market_trades|BTC-USD`,
///   `level2|BTC-USD` (the venue sends level2 as `l2_data`).
/// - Anything else with a symbol (e.g. the Coinbase Exchange feed): `*|SYMBOL`, which a
///   subscription that names products but no channel (`"channels":[…]`) matches.
enum VenueRoute {
    /// Where a replayed message goes, or nil for the venue's own control frames (Kraken events,
    /// Coinbase `heartbeats`/`subscriptions`), which the sink answers itself instead of replaying.
    static func key(_ payload: UnsafeRawBufferPointer, fields: PayloadFields) -> String? {
        let first = payload.firstIndex { $0 != 32 && $0 != 10 && $0 != 13 && $0 != 9 }
        if let first, payload[first] == 91 {  // '[': Kraken v1 data
            guard let channel = fields.streamString, let pair = fields.symbolString else { return nil }
            return krakenKey(channel: channel, pair: pair)
        }
        if let stream = fields.streamString, isBinanceStream(stream) { return binanceKey(stream) }
        if let channel = fields.streamString {  // Coinbase (`"channel":`)
            if channel == "heartbeats" || channel == "subscriptions" { return nil }
            guard let product = fields.symbolString else { return nil }
            return coinbaseKey(channel: channel == "l2_data" ? "level2" : channel, product: product)
        }
        if let event = fields.eventString, let symbol = fields.symbolString {  // Binance raw payload
            switch event {
            case "trade": return binanceKey("\(symbol)@trade")
            case "aggTrade": return binanceKey("\(symbol)@aggTrade")
            case "depthUpdate": return binanceKey("\(symbol)@depth")
            case "24hrTicker": return binanceKey("\(symbol)@ticker")
            default: break
            }
        }
        if fields.symbol == nil, fields.event != nil { return nil }  // `{"event":"heartbeat"}`, …
        return fields.symbolString.map { "*|\($0.uppercased())" }
    }

    /// A Binance stream name has `@` between symbol and kind.
    static func isBinanceStream(_ name: String) -> Bool { name.contains("@") }

    static func binanceKey(_ stream: String) -> String {
        var key = stream.lowercased()
        for speed in ["@100ms", "@1000ms"] where key.hasSuffix(speed) { key.removeLast(speed.count) }
        return key
    }

    static func krakenKey(channel: String, pair: String) -> String {
        "\(channel.split(separator: "-").first.map(String.init) ?? channel)|\(pair.uppercased())"
    }

    static func coinbaseKey(channel: String, product: String) -> String { "\(channel)|\(product.uppercased())" }
}
