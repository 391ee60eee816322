/// The kind of a message the simulator sends.
package enum MessageKind: UInt8, Sendable, Equatable {
    /// Binance `trade`; Kraken `trade` (one fill); Coinbase `market_trades` (one trade).
    case trade
    /// Binance `aggTrade`; Kraken `trade` / Coinbase `market_trades` with several fills.
    case aggTrade
    /// Binance `depthUpdate`; Kraken `book` update; Coinbase `l2_data` update.
    case depth
    /// Kraken `{"event":"heartbeat"}`, Coinbase `heartbeats`.
    case heartbeat
    /// Subscription acks and status messages.
    case control
    /// Binance `bookTicker` (best bid and ask, after each book update of the symbol); Kraken and
    /// Coinbase `ticker` (after each trade event of the symbol).
    case ticker
    /// Binance `kline_1m`, Coinbase `candles`: the symbol's current candle, after a trade event
    /// at most every 2 s (Binance) or 1 s (Coinbase), and Binance's closed kline (`"x":true`)
    /// when a trade starts the next minute.
    case candle
}
