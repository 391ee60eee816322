import K2Capture
import K2Core
import K2TestSupport
import Testing

/// `inspect`'s sequence checks beyond Binance depth and trades: Coinbase `sequence_num`,
/// Binance aggTrade `a`, Kraken v1 book checksums.
@Suite struct SequenceCheckTests {
    let dir = TemporaryDirectory()

    func capture(_ name: String, _ payloads: [String], connection: UInt32 = 0) throws -> String {
        let path = dir.file(name)
        let writer = try CaptureWriter(path: path, header: CaptureHeader(createdNanos: 1, host: "test"))
        for (i, payload) in payloads.enumerated() {
            try writer.append(
                OwnedRecord(
                    kind: .recv, timestamp: 1_700_000_000_000_000_000 + Int64(i) * 1_000_000,
                    connection: connection, text: payload))
        }
        try writer.close()
        return path
    }

    func check(_ path: String, _ name: String) throws -> CaptureInspection.SequenceCheck? {
        try CaptureInspector.inspect(path: path).sequenceChecks.first { $0.name == name }
    }

    /// Coinbase numbers every message of a connection: trades, level2 and heartbeats alike.
    func coinbaseMessages() -> [String] {
        (0..<30).map { sequence in
            sequence % 5 == 4
                ? #"{"channel":"heartbeats","client_id":"","timestamp":"2024-03-01T00:00:00.1Z","sequence_num":\#(sequence),"events":[{"current_time":"2024-03-01 00:00:00","heartbeat_counter":\#(sequence)}]}"#
                : #"{"channel":"market_trades","client_id":"","timestamp":"2024-03-01T00:00:00.1Z","sequence_num":\#(sequence),"events":[{"type":"update","trades":[{"trade_id":"\#(sequence)","product_id":"BTC-USD","price":"61000.00","size":"0.1","side":"BUY","time":"2024-03-01T00:00:00.1Z"}]}]}"#
        }
    }

    @Test func coinbaseSequenceOfACompleteCaptureHasNoGaps() throws {
        let result = try check(try capture("coinbase.k2cap", coinbaseMessages()), "coinbase_sequence")
        #expect(result?.messages == 30)
        #expect(result?.symbols == 1)  // one connection
        #expect(result?.gaps == 0 && result?.regressions == 0)
    }

    @Test func coinbaseCaptureWithTwoRecordsRemovedReportsTheGaps() throws {
        var messages = coinbaseMessages()
        messages.remove(at: 20)
        messages.remove(at: 10)
        let path = try capture("coinbase-cut.k2cap", messages)
        let result = try check(path, "coinbase_sequence")
        #expect(result?.gaps == 2)
        #expect(result?.missingIds == 2)
        #expect(result?.first.map(\.missingFrom) == [10, 20])
        #expect(try CaptureInspector.inspect(path: path).gapCount == 2)
    }

    @Test func binanceAggTradeIdsAreChecked() throws {
        var messages = (0..<20).map { offset in
            #"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1709251200004,"s":"BTCUSDT","a":\#(1000 + offset),"p":"61500.01","q":"0.002","f":\#(5000 + 2 * offset),"l":\#(5001 + 2 * offset),"T":1709251200003,"m":false,"M":true}}"#
        }
        #expect(try check(try capture("agg.k2cap", messages), "agg_trade")?.gaps == 0)
        messages.remove(at: 7)
        let result = try check(try capture("agg-cut.k2cap", messages), "agg_trade")
        #expect(result?.messages == 19)
        #expect(result?.gaps == 1)
        #expect(result?.first.first?.missingFrom == 1007)
    }

    /// The book of Kraken's "Spot Websockets (v1) Book Checksum" guide and its update (the
    /// guide's checksum 974947235, Tests/K2SimTests/Fixtures/kraken-book-checksum.json).
    static let asks = ["0.05005", "0.05010", "0.05015", "0.05020", "0.05025", "0.05030", "0.05035", "0.05040", "0.05045", "0.05050"]
    static let bids = ["0.05000", "0.04995", "0.04990", "0.04980", "0.04975", "0.04970", "0.04965", "0.04960", "0.04955", "0.04950"]
    static let update =
        #"[0,{"a":[["0.05120","0.00000500","1582905486.493008"],["0.05275","0.00000500","1582905486.493034"]]},{"b":[["0.04765","0.00000500","1582905486.493008"],["0.04940","0.00000500","1582905486.493034"]],"c":"974947235"},"book-1000","BTC/USD"]"#

