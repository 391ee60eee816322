import K2Capture
import K2Core
import K2TestSupport
import Testing

@Suite struct InspectTests {
    let dir = TemporaryDirectory()

    func write(_ name: String, _ records: [OwnedRecord]) throws -> String {
        let path = dir.file(name)
        let writer = try CaptureWriter(
            path: path,
            header: CaptureHeader(
                createdNanos: 1, host: "test",
                metadata: [("exchange", .string("binance"))]),
            options: .init(blockSize: 32 * 1024))
        for record in records { try writer.append(record) }
        try writer.close()
        return path
    }

    static let t0: Int64 = 1_700_000_000_000_000_000

    static func trade(_ sym: String, _ t: Int64, at ts: Int64, conn: UInt32 = 0) -> OwnedRecord {
        OwnedRecord(
            kind: .recv, timestamp: ts, connection: conn,
            text:
                #"{"stream":"\#(sym.lowercased())@trade","data":{"e":"trade","E":1,"s":"\#(sym)","t":\#(t),"p":"1.0","q":"2.0","T":1,"m":true,"M":true}}"#
        )
    }

    static func depth(_ sym: String, _ first: Int64, _ last: Int64, at ts: Int64) -> OwnedRecord {
        OwnedRecord(
            kind: .recv, timestamp: ts, connection: 0,
            text:
                #"{"stream":"\#(sym.lowercased())@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"\#(sym)","U":\#(first),"u":\#(last),"b":[],"a":[]}}"#
        )
    }

    @Test func countsKindsConnectionsStreamsAndSymbols() throws {
        let recs = SampleTraffic().records(count: 4000)
        let path = try write("counts.k2cap", recs)
        let ins = try CaptureInspector.inspect(path: path)
        #expect(ins.records == recs.count)
        #expect(ins.byKind.map(\.kind) == [.connect, .send, .recv])
        #expect(ins.byKind.map(\.count) == [1, 1, 4000])
        #expect(ins.firstTimestamp == recs.first!.timestamp)
        #expect(ins.lastTimestamp == recs.last!.timestamp)
        #expect(ins.connections.count == 1)
        #expect(ins.connections[0].recv == 4000)
        #expect(ins.connections[0].url?.hasPrefix("wss://stream.binance.com") == true)
        #expect(ins.byStream.count == 6)
        #expect(ins.byStream.reduce(0) { $0 + $1.count } == 4000)
        #expect(Set(ins.bySymbol.map(\.name)) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
        // SampleTraffic's ids are continuous: no gaps.
        #expect(ins.gapCount == 0)
        #expect(ins.sequenceChecks.map(\.messages) == [1000, 3000, 0, 0, 0])  // depth, trade, aggTrade, Coinbase, Kraken book
        #expect(ins.compressionRatio > 2)
        #expect(ins.indexStored)
    }

    @Test func findsTradeAndDepthGapsPerSymbol() throws {
        let start: Int64 = Self.t0
        let recs: [OwnedRecord] = [
            Self.trade("BTCUSDT", 100, at: start),
            Self.trade("ETHUSDT", 500, at: start + 1),
            Self.trade("BTCUSDT", 101, at: start + 2),
            Self.trade("BTCUSDT", 105, at: start + 3),  // 102…104 missing
            Self.trade("ETHUSDT", 501, at: start + 4),
            Self.trade("ETHUSDT", 501, at: start + 5),  // repeated
            Self.trade("ETHUSDT", 503, at: start + 6),  // 502 missing
            Self.depth("BTCUSDT", 10, 12, at: start + 7),
            Self.depth("BTCUSDT", 13, 20, at: start + 8),
            Self.depth("BTCUSDT", 25, 30, at: start + 9),  // 21…24 missing
        ]
        let ins = try CaptureInspector.inspect(path: try write("gaps.k2cap", recs))
        let depth = ins.sequenceChecks[0], trade = ins.sequenceChecks[1]
        #expect(trade.gaps == 2 && trade.missingIds == 4 && trade.regressions == 1 && trade.symbols == 2)
        #expect(trade.first.map(\.symbol) == ["BTCUSDT", "ETHUSDT"])
        #expect(trade.first[0].missingFrom == 102 && trade.first[0].missingTo == 104 && trade.first[0].timestamp == start + 3)
        #expect(trade.first[1].missingFrom == 502 && trade.first[1].missingTo == 502)
        #expect(depth.gaps == 1 && depth.missingIds == 4 && depth.first.first?.previous == 20 && depth.first.first?.next == 25)
        #expect(ins.gapCount == 3)
        let json = ins.json
        #expect(json["gaps"]?["count"]?.int64Value == 3)
        #expect(json["gaps"]?["trade"]?["first"]?.arrayValue?.first?["missing_from"]?.int64Value == 102)
    }

    @Test func ratesAndTheBusiest100msWindow() throws {
        // Second 0: 10 messages spread out; second 1: 50 messages, 40 of them within 60 ms
        // straddling a 100 ms boundary; second 2: empty; second 3: 1 message.
        var recs: [OwnedRecord] = []
        var time: Int64 = 0
        for i in 0..<10 { recs.append(Self.trade("BTCUSDT", Int64(i), at: Self.t0 + Int64(i) * 90_000_000)) }
        time = 10
        for i in 0..<40 { recs.append(Self.trade("BTCUSDT", time, at: Self.t0 + 1_070_000_000 + Int64(i) * 1_500_000)); time += 1 }
        for i in 0..<10 { recs.append(Self.trade("BTCUSDT", time, at: Self.t0 + 1_300_000_000 + Int64(i) * 50_000_000)); time += 1 }
        recs.append(Self.trade("BTCUSDT", time, at: Self.t0 + 3_500_000_000))
        let ins = try CaptureInspector.inspect(path: try write("rate.k2cap", recs))
        let rate = try #require(ins.rate)
        #expect(rate.seconds == 4)
        #expect(rate.max == 50)
        #expect(rate.p50 == 1)  // sorted [0, 1, 10, 50]: the 2nd
        #expect(rate.p99 == 50)
        #expect(rate.busiest100msCount == 40)  // 40 within 58.5 ms; the next group starts 171.5 ms later
        #expect(rate.busiest100msStart == Self.t0 + 1_070_000_000)
        #expect(ins.durationNanos == 3_500_000_000)
    }

    @Test func jsonKeepsTheStableKeys() throws {
        let path = try write("json.k2cap", SampleTraffic().records(count: 100))
        let json = try CaptureInspector.inspect(path: path).json
        let text = json.serialized()
        let parsed = try JSONParser.parse(text)
        for key in ["records", "by_kind", "first_ts_ns", "last_ts_ns", "connections", "gaps"] {
            #expect(parsed[key] != nil, "missing \(key)")
        }
        #expect(parsed["records"]?.int64Value == 102)
        #expect(parsed["by_kind"]?["recv"]?.int64Value == 100)
        #expect(parsed["connections"]?.arrayValue?.first?["conn"]?.int64Value == 0)
    }

    @Test func textReportIsAligned() throws {
        let path = try write("text.k2cap", SampleTraffic().records(count: 300))
        let text = try CaptureInspector.inspect(path: path).textReport()
        #expect(text.contains("\n  records             302\n"))
        #expect(text.contains("\nby kind\n  connect" + String(repeating: " ", count: 13 + 11) + "1\n"))
        #expect(text.contains("sequence gaps"))
    }
}
