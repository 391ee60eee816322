import Testing

@testable import K2Replay

/// The ClickHouse sink's RowBinary writing: the one-check row cursor and the trade row encoder
/// must give exactly the bytes of a plain field-by-field encoding (decimal text from Swift's own
/// `String(UInt64)`), for every digit count, side and kind of text.
struct RowBinaryTests {
    static let edgeValues: [UInt64] = [
        0, 1, 9, 10, 11, 99, 100, 101, 999, 1_000, 9_999, 10_000, 10_001, 99_999, 100_000,
        1_699_999_999_999, 1_700_000_000_003, 9_999_999_999_999, 10_000_000_000_000,
        UInt64(Int64.max), UInt64.max - 1, UInt64.max,
    ]

    @Test func decimalsAndDigitCountsMatchSwiftsText() {
        var values = Self.edgeValues
        for exponent in 0..<20 {
            var power: UInt64 = 1
            for _ in 0..<exponent { power &*= 10 }
            values += [power, power &- 1, power &+ 1]
        }
        for value in values {
            let text = String(value)
            #expect(RowBinary.digits(value) == text.utf8.count, "\(value)")
            let buffer = RowBinary(capacity: 64)
            buffer.byte(35)
            buffer.decimal(value)
            buffer.append(maxBytes: 20) { cursor in cursor.decimal(value, digits: RowBinary.digits(value)) }
            #expect(Array(buffer.bytes) == [35] + Array(text.utf8) + Array(text.utf8), "\(value)")
        }
    }

    @Test func cursorWritesWhatTheBufferMethodsWrite() {
        let plain = RowBinary(capacity: 64)
        let cursorWritten = RowBinary(capacity: 64)
        let text = Array("BTCUSDT".utf8)
        let long = [UInt8](repeating: 120, count: 300)  // a two-byte length prefix
        for value in Self.edgeValues {
            plain.uint64(value)
            plain.varint(Int(truncatingIfNeeded: value & 0xFFFF_FFFF))
            plain.byte(7)
            text.withUnsafeBytes { plain.string($0) }
            long.withUnsafeBytes { plain.string($0) }
            cursorWritten.append(maxBytes: 8 + 10 + 1 + 10 + text.count + 10 + long.count) { cursor in
                cursor.uint64(value)
                cursor.varint(Int(truncatingIfNeeded: value & 0xFFFF_FFFF))
                cursor.byte(7)
                text.withUnsafeBytes { cursor.string($0) }
                long.withUnsafeBytes { cursor.string($0) }
            }
        }
        #expect(plain.count == cursorWritten.count)
        #expect(Array(plain.bytes) == Array(cursorWritten.bytes))
    }

    /// The trade row the old field-by-field encoder wrote: message_id, exchange, symbol,
    /// exchange_timestamp_ms, price, quantity, side (Nullable), trade_id, receive_ns, [k2_batch].
    static func reference(_ row: TradeRow, exchange: String, receive: UInt64, batchID: Bool) -> [UInt8] {
        let buffer = RowBinary(capacity: 64)
        let symbol = row.symbol.text, tradeID = row.tradeID.text
        buffer.string("\(exchange):\(row.timestampMillis):\(symbol):\(tradeID)")
        buffer.string(exchange)
        buffer.string(symbol)
        buffer.uint64(row.timestampMillis)
        buffer.float64(row.price)
        buffer.float64(row.quantity)
        switch row.side {
        case .buy: buffer.byte(0); buffer.string("buy")
        case .sell: buffer.byte(0); buffer.string("sell")
        case .unknown: buffer.byte(1)
        }
        buffer.string(tradeID)
        buffer.uint64(receive)
        if batchID { buffer.uint64(0) }
        return Array(buffer.bytes)
    }

    @Test func tradeRowsEncodeAsTheFieldByFieldReference() {
        let symbolBytes = Array("ETHUSDT".utf8)
        let idBytes = Array("3000000001".utf8)
        let longID = String(repeating: "7", count: 200)  // the message_id's length takes two bytes
        symbolBytes.withUnsafeBytes { symbolView in
            idBytes.withUnsafeBytes { idView in
                let rows: [TradeRow] = [
                    TradeRow(
                        symbol: .view(symbolView), timestampMillis: 1_700_000_000_003, price: 3500.03, quantity: 0.48937845, side: .sell,
                        tradeID: .view(idView)),
                    TradeRow(symbol: .string("XBT/USD"), timestampMillis: 0, price: -1.5, quantity: 0, side: .buy, tradeID: .string("1-0")),
                    TradeRow(
                        symbol: .string("BTC-USD"), timestampMillis: UInt64.max, price: .nan, quantity: 1e300, side: .unknown,
                        tradeID: .string(longID)),
                    TradeRow(symbol: .view(symbolView), timestampMillis: 99, price: 1, quantity: 2, side: .buy, tradeID: .string("")),
                ]
                for exchange in ["binance", "coinbase", ""] {
                    for batchID in [false, true] {
                        let encoded = RowBinary(capacity: 16)  // grows on the way
                        var expected: [UInt8] = []
                        var receive: UInt64 = 1_700_000_000_004_515_910
                        for row in rows {
                            var exchangeText = exchange
                            exchangeText.withUTF8 {
                                ClickHouseSink.encode(row, exchange: UnsafeRawBufferPointer($0), receive: receive, batchID: batchID, into: encoded)
                            }
                            expected += Self.reference(row, exchange: exchange, receive: receive, batchID: batchID)
                            receive &+= 977
                        }
                        #expect(Array(encoded.bytes) == expected, "exchange '\(exchange)', batchID \(batchID)")
                    }
                }
            }
        }
    }
}