    static func snapshot(asks: [String] = asks, bids: [String] = bids) -> String {
        func side(_ prices: [String]) -> String {
            prices.map { #"["\#($0)","0.00000500","1582905487.684110"]"# }.joined(separator: ",")
        }
        return #"[0,{"as":[\#(side(asks))],"bs":[\#(side(bids))]},"book-1000","BTC/USD"]"#
    }

    @Test func krakenDocumentedBookChecksumChecksOut() throws {
        let result = try check(try capture("kraken.k2cap", [Self.snapshot(), Self.update]), "kraken_book_checksum")
        #expect(result?.messages == 1)
        #expect(result?.symbols == 1)
        #expect(result?.gaps == 0)
    }

    @Test func krakenBookThatLostALevelNoLongerReproducesTheChecksum() throws {
        // As if the message that added the best ask had been lost.
        let path = try capture("kraken-lost.k2cap", [Self.snapshot(asks: Array(Self.asks.dropFirst())), Self.update])
        let inspection = try CaptureInspector.inspect(path: path)
        let result = inspection.sequenceChecks.first { $0.name == "kraken_book_checksum" }
        #expect(result?.messages == 1)
        #expect(result?.gaps == 1)
        #expect(result?.first.first?.next == 974_947_235)
        #expect(result?.first.first?.symbol == "BTC/USD")
        #expect(inspection.textReport().contains("c=974947235 but the book rebuilt from the messages gives"))
        let entry = inspection.json["gaps"]?["kraken_book_checksum"]?["first"]?.arrayValue?.first
        let stated: Int64? = entry?["checksum"]?.int64Value
        #expect(stated == 974_947_235)
    }

    // MARK: Kraken v2

    /// Kraken v2 levels: `{"price":0.05005,"qty":0.00000500}`, numbers on the wire at full precision.
    static func v2Side(_ prices: [String], qty: String = "0.00000500") -> String {
        prices.map { #"{"price":\#($0),"qty":\#(qty)}"# }.joined(separator: ",")
    }

    static func v2Book(_ type: String, asks: [String], bids: [String], checksum: UInt32) -> String {
        #"{"channel":"book","type":"\#(type)","data":[{"symbol":"BTC/USD","bids":[\#(v2Side(bids))],"asks":[\#(v2Side(asks))],"checksum":\#(checksum),"timestamp":"2020-02-28T15:58:06.493034Z"}]}"#
    }

    static let v2Ack =
        #"{"method":"subscribe","result":{"channel":"book","depth":1000,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2020-02-28T15:58:06.400000Z","time_out":"2020-02-28T15:58:06.400100Z"}"#

    /// The CRC-32 of the top 10 asks then bids, written out independently of the checker: each
    /// price and the volume 0.00000500 without '.' and leading zeros.
    static func expectedChecksum(asks: [String], bids: [String]) -> UInt32 {
        func digits(_ text: String) -> String { String(text.filter { $0 != "." }.drop { $0 == "0" }) }
        let text = (asks.sorted().prefix(10) + bids.sorted(by: >).prefix(10)).map { digits($0) + "500" }.joined()
        return CRC32.checksum(Array(text.utf8))
    }

    /// The v1 guide's book and update in v2 form: the update's levels fall outside the top 10, so
    /// snapshot and update both carry the guide's checksum, 974947235.
    @Test func krakenV2DocumentedBookChecksumChecksOut() throws {
        #expect(Self.expectedChecksum(asks: Self.asks, bids: Self.bids) == 974_947_235)
        let update = Self.v2Book("update", asks: ["0.05120", "0.05275"], bids: ["0.04765", "0.04940"], checksum: 974_947_235)
        let c = try check(
            try capture("kraken-v2.k2cap", [Self.v2Ack, Self.v2Book("snapshot", asks: Self.asks, bids: Self.bids, checksum: 974_947_235), update]),
            "kraken_book_checksum")
        #expect(c?.messages == 2)
        #expect(c?.symbols == 1)
        #expect(c?.gaps == 0)
    }

    /// A v2 update lost: the next update's checksum (of the book with both) no longer checks out.
    @Test func krakenV2BookThatLostAnUpdateNoLongerReproducesTheChecksum() throws {
        let asksAfterA = ["0.05001"] + Self.asks
        let bidsAfterB = ["0.05000"] + Self.bids.dropFirst() + ["0.04999"]
        let updateA = Self.v2Book("update", asks: ["0.05001"], bids: [], checksum: Self.expectedChecksum(asks: asksAfterA, bids: Self.bids))
        let updateB = Self.v2Book("update", asks: [], bids: ["0.04999"], checksum: Self.expectedChecksum(asks: asksAfterA, bids: Array(bidsAfterB)))
        let snapshot = Self.v2Book("snapshot", asks: Self.asks, bids: Self.bids, checksum: 974_947_235)
        let complete = try check(try capture("kraken-v2-all.k2cap", [Self.v2Ack, snapshot, updateA, updateB]), "kraken_book_checksum")
        #expect(complete?.messages == 3 && complete?.gaps == 0)
        let lost = try check(try capture("kraken-v2-lost.k2cap", [Self.v2Ack, snapshot, updateB]), "kraken_book_checksum")
        #expect(lost?.messages == 2)
        #expect(lost?.gaps == 1)
        #expect(lost?.first.first?.symbol == "BTC/USD")
    }
}
