import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one market event is.
package enum MarketEventKind: UInt8, Sendable {
    /// One trade (Binance `trade`).
    case trade
    /// Several fills of one taker order at one price (Binance `aggTrade`; Kraken and Coinbase
    /// send them as one message with several trades).
    case aggTrade
    /// Order-book changes (Binance `depthUpdate`, Kraken `book`, Coinbase `l2_data`).
    case depth
}

/// Parameters of the synthetic market. Defaults give a plausible crypto spot market.
package struct MarketConfig: Sendable, Equatable {
    /// Number of symbols.
    package var symbols: Int = 200
    /// Zipf exponent of symbol activity (rank k gets weight 1/k^s).
    package var zipfExponent: Double = 1.0
    /// Price levels kept per book side.
    package var bookDepth: Int = 20
    /// Distance between book levels relative to price (0.00002 = 0.2 bp).
    var levelSpacing: Double = 0.00002
    /// Standard deviation of the log price change per depth event.
    var volatility: Double = 0.00002
    /// Log-normal trade notional in quote currency: median and sigma of its log.
    var tradeNotionalMedian: Double = 200
    var tradeNotionalSigma: Double = 1.5
    /// Log-normal book level notional: median and sigma of its log.
    var levelNotionalMedian: Double = 5_000
    var levelNotionalSigma: Double = 1.0
    /// Event mix: relative weights of trade, aggTrade and depth events.
    var tradeWeight: Double = 0.4
    package var aggTradeWeight: Double = 0.2
    var depthWeight: Double = 0.4
    /// Most fills in one aggTrade / multi-trade message.
    package var maxFills: Int = 3
    /// Most level changes (besides price moves) in one depth event.
    var maxLevelChanges: Int = 3

    package init() {}
}

/// A trade produced by the model (prices and quantities in units of 1e-8).
package struct SimTrade: Sendable, Equatable {
    var id: Int64
    var price: Int64
    var qty: Int64
}

/// A book level change: the new quantity at a price (0 removes the level).
package struct SimLevel: Sendable, Equatable {
    var price: Int64
    var qty: Int64
}

