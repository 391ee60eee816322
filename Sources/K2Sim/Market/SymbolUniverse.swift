import K2Capture
import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One listed instrument of the synthetic market.
package struct SimSymbol: Sendable, Equatable {
    /// Activity rank, 1 = busiest.
    var rank: Int
    /// Platform tier: 1 = top 20, 2 = top 100, 3 = the rest.
    var tier: Int
    /// Base asset (`BTC`).
    var base: String
    /// Price step in units of 1e-8.
    var tick: Int64
    /// Decimal places of `tick` (0…8): the venue's price precision.
    var tickDecimals: Int
    /// Starting price in units of 1e-8, a multiple of `tick`.
    var initialPrice: Int64
    /// Relative activity (Zipf weight), the probability that an event is for this symbol.
    var weight: Double

    /// `BTCUSDT`
    var binanceName: String { base + "USDT" }
    /// `btcusdt`, as in stream names.
    var binanceStream: String { binanceName.lowercased() }
    /// `XBT/USD` (Kraken calls bitcoin XBT and dogecoin XDG in v1).
    var krakenName: String { (base == "BTC" ? "XBT" : base == "DOGE" ? "XDG" : base) + "/USD" }
    /// `BTC-USD`
    var coinbaseName: String { base + "-USD" }

    func name(for venue: Venue) -> String {
        switch venue {
        case .binance: return binanceName
        case .kraken: return krakenName
        case .coinbase: return coinbaseName
        }
    }
}

/// The symbols of a synthetic market: ranks, Zipf activity, tiers, tick sizes, start prices.
/// Built deterministically from a seed.
package struct SymbolUniverse: Sendable {
    package static let scale = 8
    package static let unit: Int64 = 100_000_000

    package let symbols: [SimSymbol]
    package let zipfExponent: Double

    /// Well-known bases with rough prices, used for the top ranks; the rest get generated names
    /// (`QAA`, `QAB`, …) and log-uniform prices.
    static let known: [(String, Double)] = [
        ("BTC", 64_000), ("ETH", 3_100), ("SOL", 145), ("BNB", 580), ("XRP", 0.52), ("DOGE", 0.12),
        ("ADA", 0.45), ("TRX", 0.12), ("AVAX", 28), ("LINK", 14), ("DOT", 6.2), ("LTC", 72),
        ("BCH", 390), ("SHIB", 0.000018), ("UNI", 7.5), ("ATOM", 6.8), ("XLM", 0.1), ("ETC", 23),
        ("FIL", 4.5), ("APT", 7.1), ("ARB", 0.75), ("OP", 1.6), ("NEAR", 5.1), ("ICP", 8.9),
        ("INJ", 21), ("SUI", 0.95), ("SEI", 0.35), ("TIA", 6.4), ("PEPE", 0.000011), ("AAVE", 95),
        ("MKR", 2_300), ("RNDR", 6.9), ("GRT", 0.19), ("ALGO", 0.14), ("HBAR", 0.07), ("VET", 0.025),
        ("SAND", 0.3), ("MANA", 0.32), ("AXS", 5.6), ("CRV", 0.3),
    ]

    /// - Parameters:
    ///   - count: number of symbols (≥ 1).
    ///   - zipfExponent: activity of rank k ∝ 1/k^s.
    ///   - seed: prices of generated names come from it.
    package init(count: Int = 200, zipfExponent: Double = 1.0, seed: UInt64 = 1) {
        precondition(count >= 1)
        var rng = SplitMix64(seed: seed ^ 0x5359_4D42_4F4C_5321)
        var weights: [Double] = []
        var total = 0.0
        for k in 1...count {
            let weight = 1.0 / pow(Double(k), zipfExponent)
            weights.append(weight)
            total += weight
        }
        var list: [SimSymbol] = []
        list.reserveCapacity(count)
        for i in 0..<count {
            let rank = i + 1
            let base: String
            let price: Double
            if i < Self.known.count {
                (base, price) = Self.known[i]
            } else {
                let syntheticIndex = i - Self.known.count
                let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
                base =
                    "Q" + String(decoding: [letters[(syntheticIndex / 26) % 26], letters[syntheticIndex % 26]], as: UTF8.self)
                    + (syntheticIndex >= 676 ? String(syntheticIndex / 676) : "")
                // log-uniform in [0.001, 500]
                price = exp(log(0.001) + rng.nextDouble() * (log(500.0) - log(0.001)))
            }
            // About five significant digits of price precision, as the venues list them.
            let mag = Int(floor(log10(price)))
            let tickDecimals = min(8, max(2, 4 - mag))
            let tick = DecimalText.pow10[8 - tickDecimals]
            var mant = Int64((price * Double(Self.unit)).rounded())
            mant = max(tick * 100, mant / tick * tick)
            list.append(
                SimSymbol(
                    rank: rank, tier: rank <= 20 ? 1 : rank <= 100 ? 2 : 3, base: base,
                    tick: tick, tickDecimals: tickDecimals, initialPrice: mant,
                    weight: weights[i] / total))
        }
        symbols = list
        self.zipfExponent = zipfExponent
    }

    package var count: Int { symbols.count }
    package subscript(i: Int) -> SimSymbol { symbols[i] }

    /// Index of the symbol with this venue name (`BTCUSDT`, `btcusdt`, `XBT/USD`, `BTC-USD`), or nil.
    package func index(ofName name: String, venue: Venue) -> Int? {
        let upper = name.uppercased()
        return symbols.firstIndex { $0.name(for: venue) == upper }
    }
}

