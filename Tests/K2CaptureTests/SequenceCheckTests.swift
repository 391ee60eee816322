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
            try writer.append(OwnedRecord(kind: .recv, timestamp: 1_700_000_000_000_000_000 + Int64(i) * 1_000_000,
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
        #expect(result?.symbols == 1)   // one connection
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
    static let update = #"[0,{"a":[["0.05120","0.00000500","1582905486.493008"],["0.05275","0.00000500","1582905486.493034"]]},{"b":[["0.04765","0.00000500","1582905486.493008"],["0.04940","0.00000500","1582905486.493034"]],"c":"974947235"},"book-1000","BTC/USD"]"#

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
}
