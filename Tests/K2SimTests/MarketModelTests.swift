import Foundation
import K2Core
import Testing

@testable import K2Sim

@Suite struct DecimalTextTests {
    @Test func fixedDecimalsPadTruncateAndTrim() {
        #expect(DecimalText.string(123_450_000, scale: 8, digits: 8) == "1.23450000")
        #expect(DecimalText.string(123_450_000, scale: 8, digits: 2) == "1.23")
        #expect(DecimalText.string(123_450_000, scale: 8, digits: 8, trim: true) == "1.2345")
        #expect(DecimalText.string(6_400_000_000_000, scale: 8, digits: 8, trim: true) == "64000")
        #expect(DecimalText.string(1, scale: 8, digits: 8) == "0.00000001")
        #expect(DecimalText.string(0, scale: 8, digits: 8) == "0.00000000")
        #expect(DecimalText.string(-150, scale: 2, digits: 3) == "-1.500")
        #expect(DecimalText.string(5, scale: 0, digits: 0) == "5")
        var out: [UInt8] = []
        DecimalText.appendUInt(18_446_744_073_709_551_615, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "18446744073709551615")
    }

    @Test func rfc3339LikeGoNano() {
        #expect(StampText.rfc3339(nanos: 1_675_973_975_396_251_350) == "2023-02-09T20:19:35.39625135Z")
        #expect(StampText.rfc3339(nanos: 0) == "1970-01-01T00:00:00Z")
        #expect(StampText.rfc3339(nanos: 1_565_815_347_265_000_000, fractionDigits: 6) == "2019-08-14T20:42:27.265Z")
        #expect(StampText.rfc3339(nanos: 1_709_251_200_000_000_001) == "2024-03-01T00:00:00.000000001Z")
    }
}

@Suite struct SymbolUniverseTests {
    @Test func tiersFollowRanks() {
        let universe = SymbolUniverse(count: 200)
        #expect(universe.count == 200)
        #expect(universe.symbols.filter { $0.tier == 1 }.count == 20)
        #expect(universe.symbols.filter { $0.tier == 2 }.count == 80)
        #expect(universe.symbols.filter { $0.tier == 3 }.count == 100)
        #expect(universe[0].binanceName == "BTCUSDT" && universe[0].krakenName == "XBT/USD" && universe[0].coinbaseName == "BTC-USD")
        #expect(Set(universe.symbols.map(\.base)).count == 200)
        // Zipf weights: w_k ∝ 1/k
        #expect(abs(universe[0].weight / universe[9].weight - 10) < 1e-9)
        #expect(abs(universe.symbols.reduce(0) { $0 + $1.weight } - 1) < 1e-9)
    }

    @Test func pricesSitOnTheTickGrid() {
        let universe = SymbolUniverse(count: 200, seed: 9)
        for symbol in universe.symbols {
            #expect(symbol.initialPrice % symbol.tick == 0)
            #expect(symbol.initialPrice > 0)
        }
    }

    @Test func zipfSamplingMatchesTheWeights() {
        let initial = MarketModel(config: MarketConfig(), seed: 42)
        var model = initial
        let draws = 200_000
        var counts = [Int](repeating: 0, count: model.symbolCount)
        for _ in 0..<draws { counts[model.pickSymbol()] += 1 }
        // Each count is binomial(n, p): within 5 standard deviations.
        for k in [0, 1, 4, 19, 99, 199] {
            let weight = model.universe[k].weight
            let sd = (Double(draws) * weight * (1 - weight)).squareRoot()
            #expect(abs(Double(counts[k]) - Double(draws) * weight) < 5 * sd + 1, "rank \(k + 1): \(counts[k]) vs \(Double(draws) * weight)")
        }
        // Ranks are ordered in expectation: the busiest symbol beats rank 10 by far.
        #expect(counts[0] > counts[9] * 5)
        let tier1 = counts[0..<20].reduce(0, +)
        let expected1 = model.universe.symbols[0..<20].reduce(0) { $0 + $1.weight } * Double(draws)
        #expect(abs(Double(tier1) - expected1) < 5 * expected1.squareRoot())
    }
}

