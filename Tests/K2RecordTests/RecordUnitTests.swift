import K2Capture
import K2Core
import Testing

@testable import K2Record

struct PlanTests {
    @Test func binancePlanBuildsCombinedStreamsAndSnapshots() throws {
        let binance = try ConnectionPlan.venue(.binance, symbols: ["BTCUSDT", "ETHUSDT"], channels: ["trade", "depth"])
        #expect(binance.url == "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/btcusdt@depth@100ms/ethusdt@trade/ethusdt@depth@100ms")
        #expect(binance.sends.isEmpty)
        #expect(
            binance.snapshotURLs == [
                "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000",
                "https://api.binance.com/api/v3/depth?symbol=ETHUSDT&limit=1000",
            ])
        let local = try ConnectionPlan.venue(.binance, symbols: ["BTCUSDT"], channels: ["depth"], url: "ws://127.0.0.1:9000")
        #expect(local.url == "ws://127.0.0.1:9000/stream?streams=btcusdt@depth@100ms")
        #expect(local.snapshotURLs == ["http://127.0.0.1:9000/api/v3/depth?symbol=BTCUSDT&limit=1000"])
    }

    @Test func krakenAndCoinbaseSubscribeMessages() throws {
        let kraken = try ConnectionPlan.venue(.kraken, symbols: ["XBT/USD", "ETH/USD"], channels: ["trade"])
        #expect(kraken.url == "wss://ws.kraken.com")
        #expect(kraken.sends == [#"{"event":"subscribe","pair":["XBT/USD","ETH/USD"],"subscription":{"name":"trade"}}"#])
        let coinbase = try ConnectionPlan.venue(.coinbase, symbols: ["BTC-USD"], channels: ["trade", "depth"])
        #expect(
            coinbase.sends == [
                #"{"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}"#,
                #"{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}"#,
            ])
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

    @Test func aFailureWhileRecordingExitsOneElseTwo() {
        let full = CaptureError(.io, path: "out.k2cap", what: "cannot write: No space left on device", remedy: "free disk space")
        let during = RecordError(full, duringRecording: true)
        #expect(during.exitCode == 1)
        #expect(during.description == "out.k2cap: cannot write: No space left on device — free disk space")
        #expect(RecordError(full, duringRecording: false).exitCode == 2)
        #expect(
            RecordError(.invalidArgument, place: "--venue", what: "unknown venue", remedy: "use binance").description
                == "--venue: unknown venue — use binance")
    }
}

struct BackoffTests {
    @Test func doublesFromOneSecondToTwoMinutesWithJitter() {
        var backoff = Backoff(seed: 7)
        let delays = (0..<10).map { _ in backoff.next() }
        let bases: [Int64] = [1, 2, 4, 8, 16, 32, 64, 128, 128, 128].map { $0 * 1_000_000_000 }
        for (delay, base) in zip(delays, bases) {
            #expect(delay >= base * 8 / 10 && delay <= base * 12 / 10)
        }
        var again = Backoff(seed: 7)
        #expect((0..<10).map { _ in again.next() } == delays)
        backoff.reset()
        #expect(backoff.next() <= 1_200_000_000)
    }
}

struct GapDetectorTests {
    func check(_ g: inout GapDetector, _ s: String, _ venue: Venue? = .binance) -> GapDetector.Finding? {
        Array(s.utf8).withUnsafeBytes { g.check(venue, $0) }
    }

    func trade(_ id: Int64, _ stream: String = "btcusdt") -> String {
        #"{"stream":"\#(stream)@trade","data":{"e":"trade","E":1,"s":"\#(stream.uppercased())","t":\#(id),"p":"1","q":"1","T":1,"m":true,"M":true}}"#
    }

    func depth(_ first: Int64, _ last: Int64) -> String {
        #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":\#(first),"u":\#(last),"b":[["1.0","2"]],"a":[]}}"#
    }

    /// The first half of a message, as `k2 sim exchange --malformed-every` sends it.
    func cut(_ s: String) -> String { String(decoding: Array(s.utf8).prefix(s.utf8.count / 2), as: UTF8.self) }

    func gapIn(_ f: GapDetector.Finding?) -> GapDetector.Gap? {
        if case let .gap(gap) = f { return gap }
        return nil
    }