/// Walker's alias method: draws an index with the given probabilities in O(1) from one
/// random number.
struct AliasSampler: Sendable {
    private var prob: [Double]
    private var alias: [Int32]

    package init(weights: [Double]) {
        let weightCount = weights.count
        let total = weights.reduce(0, +)
        var scaled = weights.map { $0 * Double(weightCount) / total }
        prob = Array(repeating: 0, count: weightCount)
        alias = Array(repeating: 0, count: weightCount)
        var small: [Int] = []
        var large: [Int] = []
        for (i, p) in scaled.enumerated() { if p < 1 { small.append(i) } else { large.append(i) } }
        while let smallIndex = small.popLast() {
            guard let largeIndex = large.last else { prob[smallIndex] = 1; continue }
            prob[smallIndex] = scaled[smallIndex]
            alias[smallIndex] = Int32(largeIndex)
            scaled[largeIndex] -= 1 - scaled[smallIndex]
            if scaled[largeIndex] < 1 { large.removeLast(); small.append(largeIndex) }
        }
        for l in large { prob[l] = 1 }
    }

    @inline(__always)
    package func sample(_ rng: inout SplitMix64) -> Int {
        let bits = rng.next()
        let slot = Int((bits >> 32) % UInt64(prob.count))
        let draw = Double(bits & 0xFFFF_FFFF) * (1.0 / 4_294_967_296.0)
        return draw < prob[slot] ? slot : Int(alias[slot])
    }
}

/// Standard normal draws (Box–Muller, the spare kept) from a SplitMix64.
struct Gaussian: Sendable {
    private var spare = 0.0
    private var hasSpare = false

    init() {}

    @inline(__always)
    mutating func next(_ rng: inout SplitMix64) -> Double {
        if hasSpare { hasSpare = false; return spare }
        var uniform1 = rng.nextDouble()
        if uniform1 < 1e-300 { uniform1 = 1e-300 }
        let uniform2 = rng.nextDouble()
        let radius = (-2.0 * log(uniform1)).squareRoot()
        let angle = 2.0 * Double.pi * uniform2
        spare = radius * sin(angle)
        hasSpare = true
        return radius * cos(angle)
    }
}

/// Exponential(1) draw.
@inline(__always)
func exponential1(_ rng: inout SplitMix64) -> Double {
    var draw = rng.nextDouble()
    if draw < 1e-300 { draw = 1e-300 }
    return -log(draw)
}