@Suite struct OrderBookTests {
    /// Binance's rule: each depth event's U is the previous u + 1, per symbol.
    @Test func updateIdsAreContinuousPerSymbol() {
        var model = MarketModel(config: MarketConfig(), seed: 7)
        var last = [Int64?](repeating: nil, count: model.symbolCount)
        for _ in 0..<50_000 {
            let symbol = model.pickSymbol()
            model.generate(.depth, symbol: symbol)
            #expect(model.finalUpdateId >= model.firstUpdateId)
            if let previous = last[symbol] { #expect(model.firstUpdateId == previous + 1) }
            last[symbol] = model.finalUpdateId
            #expect(model.lastUpdateId(symbol) == model.finalUpdateId)
        }
    }

    /// A snapshot plus the later updates gives the live book (the client's sync algorithm).
    @Test func snapshotPlusUpdatesEqualsTheBook() {
        var model = MarketModel(config: MarketConfig(), seed: 11)
        for _ in 0..<5_000 { let symbol = model.pickSymbol(); model.generate(model.pickKind(), symbol: symbol) }
        let snap = model.book(0)
        var bids: [Int64: Int64] = [:]
        var asks: [Int64: Int64] = [:]
        for l in snap.bids { bids[l.price] = l.qty }
        for l in snap.asks { asks[l.price] = l.qty }
        var expectU = snap.lastUpdateId + 1
        for _ in 0..<3_000 {
            model.generate(.depth, symbol: 0)
            #expect(model.firstUpdateId == expectU)
            expectU = model.finalUpdateId + 1
            for l in model.bidChanges { bids[l.price] = l.qty == 0 ? nil : l.qty }
            for l in model.askChanges { asks[l.price] = l.qty == 0 ? nil : l.qty }
        }
        let now = model.book(0)
        #expect(bids == Dictionary(uniqueKeysWithValues: now.bids.map { ($0.price, $0.qty) }))
        #expect(asks == Dictionary(uniqueKeysWithValues: now.asks.map { ($0.price, $0.qty) }))
        #expect(now.bids.first!.price < now.asks.first!.price)
    }

    @Test func tradesHitTheTopOfBookAndIdsIncrease() {
        var model = MarketModel(config: MarketConfig(), seed: 3)
        var lastId: Int64 = 0
        var makers = 0
        for i in 0..<20_000 {
            model.generate(i % 3 == 0 ? .aggTrade : .trade, symbol: 0)
            let (bid, ask) = model.bestPrices(0)
            for trade in model.trades {
                #expect(trade.id > lastId)
                lastId = trade.id
                #expect(trade.price == (model.buyerIsMaker ? bid : ask))
                #expect(trade.qty > 0)
            }
            if model.buyerIsMaker { makers += 1 }
        }
        // Side is a fair coin: within 5 sd of 10,000.
        #expect(abs(makers - 10_000) < 5 * 71)
    }

    @Test func tradeSizesAreLogNormal() {
        var model = MarketModel(config: MarketConfig(), seed: 5)
        var logs: [Double] = []
        let price = Double(model.bestPrices(0).ask) / 1e8
        for _ in 0..<20_000 {
            model.generate(.trade, symbol: 0)
            logs.append(log(Double(model.trades[0].qty) / 1e8 * price))
        }
        let mean = logs.reduce(0, +) / Double(logs.count)
        let sd = (logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(logs.count)).squareRoot()
        // median notional 200 → mean log ≈ ln 200 (lot rounding trims a little); sigma 1.5
        #expect(abs(mean - log(200.0)) < 0.1, "mean log \(mean)")
        #expect(abs(sd - 1.5) < 0.1, "sd \(sd)")
    }
}

@Suite struct BinanceFanoutTests {
    /// With `binanceTradeFanout` (the exchange simulator's Binance feed) `t` and `a` are
    /// continuous per symbol, and each aggTrade's `f`..`l` are the trade ids just sent.
    @Test func tradeAndAggTradeIdsAreContinuousPerSymbol() throws {
        var profile = SimProfile.constant(rate: 50_000, duration: 1_000_000_000, venue: .binance, seed: 3)
        profile.market.symbols = 10
        var feed = LiveFeed(profile: profile, venue: .binance)
        feed.binanceTradeFanout = true
        feed.binanceCombined = false
        var lastT = [Int64?](repeating: nil, count: 10)
        var lastA = [Int64?](repeating: nil, count: 10)
        var pendingFills: [Int: [Int64]] = [:]
        var buf: [UInt8] = []
        var aggs = 0
        while let event = feed.next(into: &buf) {
            defer { buf.removeAll(keepingCapacity: true) }
            let message = try JSONParser.parse(buf)
            switch event.kind {
            case .trade:
                let tradeID = message["t"]!.int64Value!
                if let previous = lastT[event.symbol] { #expect(tradeID == previous + 1) }
                lastT[event.symbol] = tradeID
                pendingFills[event.symbol, default: []].append(tradeID)
            case .aggTrade:
                let aggID = message["a"]!.int64Value!
                if let previous = lastA[event.symbol] { #expect(aggID == previous + 1) }
                lastA[event.symbol] = aggID
                let firstID = message["f"]!.int64Value!, lastID = message["l"]!.int64Value!
                #expect(pendingFills[event.symbol] == Array(firstID...lastID))
                pendingFills[event.symbol] = nil
                aggs += 1
            default:
                break
            }
        }
        #expect(aggs > 10_000)
    }
}
