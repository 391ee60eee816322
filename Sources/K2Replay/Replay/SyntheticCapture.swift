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
        let header = CaptureHeader(createdNanos: startNanos, host: "synthetic",
                                   metadata: [("exchange", .string("binance")), ("synthetic", .bool(true))])
        let w = try CaptureWriter(path: path, header: header)
        var rng = SplitMix64(seed: seed)
        let streams = symbols.flatMap { ["\($0.lowercased())@trade", "\($0.lowercased())@depth@100ms"] }
        try w.append(kind: .connect, timestamp: startNanos, connection: 0,
                     url: "wss://stream.binance.com:9443/stream?streams=" + streams.joined(separator: "/"), text: "")
        var t = startNanos + 1_000_000
        let end = startNanos + durationNanos
        var tradeId = [Int64](repeating: 3_000_000_000, count: symbols.count)
        var updateId = [Int64](repeating: 40_000_000_000, count: symbols.count)
        var price = [Int64](repeating: 0, count: symbols.count)
        for i in symbols.indices { price[i] = [67_000_00, 3_500_00, 150_00, 600_00, 60][i % 5] }
        var currentRate = rate
        var nextSwing = t
        var n = 0
        var text: [UInt8] = []
        text.reserveCapacity(512)
        while true {
            if t >= nextSwing {
                currentRate = rate * (0.25 + 2.25 * rng.nextDouble()) / 1.375   // mean 1 × rate
                nextSwing += 10_000_000_000
            }
            // Exponential gap at the current rate.
            let u = Swift.max(rng.nextDouble(), 1e-12)
            t += Swift.max(1_000, Int64(-logApprox(u) / currentRate * 1e9))
            if t >= end { break }
            let s = Int(rng.next() % UInt64(symbols.count))
            let sym = symbols[s]
            let ms = t / 1_000_000
            price[s] += Int64(rng.next() % 21) - 10
            if price[s] < 10 { price[s] = 10 }
            let p = "\(price[s] / 100).\(pad2(price[s] % 100))"
            text.removeAll(keepingCapacity: true)
            if rng.next() % 3 == 0 {
                let first = updateId[s] + 1
                updateId[s] = first + Int64(rng.next() % 8)
                text += Array(#"{"stream":"\#(sym.lowercased())@depth@100ms","data":{"e":"depthUpdate","E":\#(ms),"s":"\#(sym)","U":\#(first),"u":\#(updateId[s]),"b":[["\#(p)","\#(qty(&rng))"],["\#(p)","0.00000000"]],"a":[["\#(p)","\#(qty(&rng))"]]}}"#.utf8)
            } else {
                tradeId[s] += 1
                text += Array(#"{"stream":"\#(sym.lowercased())@trade","data":{"e":"trade","E":\#(ms),"s":"\#(sym)","t":\#(tradeId[s]),"p":"\#(p)","q":"\#(qty(&rng))","T":\#(ms - 1),"m":\#(rng.next() % 2 == 0),"M":true}}"#.utf8)
            }
            try text.withUnsafeBytes { raw in
                try w.append(kind: .recv, timestamp: t, connection: 0, isBinary: false,
                             aux: UnsafeRawBufferPointer(start: nil, count: 0), payload: raw)
            }
            n += 1
        }
        try w.append(kind: .disconnect, timestamp: end, connection: 0, text: "")
        try w.close()
        return n
    }

    private func qty(_ rng: inout SplitMix64) -> String {
        "0.\(String(rng.next() % 90_000_000 + 10_000_000))"
    }

    private func pad2(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
}

/// ln(x) for 0 < x ≤ 1 without Foundation (range-reduced series; enough for exponential gaps).
func logApprox(_ x: Double) -> Double {
    var m = x
    var e = 0.0
    while m < 0.5 { m *= 2; e -= 1 }
    // ln(m) for m in [0.5, 1]: 2·atanh((m−1)/(m+1))
    let y = (m - 1) / (m + 1)
    let y2 = y * y
    var term = y
    var sum = 0.0
    var k = 1.0
    for _ in 0..<12 {
        sum += term / k
        term *= y2
        k += 2
    }
    return 2 * sum + e * 0.693_147_180_559_945_3
}
