/// One symbol's current candle: the trades of a fixed bucket of wall time, for the venues'
/// candle messages (Binance `kline_1m`: one-minute buckets; Coinbase Advanced Trade `candles`:
/// five-minute buckets). Buckets are aligned to the epoch, as the venues' are. Prices and
/// quantities are 1e-8 mantissas, like the model's.
package struct CandleStats: Sendable, Equatable {
    package let bucketNanos: Int64
    /// Start of the bucket, ns since the epoch; nil before the first trade.
    package private(set) var start: Int64?
    package private(set) var open: Int64 = 0
    package private(set) var high: Int64 = 0
    package private(set) var low: Int64 = 0
    package private(set) var close: Int64 = 0
    /// Base volume, and quote volume Σ price × quantity (a 1e-8 mantissa).
    package private(set) var volume: Int64 = 0
    package private(set) var quoteVolume: Int64 = 0
    /// The part of the volumes whose taker bought (Binance `V`, `Q`).
    package private(set) var takerBuyVolume: Int64 = 0
    package private(set) var takerBuyQuoteVolume: Int64 = 0
    package private(set) var firstTradeID: Int64 = 0
    package private(set) var lastTradeID: Int64 = 0
    package private(set) var trades: Int64 = 0

    package init(bucketNanos: Int64) { self.bucketNanos = bucketNanos }

    /// Adds the fills of one trade event at `nanos` (wall time). When the event falls in a later
    /// bucket, the candle starts over and the finished one is returned.
    package mutating func add(_ fills: [SimTrade], takerBought: Bool, nanos: Int64) -> CandleStats? {
        guard let first = fills.first else { return nil }
        let bucket = nanos - ((nanos % bucketNanos) + bucketNanos) % bucketNanos
        var finished: CandleStats?
        if start != bucket {
            if start != nil { finished = self }
            self = CandleStats(bucketNanos: bucketNanos)
            start = bucket
            open = first.price
            high = first.price
            low = first.price
            firstTradeID = first.id
        }
        for fill in fills {
            high = max(high, fill.price)
            low = min(low, fill.price)
            close = fill.price
            lastTradeID = fill.id
            let (highPart, lowPart) = fill.price.multipliedFullWidth(by: fill.qty)
            let quote = Int64(100_000_000).dividingFullWidth((highPart, lowPart)).quotient
            volume &+= fill.qty
            quoteVolume &+= quote
            if takerBought {
                takerBuyVolume &+= fill.qty
                takerBuyQuoteVolume &+= quote
            }
            trades += 1
        }
        return finished
    }
}