    /// Ids are looked for after the symbol, where Binance puts them, then from the start: a
    /// layout with the id before the symbol (raw streams, other orders) is still checked.
    @Test func idsBeforeTheSymbolAreStillRead() {
        var detector = GapDetector()
        let idFirst = { (id: Int) in #"{"e":"trade","E":1,"t":\#(id),"s":"BNBUSDT","p":"1","q":"1","T":1}"# }
        let depthIdsFirst = { (first: Int, last: Int) in #"{"e":"depthUpdate","U":\#(first),"u":\#(last),"E":1,"s":"BNBUSDT","b":[],"a":[]}"# }
        #expect(check(&detector, idFirst(41)) == nil)
        #expect(check(&detector, idFirst(42)) == nil)
        #expect(gapIn(check(&detector, idFirst(45))) == GapDetector.Gap(stream: "BNBUSDT", field: "t", expected: 43, got: 45))
        #expect(check(&detector, depthIdsFirst(10, 12)) == nil)
        #expect(check(&detector, depthIdsFirst(13, 20)) == nil)
        #expect(gapIn(check(&detector, depthIdsFirst(22, 23))) == GapDetector.Gap(stream: "BNBUSDT", field: "U", expected: 21, got: 22))
        #expect(detector.gaps == 2)
    }

    /// Issue 17: a trade cut in half after `"t":16` of `"t":164486339` was a gap "expected
    /// 164486339, got 16"; a repeated message was a gap too.
    @Test func malformedFramesAndDuplicatesAreNotGaps() {
        var detector = GapDetector()
        #expect(check(&detector, trade(164_486_338)) == nil)
        let broken = String(trade(164_486_339).prefix(72))
        #expect(broken.hasSuffix(#""t":16"#))
        #expect(check(&detector, broken) == .malformed(stream: "btcusdt@trade", bytes: 72))
        #expect(check(&detector, trade(164_486_340)) == nil)  // the broken frame's id is the one missing
        #expect(check(&detector, trade(164_486_340)) == .duplicate(stream: "btcusdt@trade", field: "t", id: 164_486_340))
        #expect(check(&detector, trade(164_486_341)) == nil)
        #expect(check(&detector, depth(10, 12)) == nil)
        #expect(check(&detector, cut(depth(13, 19))) == .malformed(stream: "btcusdt@depth@100ms", bytes: depth(13, 19).utf8.count / 2))
        #expect(check(&detector, depth(20, 21)) == nil)  // depth: any range after a broken frame
        #expect(check(&detector, depth(20, 21)) == .duplicate(stream: "btcusdt@depth@100ms", field: "U", id: 20))
        #expect(detector.gaps == 0 && detector.duplicates == 2 && detector.malformed == 2)
        // A real gap still is one: on a single-id stream a jump of more than the broken frame's
        // one id, on another stream than the broken frame's, or after the excuse was used.
        #expect(check(&detector, cut(trade(164_486_342))) != nil)
        #expect(
            gapIn(check(&detector, trade(164_486_345)))
                == GapDetector.Gap(stream: "btcusdt@trade", field: "t", expected: 164_486_342, got: 164_486_345))
        #expect(check(&detector, trade(7, "ethusdt")) == nil)
        #expect(check(&detector, cut(trade(164_486_346))) != nil)
        #expect(gapIn(check(&detector, trade(9, "ethusdt")))?.expected == 8)
        #expect(check(&detector, trade(164_486_347)) == nil)
        #expect(gapIn(check(&detector, trade(164_486_349)))?.expected == 164_486_348)
        #expect(detector.gaps == 3 && detector.malformed == 4)
        // A frame cut before its stream can be read excuses the next one-message hole on the connection.
        #expect(check(&detector, "{\"str") == .malformed(stream: "", bytes: 5))
        #expect(check(&detector, trade(11, "ethusdt")) == nil)
        #expect(detector.gaps == 3)
        // Coinbase: one sequence per connection; Kraken: malformed frames are counted too.
        var sequenceDetector = GapDetector()
        let seq = { (n: Int) in #"{"channel":"market_trades","client_id":"","timestamp":"t","sequence_num":\#(n),"events":[]}"# }
        #expect(check(&sequenceDetector, seq(1), .coinbase) == nil)
        #expect(check(&sequenceDetector, cut(seq(2)), .coinbase) == .malformed(stream: "", bytes: seq(2).utf8.count / 2))
        #expect(check(&sequenceDetector, seq(3), .coinbase) == nil)
        #expect(check(&sequenceDetector, seq(3), .coinbase) == .duplicate(stream: "", field: "sequence_num", id: 3))
        #expect(gapIn(check(&sequenceDetector, seq(5), .coinbase))?.expected == 4)
        #expect(check(&sequenceDetector, #"[0,[["1.0","2.0","1.5","s","l",""]],"tr"#, .kraken) == .malformed(stream: "", bytes: 39))
        #expect(check(&sequenceDetector, #"{"event":"heartbeat"}"#, .kraken) == nil)
        #expect(check(&sequenceDetector, "anything", nil) == nil)
    }

    @Test func binanceDepthAndTradeGaps() {
        var detector = GapDetector()
        #expect(
            check(&detector, #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":10,"u":12,"b":[],"a":[]}}"#) == nil)
        #expect(
            check(&detector, #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":13,"u":15,"b":[],"a":[]}}"#) == nil)
        #expect(
            check(&detector, #"{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":100,"u":101,"b":[],"a":[]}}"#) == nil
        )
        let gap = check(&detector, #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":20,"u":21,"b":[],"a":[]}}"#)
        #expect(gap == .gap(GapDetector.Gap(stream: "btcusdt@depth@100ms", field: "U", expected: 16, got: 20)))
        #expect(
            check(&detector, #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"1","q":"1","T":1,"m":true,"M":true}}"#)
                == nil)
        #expect(
            check(&detector, #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":6,"p":"1","q":"1","T":1,"m":true,"M":true}}"#)
                == nil)
        #expect(
            gapIn(
                check(
                    &detector, #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":9,"p":"1","q":"1","T":1,"m":true,"M":true}}"#))?
                .expected == 7)
        #expect(detector.gaps == 2)
        detector.reset()
        #expect(
            check(&detector, #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":100,"p":"1","q":"1","T":1,"m":true,"M":true}}"#)
                == nil)
    }
}
