/// Trading statistics of one symbol since the feed started, for the venues' ticker messages
/// (Kraken `ticker`, Coinbase `ticker`): the simulator's "today", "24 hours" and "52 weeks" are
/// the feed's run so far. Prices and quantities are 1e-8 mantissas, like the model's.
package struct TickerStats: Sendable, Equatable {
    var open: Int64 = 0
    var high: Int64 = 0
    var low: Int64 = 0
    var last: Int64 = 0
    var lastQuantity: Int64 = 0
    var volume: Int64 = 0
    /// Σ price × quantity in units (for the volume-weighted average price).
    var notional: Double = 0
    var trades: Int64 = 0

    init() {}

    /// Adds the fills of one trade event.
    mutating func add(_ fills: [SimTrade]) {
        for fill in fills {
            if trades == 0 { open = fill.price; high = fill.price; low = fill.price }
            high = max(high, fill.price)
            low = min(low, fill.price)
            last = fill.price
            lastQuantity = fill.qty
            volume &+= fill.qty
            notional += Double(fill.price) / 1e8 * Double(fill.qty) / 1e8
            trades += 1
        }
    }

    /// Volume-weighted average price (mantissa); the last price before any volume.
    var vwap: Int64 {
        guard volume > 0 else { return last }
        return Int64((notional / (Double(volume) / 1e8) * 1e8).rounded())
    }

    /// Change from `open` to `last` in percent, as a mantissa with 8 decimals.
    var percentChange: Int64 {
        guard open > 0 else { return 0 }
        return Int64((Double(last - open) / Double(open) * 100 * 1e8).rounded())
    }
}
