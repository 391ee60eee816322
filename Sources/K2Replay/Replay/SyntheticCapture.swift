import K2Capture
import K2Core

/// A seeded Binance-like capture for benchmarks: combined-stream `trade` and `depthUpdate`
/// messages for a few symbols, arriving as a Poisson process whose rate swings between quiet
/// and busy stretches (every 10 s the rate is redrawn uniformly between 0.18× and 1.8× the mean), so
/// gaps range from microseconds to tens of milliseconds as on a real feed.
package struct SyntheticCapture: Sendable {
    /// Capture length, ns.
    package var durationNanos: Int64
    /// Mean messages per second.
    package var rate: Double
    package var seed: UInt64
    package var symbols: [String] = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]
    package var startNanos: Int64 = 1_700_000_000_000_000_000

    package init(durationNanos: Int64, rate: Double, seed: UInt64 = 1) {
        self.durationNanos = durationNanos
        self.rate = rate
        self.seed = seed
    }

    /// Writes the capture; returns the number of `recv` messages.
    @discardableResult
    package func write(to path: String) throws -> Int {
        let header = CaptureHeader(
            createdNanos: startNanos, host: "synthetic",
            metadata: [("exchange", .string("binance")), ("synthetic", .bool(true))])
        let writer = try CaptureWriter(path: path, header: header)
        var rng = SplitMix64(seed: seed)
        let streams = symbols.flatMap { ["\($0.lowercased())@trade", "\($0.lowercased())@depth@100ms"] }
        try writer.append(
            kind: .connect, timestamp: startNanos, connection: 0,
            url: "wss://stream.binance.com:9443/stream?streams=" + streams.joined(separator: "/"), text: "")
        var timestamp = startNanos + 1_000_000
        let end = startNanos + durationNanos
        var tradeId = [Int64](repeating: 3_000_000_000, count: symbols.count)
        var updateId = [Int64](repeating: 40_000_000_000, count: symbols.count)
        var price = [Int64](repeating: 0, count: symbols.count)
        for i in symbols.indices { price[i] = [67_000_00, 3_500_00, 150_00, 600_00, 60][i % 5] }
        var currentRate = rate
        var nextSwing = timestamp
        var messages = 0
        var text: [UInt8] = []
        text.reserveCapacity(512)
        while true {
            if timestamp >= nextSwing {
                currentRate = rate * (0.25 + 2.25 * rng.nextDouble()) / 1.375  // mean 1 × rate
                nextSwing += 10_000_000_000
            }
            // Exponential gap at the current rate.
            let draw = Swift.max(rng.nextDouble(), 1e-12)
            timestamp += Swift.max(1_000, Int64(-logApprox(draw) / currentRate * 1e9))
            if timestamp >= end { break }
            let symbol = Int(rng.next() % UInt64(symbols.count))
            let sym = symbols[symbol]
            let ms = timestamp / 1_000_000
            price[symbol] += Int64(rng.next() % 21) - 10
            if price[symbol] < 10 { price[symbol] = 10 }
            let priceText = "\(price[symbol] / 100).\(pad2(price[symbol] % 100))"
            text.removeAll(keepingCapacity: true)
            if rng.next() % 3 == 0 {
                let first = updateId[symbol] + 1
                updateId[symbol] = first + Int64(rng.next() % 8)
                text += Array(
                    #"{"stream":"\#(sym.lowercased())@depth@100ms","data":{"e":"depthUpdate","E":\#(ms),"s":"\#(sym)","U":\#(first),"u":\#(updateId[symbol]),"b":[["\#(priceText)","\#(qty(&rng))"],["\#(priceText)","0.00000000"]],"a":[["\#(priceText)","\#(qty(&rng))"]]}}"#
                        .utf8)
            } else {
                tradeId[symbol] += 1
                text += Array(
                    #"{"stream":"\#(sym.lowercased())@trade","data":{"e":"trade","E":\#(ms),"s":"\#(sym)","t":\#(tradeId[symbol]),"p":"\#(priceText)","q":"\#(qty(&rng))","T":\#(ms - 1),"m":\#(rng.next() % 2 == 0),"M":true}}"#
                        .utf8)
            }
            try text.withUnsafeBytes { raw in
                try writer.append(
                    kind: .recv, timestamp: timestamp, connection: 0, isBinary: false,
                    aux: UnsafeRawBufferPointer(start: nil, count: 0), payload: raw)
            }
            messages += 1
        }
        try writer.append(kind: .disconnect, timestamp: end, connection: 0, text: "")
        try writer.close()
        return messages
    }

    private func qty(_ rng: inout SplitMix64) -> String {
        "0.\(String(rng.next() % 90_000_000 + 10_000_000))"
    }

    private func pad2(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
}

/// ln(x) for 0 < x ≤ 1 without Foundation (range-reduced series; enough for exponential gaps).
func logApprox(_ x: Double) -> Double {
    var mantissa = x
    var exponent = 0.0
    while mantissa < 0.5 { mantissa *= 2; exponent -= 1 }
    // ln(m) for m in [0.5, 1]: 2·atanh((m−1)/(m+1))
    let ratio = (mantissa - 1) / (mantissa + 1)
    let y2 = ratio * ratio
    var term = ratio
    var sum = 0.0
    var denominator = 1.0
    for _ in 0..<12 {
        sum += term / denominator
        term *= y2
        denominator += 2
    }
    return 2 * sum + exponent * 0.693_147_180_559_945_3
}
