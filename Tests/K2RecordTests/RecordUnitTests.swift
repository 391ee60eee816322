import K2Capture
import K2Core
@testable import K2Record
import Testing

struct PlanTests {
    @Test func binancePlanBuildsCombinedStreamsAndSnapshots() throws {
        let p = try ConnectionPlan.venue(.binance, symbols: ["BTCUSDT", "ETHUSDT"], channels: ["trade", "depth"])
        #expect(p.url == "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/btcusdt@depth@100ms/ethusdt@trade/ethusdt@depth@100ms")
        #expect(p.sends.isEmpty)
        #expect(p.snapshotURLs == ["https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000",
                                   "https://api.binance.com/api/v3/depth?symbol=ETHUSDT&limit=1000"])
        let local = try ConnectionPlan.venue(.binance, symbols: ["BTCUSDT"], channels: ["depth"], url: "ws://127.0.0.1:9000")
        #expect(local.url == "ws://127.0.0.1:9000/stream?streams=btcusdt@depth@100ms")
        #expect(local.snapshotURLs == ["http://127.0.0.1:9000/api/v3/depth?symbol=BTCUSDT&limit=1000"])
    }

    @Test func krakenAndCoinbaseSubscribeMessages() throws {
        let k = try ConnectionPlan.venue(.kraken, symbols: ["XBT/USD", "ETH/USD"], channels: ["trade"])
        #expect(k.url == "wss://ws.kraken.com")
        #expect(k.sends == [#"{"event":"subscribe","pair":["XBT/USD","ETH/USD"],"subscription":{"name":"trade"}}"#])
        let c = try ConnectionPlan.venue(.coinbase, symbols: ["BTC-USD"], channels: ["trade", "depth"])
        #expect(c.sends == [#"{"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}"#,
                            #"{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}"#])
    }

    @Test func badInputSaysWhatToDo() {
        #expect(throws: CaptureError.self) { try Venue(parsing: "bitmex") }
        do {
            _ = try ConnectionPlan.venue(.binance, symbols: ["BTCUSDT"], channels: ["candles"])
            Issue.record("no error")
        } catch {
            #expect(error.description == "unknown channel candles for binance — use one of trade, depth, aggTrade, bookTicker")
        }
    }
}

struct BackoffTests {
    @Test func doublesFromOneSecondToTwoMinutesWithJitter() {
        var b = Backoff(seed: 7)
        let delays = (0..<10).map { _ in b.next() }
        let bases: [Int64] = [1, 2, 4, 8, 16, 32, 64, 128, 128, 128].map { $0 * 1_000_000_000 }
        for (d, base) in zip(delays, bases) {
            #expect(d >= base * 8 / 10 && d <= base * 12 / 10)
        }
        var again = Backoff(seed: 7)
        #expect((0..<10).map { _ in again.next() } == delays)
        b.reset()
        #expect(b.next() <= 1_200_000_000)
    }
}

struct GapDetectorTests {
    func check(_ g: inout GapDetector, _ s: String) -> GapDetector.Gap? {
        Array(s.utf8).withUnsafeBytes { g.check(.binance, $0) }
    }

    @Test func binanceDepthAndTradeGaps() {
        var g = GapDetector()
        #expect(check(&g, #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":10,"u":12,"b":[],"a":[]}}"#) == nil)
        #expect(check(&g, #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":13,"u":15,"b":[],"a":[]}}"#) == nil)
        #expect(check(&g, #"{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":100,"u":101,"b":[],"a":[]}}"#) == nil)
        let gap = check(&g, #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":20,"u":21,"b":[],"a":[]}}"#)
        #expect(gap == GapDetector.Gap(stream: "btcusdt@depth@100ms", field: "U", expected: 16, got: 20))
        #expect(check(&g, #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"1","q":"1","T":1,"m":true,"M":true}}"#) == nil)
        #expect(check(&g, #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":6,"p":"1","q":"1","T":1,"m":true,"M":true}}"#) == nil)
        #expect(check(&g, #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":9,"p":"1","q":"1","T":1,"m":true,"M":true}}"#)?.expected == 7)
        #expect(g.gaps == 2)
        g.reset()
        #expect(check(&g, #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":100,"p":"1","q":"1","T":1,"m":true,"M":true}}"#) == nil)
    }
}