/// The synthetic market: per-symbol books and trade ids, a geometric random walk of prices,
/// log-normal sizes, Zipf symbol activity. Deterministic: the same seed and the same calls give
/// the same events. Generating an event allocates nothing: its trades and level changes are in
/// the model's scratch arrays (`trades`, `bidChanges`, `askChanges`) until the next event.
package struct MarketModel: Sendable {
    package let config: MarketConfig
    package let universe: SymbolUniverse
    package var rng: SplitMix64
    private var gauss = Gaussian()
    private let picker: AliasSampler
    private let depthN: Int

    // Per-symbol state, flat arrays.
    private var bestBid: [Int64]
    private var step: [Int64]
    private var bidQty: [Int64]  // [symbol * depth + i] at bestBid - i*step
    private var askQty: [Int64]  // [symbol * depth + i] at bestBid + (i+1)*step
    private var nextTradeId: [Int64]
    private var nextAggId: [Int64]
    private var lastUpdate: [Int64]
    private var lot: [Int64]

    /// Log price drift per second divided by the market's depth-event rate (events/s), set by
    /// the load timeline during a flash crash. A symbol's depth event moves its price by
    /// `drift / weight` so that every symbol drifts by the same amount per second.
    package var drift = 0.0
    /// Multiplier of `volatility` (flash crashes raise it).
    var volatilityScale = 1.0

    // The current event's data.
    package private(set) var trades: [SimTrade] = []
    package private(set) var bidChanges: [SimLevel] = []
    package private(set) var askChanges: [SimLevel] = []
    /// `U` and `u` of the last depth event.
    package private(set) var firstUpdateId: Int64 = 0
    package private(set) var finalUpdateId: Int64 = 0
    /// True when the buyer was the maker (a sell-initiated trade).
    package private(set) var buyerIsMaker = false
    private(set) var aggId: Int64 = 0

    private let kindCut1: Double
    private let kindCut2: Double

    package init(config: MarketConfig = MarketConfig(), seed: UInt64) {
        self.config = config
        universe = SymbolUniverse(count: config.symbols, zipfExponent: config.zipfExponent, seed: seed)
        rng = SplitMix64(seed: seed)
        picker = AliasSampler(weights: universe.symbols.map(\.weight))
        depthN = max(2, config.bookDepth)
        let symbolTotal = universe.count
        bestBid = Array(repeating: 0, count: symbolTotal)
        step = Array(repeating: 0, count: symbolTotal)
        bidQty = Array(repeating: 0, count: symbolTotal * depthN)
        askQty = Array(repeating: 0, count: symbolTotal * depthN)
        lot = Array(repeating: 1, count: symbolTotal)
        var idRng = SplitMix64(seed: seed ^ 0x1D5)
        nextTradeId = (0..<symbolTotal).map { _ in Int64(1_000_000 + idRng.next() % 3_000_000_000) }
        nextAggId = (0..<symbolTotal).map { _ in Int64(100_000 + idRng.next() % 1_000_000_000) }
        lastUpdate = (0..<symbolTotal).map { _ in Int64(10_000_000 + idRng.next() % 50_000_000_000) }
        let total = config.tradeWeight + config.aggTradeWeight + config.depthWeight
        kindCut1 = total > 0 ? config.tradeWeight / total : 1
        kindCut2 = total > 0 ? (config.tradeWeight + config.aggTradeWeight) / total : 1
        trades.reserveCapacity(max(1, config.maxFills))
        bidChanges.reserveCapacity(2 * depthN + config.maxLevelChanges + 2)
        askChanges.reserveCapacity(2 * depthN + config.maxLevelChanges + 2)
        for s in 0..<symbolTotal {
            let sym = universe[s]
            let initialPrice = sym.initialPrice
            var st = Int64(Double(initialPrice) * config.levelSpacing) / sym.tick * sym.tick
            if st < sym.tick { st = sym.tick }
            step[s] = st
            bestBid[s] = initialPrice / st * st
            let priceUnits = Double(initialPrice) / Double(SymbolUniverse.unit)
            let mag = Int(floor(log10(priceUnits)))
            let qtyDecimals = min(8, max(0, mag + 1))
            lot[s] = DecimalText.pow10[8 - qtyDecimals]
            for i in 0..<depthN {
                bidQty[s * depthN + i] = levelQty(s)
                askQty[s * depthN + i] = levelQty(s)
            }
        }
    }

    package var symbolCount: Int { universe.count }
    package var bookDepth: Int { depthN }

    /// Draws the symbol of the next event (Zipf by rank).
    @inline(__always)
    package mutating func pickSymbol() -> Int { picker.sample(&rng) }

    /// Draws the kind of the next event from the configured mix.
    @inline(__always)
    package mutating func pickKind() -> MarketEventKind {
        let draw = rng.nextDouble()
        return draw < kindCut1 ? .trade : draw < kindCut2 ? .aggTrade : .depth
    }

    /// Generates one event of `kind` for `symbol`; its data is in `trades` or
    /// `bidChanges`/`askChanges` + `firstUpdateId`/`finalUpdateId`.
    package mutating func generate(_ kind: MarketEventKind, symbol s: Int) {
        switch kind {
        case .trade: makeTrades(s, fills: 1)
        case .aggTrade: makeTrades(s, fills: 1 + Int(rng.next() % UInt64(max(1, config.maxFills))))
        case .depth: makeDepth(s)
        }
    }

    /// Best bid and best ask of `symbol` now.
    package func bestPrices(_ s: Int) -> (bid: Int64, ask: Int64) { (bestBid[s], bestBid[s] + step[s]) }

    /// The `lastUpdateId` a REST snapshot taken now would carry.
    package func lastUpdateId(_ s: Int) -> Int64 { lastUpdate[s] }

    /// Price and quantity of the `i`-th best bid (`bid: true`) or ask of `symbol` now (i < `bookDepth`);
    /// no allocation (the Kraken checksum walks the top 10 per update).
    @inline(__always)
    package func level(_ s: Int, bid: Bool, _ i: Int) -> SimLevel {
        bid
            ? SimLevel(price: bestBid[s] - Int64(i) * step[s], qty: bidQty[s * depthN + i])
            : SimLevel(price: bestBid[s] + Int64(i + 1) * step[s], qty: askQty[s * depthN + i])
    }

    /// Distance between the price levels of `symbol` (1e-8 units); every book price is a multiple.
    @inline(__always)
    func levelStep(_ s: Int) -> Int64 { step[s] }

    /// The book of `symbol` now: bids best first, asks best first, and its last update id.
    /// Applying later depth events (those with `u` > `lastUpdateId`) to it gives the live book.
    package func book(_ s: Int, levels: Int? = nil) -> (lastUpdateId: Int64, bids: [SimLevel], asks: [SimLevel]) {
        let depth = min(levels ?? depthN, depthN)
        var bids: [SimLevel] = []
        var asks: [SimLevel] = []
        for i in 0..<depth {
            let bq = bidQty[s * depthN + i]
            if bq > 0 { bids.append(SimLevel(price: bestBid[s] - Int64(i) * step[s], qty: bq)) }
            let aq = askQty[s * depthN + i]
            if aq > 0 { asks.append(SimLevel(price: bestBid[s] + Int64(i + 1) * step[s], qty: aq)) }
        }
        return (lastUpdate[s], bids, asks)
    }

    // MARK: - Internals

    @inline(__always)
    private mutating func lognormal(median: Double, sigma: Double) -> Double {
        median * exp(sigma * gauss.next(&rng))
    }

    private mutating func levelQty(_ s: Int) -> Int64 {
        let notional = lognormal(median: config.levelNotionalMedian, sigma: config.levelNotionalSigma)
        return quantity(notional: notional, s)
    }

    @inline(__always)
    private func quantity(notional: Double, _ s: Int) -> Int64 {
        let price = Double(bestBid[s] + step[s]) / Double(SymbolUniverse.unit)
        let rawQty = notional / price * Double(SymbolUniverse.unit)
        let lotSize = lot[s]
        let clampedQty = rawQty >= 9.0e17 ? Int64(9.0e17) : Int64(rawQty)
        return max(lotSize, clampedQty / lotSize * lotSize)
    }

    private mutating func makeTrades(_ s: Int, fills: Int) {
        trades.removeAll(keepingCapacity: true)
        buyerIsMaker = rng.next() & 1 == 1
        // Sell-initiated (buyer is maker) trades hit the best bid, buy-initiated lift the best ask.
        let price = buyerIsMaker ? bestBid[s] : bestBid[s] + step[s]
        aggId = nextAggId[s]
        nextAggId[s] += 1
        for _ in 0..<fills {
            let notional = lognormal(median: config.tradeNotionalMedian, sigma: config.tradeNotionalSigma)
            trades.append(SimTrade(id: nextTradeId[s], price: price, qty: quantity(notional: notional, s)))
            nextTradeId[s] += 1
        }
    }

    private mutating func makeDepth(_ s: Int) {
        bidChanges.removeAll(keepingCapacity: true)
        askChanges.removeAll(keepingCapacity: true)
        let base = s * depthN
        let st = step[s]
        let mid = Double(bestBid[s]) + Double(st) / 2
        // Geometric random walk on the level grid.
        let symbolDrift = drift == 0 ? 0 : drift / universe.symbols[s].weight
        let logMove = max(-0.5, min(0.5, symbolDrift)) + config.volatility * volatilityScale * gauss.next(&rng)
        var moveSteps = Int((mid * logMove / Double(st)).rounded())
        // Keep the lowest bid above zero.
        let floorSteps = Int((bestBid[s] / st)) - depthN - 1
        if moveSteps < -floorSteps { moveSteps = min(0, -floorSteps) }
        let old = bestBid[s]
        if moveSteps >= depthN || moveSteps <= -depthN {
            // The whole kept book moves: every old level goes, a fresh book appears.
            for i in 0..<depthN {
                bidChanges.append(SimLevel(price: old - Int64(i) * st, qty: 0))
                askChanges.append(SimLevel(price: old + Int64(i + 1) * st, qty: 0))
            }
            bestBid[s] = old + Int64(moveSteps) * st
            for i in 0..<depthN {
                let bq = levelQty(s)
                let aq = levelQty(s)
                bidQty[base + i] = bq
                askQty[base + i] = aq
                let bp = bestBid[s] - Int64(i) * st
                let ap = bestBid[s] + Int64(i + 1) * st
                if let changeIndex = bidChanges.firstIndex(where: { $0.price == bp }) {
                    bidChanges[changeIndex].qty = bq
                } else {
                    bidChanges.append(SimLevel(price: bp, qty: bq))
                }
                if let changeIndex = askChanges.firstIndex(where: { $0.price == ap }) {
                    askChanges[changeIndex].qty = aq
                } else {
                    askChanges.append(SimLevel(price: ap, qty: aq))
                }
            }
            // A price that was a bid and is now an ask (or the reverse) must not stay on the old side.
            for i in bidChanges.indices where bidChanges[i].qty > 0 && bidChanges[i].price > bestBid[s] { bidChanges[i].qty = 0 }
            for i in askChanges.indices where askChanges[i].qty > 0 && askChanges[i].price <= bestBid[s] { askChanges[i].qty = 0 }
        } else if moveSteps > 0 {
            // Asks at the moveSteps lowest levels go; their prices become bids.
            for i in 0..<moveSteps { askChanges.append(SimLevel(price: old + Int64(i + 1) * st, qty: 0)) }
            // Far bids fall out of the kept depth.
            for i in (depthN - moveSteps)..<depthN { bidChanges.append(SimLevel(price: old - Int64(i) * st, qty: 0)) }
            for i in stride(from: depthN - 1, through: moveSteps, by: -1) { bidQty[base + i] = bidQty[base + i - moveSteps] }
            for i in 0..<(depthN - moveSteps) { askQty[base + i] = askQty[base + i + moveSteps] }
            bestBid[s] = old + Int64(moveSteps) * st
            for i in 0..<moveSteps {
                let qty = levelQty(s)
                bidQty[base + i] = qty
                bidChanges.append(SimLevel(price: bestBid[s] - Int64(i) * st, qty: qty))
            }
            for i in (depthN - moveSteps)..<depthN {
                let qty = levelQty(s)
                askQty[base + i] = qty
                askChanges.append(SimLevel(price: bestBid[s] + Int64(i + 1) * st, qty: qty))
            }
        } else if moveSteps < 0 {
            let downSteps = -moveSteps
            // Bids at the downSteps highest levels go; their prices become asks.
            for i in 0..<downSteps { bidChanges.append(SimLevel(price: old - Int64(i) * st, qty: 0)) }
            for i in (depthN - downSteps)..<depthN { askChanges.append(SimLevel(price: old + Int64(i + 1) * st, qty: 0)) }
            for i in 0..<(depthN - downSteps) { bidQty[base + i] = bidQty[base + i + downSteps] }
            for i in stride(from: depthN - 1, through: downSteps, by: -1) { askQty[base + i] = askQty[base + i - downSteps] }
            bestBid[s] = old - Int64(downSteps) * st
            for i in 0..<downSteps {
                let qty = levelQty(s)
                askQty[base + i] = qty
                askChanges.append(SimLevel(price: bestBid[s] + Int64(i + 1) * st, qty: qty))
            }
            for i in (depthN - downSteps)..<depthN {
                let qty = levelQty(s)
                bidQty[base + i] = qty
                bidChanges.append(SimLevel(price: bestBid[s] - Int64(i) * st, qty: qty))
            }
        }
        // A few quantity changes at levels the move did not touch.
        let changes = 1 + Int(rng.next() % UInt64(max(1, config.maxLevelChanges)))
        for _ in 0..<changes {
            let bits = rng.next()
            let isBid = bits & 1 == 0
            let levelIndex = Int((bits >> 8) % UInt64(depthN))
            let qty = levelQty(s)
            if isBid {
                let price = bestBid[s] - Int64(levelIndex) * st
                if bidChanges.contains(where: { $0.price == price }) { continue }
                bidQty[base + levelIndex] = qty
                bidChanges.append(SimLevel(price: price, qty: qty))
            } else {
                let price = bestBid[s] + Int64(levelIndex + 1) * st
                if askChanges.contains(where: { $0.price == price }) { continue }
                askQty[base + levelIndex] = qty
                askChanges.append(SimLevel(price: price, qty: qty))
            }
        }
        if bidChanges.isEmpty && askChanges.isEmpty {
            let qty = levelQty(s)
            bidQty[base] = qty
            bidChanges.append(SimLevel(price: bestBid[s], qty: qty))
        }
        firstUpdateId = lastUpdate[s] + 1
        finalUpdateId = lastUpdate[s] + Int64(bidChanges.count + askChanges.count)
        lastUpdate[s] = finalUpdateId
    }
}
