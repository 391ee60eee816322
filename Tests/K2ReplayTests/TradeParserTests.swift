import K2Capture
import K2Core
import Testing

@testable import K2Replay

/// The single-pass Binance trade scanner of the ClickHouse sink's `trades` mode.
struct TradeParserTests {
    struct Row: Equatable {
        var symbol: String, ms: UInt64, price: Double, qty: Double, side: TradeRow.Side, id: String
    }

    func rows(_ text: String) -> [Row] {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer -> [Row] in
            let raw = UnsafeRawBufferPointer(buffer)
            var out: [Row] = []
            TradeParser.parse(raw, fields: PayloadFields.extract(raw)) { trade in
                out.append(
                    Row(
                        symbol: trade.symbol.text, ms: trade.timestampMillis, price: trade.price, qty: trade.quantity,
                        side: trade.side, id: trade.tradeID.text))
            }
            return out
        }
    }

    func unreadable(_ text: String) -> String? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer in
            let raw = UnsafeRawBufferPointer(buffer)
            return TradeParser.unreadableKind(raw, fields: PayloadFields.extract(raw))
        }
    }

    /// Coinbase Exchange (ws-feed) `match`: `side` is the maker's, the row has the taker's.
    @Test func coinbaseExchangeMatch() {
        let parsed = rows(
            #"{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"a","taker_order_id":"b","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#
        )
        #expect(parsed == [Row(symbol: "BTC-USD", ms: 1_415_348_367_028, price: 400.23, qty: 5.23512, side: .buy, id: "10")])
    }

    /// Messages without trades that the venues send are known; anything else is reported by kind.
    @Test func messagesWithoutTradesAreKnownOthersReportedByKind() {
        for known in [
            #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}}"#,
            #"{"result":null,"id":1}"#, #"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#,
            #"[101,{"a":[["5541.30000","2.50700000","1534614248.456738"]]},"book-10","XBT/USD"]"#, #"{"event":"heartbeat"}"#,
            #"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[]}"#,
            #"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.0","2"]],"time":"2023-11-14T22:13:20.210Z"}"#,
        ] {
            #expect(unreadable(known) == nil, "\(known)")
        }
        #expect(unreadable(#"{"type":"auction","product_id":"BTC-USD"}"#) == "auction")
        #expect(unreadable(#"{"hello":1}"#) == "no type")
    }

    @Test func combinedStreamTrade() {
        let parsed = rows(
            #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":4242,"p":"37000.10","q":"0.0150","b":1,"a":2,"T":1700000000120,"m":true,"M":true}}"#
        )
        #expect(parsed == [Row(symbol: "BTCUSDT", ms: 1_700_000_000_120, price: 37000.1, qty: 0.015, side: .sell, id: "4242")])
    }

    @Test func rawStreamAggTradeUsesTheAggregateIdAndSpaces() {
        let parsed = rows(#"{"e": "aggTrade", "E": 5, "s": "ETHUSDT", "a": 77, "p": "2000.5", "q": "1", "f": 1, "l": 3, "T": 4, "m": false}"#)
        #expect(parsed == [Row(symbol: "ETHUSDT", ms: 4, price: 2000.5, qty: 1, side: .buy, id: "77")])
    }

    @Test func eventTimeWhenNoTradeTimeAndBareNumbers() {
        let parsed = rows(#"{"e":"trade","E":99,"s":"X","t":1,"p":1.25,"q":2}"#)
        #expect(parsed == [Row(symbol: "X", ms: 99, price: 1.25, qty: 2, side: .unknown, id: "1")])
    }

    @Test func stringValuesThatLookLikeKeysAreSkipped() {
        // A one-letter string value followed by ':' inside another string must not be read as a key.
        let parsed = rows(#"{"e":"trade","x":"\"p\":","s":"S","t":3,"p":"2","q":"3","T":7,"m":true}"#)
        #expect(parsed.count == 1)
        #expect(parsed.first?.price == 2)
    }

    @Test func incompleteTradeIsSkipped() {
        #expect(rows(#"{"e":"trade","s":"S","t":3,"q":"3","T":7}"#).isEmpty)
        #expect(rows(#"{"e":"depthUpdate","s":"S","b":[],"a":[]}"#).isEmpty)
    }

    @Test func fieldsBeforeTheSymbolAreFoundByTheFullScan() {
        // Another field order: the pass from the symbol misses p, q and T, the full scan finds them.
        let parsed = rows(#"{"p":"5.5","q":"2","T":11,"t":9,"m":false,"e":"trade","s":"ABC"}"#)
        #expect(parsed == [Row(symbol: "ABC", ms: 11, price: 5.5, qty: 2, side: .buy, id: "9")])
    }

    @Test func escapedQuotesAtEveryOffsetOfAWord() {
        // Escaped quotes and backslashes land at each of the eight positions of a word.
        for pad in 0..<9 {
            let filler = String(repeating: "y", count: pad)
            let text = #"{"e":"trade","s":"S","x":""# + filler + #"\"p\":\"9\",\\","t":3,"p":"2.5","q":"3","T":7,"m":true}"#
            let parsed = rows(text)
            #expect(parsed == [Row(symbol: "S", ms: 7, price: 2.5, qty: 3, side: .sell, id: "3")], "pad \(pad)")
        }
    }

    @Test func nextQuoteMatchesAByteLoop() {
        // Seeded random bytes rich in quotes and backslashes: the word-at-a-time search agrees with
        // a plain loop from every start offset.
        var rng = SplitMix64(seed: 42)
        let alphabet: [UInt8] = [34, 92, 97, 58, 0x80, 0xff, 0x21, 0x23, 0x5b, 0x5d]
        for _ in 0..<200 {
            let length = Int(rng.next() % 40)
            let bytes = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            bytes.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                for start in 0...length {
                    for orBackslash in [false, true] {
                        let expected = (start..<length).first { buffer[$0] == 34 || (orBackslash && buffer[$0] == 92) } ?? length
                        #expect(TradeParser.nextQuote(base, start, length, orBackslash: orBackslash) == expected)
                    }
                }
            }
        }
    }

    @Test func integersEightDigitsAtATimeMatchADigitLoop() {
        // Seeded random digit runs (up to 24 long, so the 19-digit cap and wrapping are met),
        // with a sign and a stop byte from both sides of the digits' range ('/' and ':' are the
        // bytes next to '0' and '9'): the word steps agree with one digit per step, from every offset.
        func reference(_ b: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int64? {
            var position = start, negative = false, value: Int64 = 0, digits = 0
            if position < n, b[position] == 45 { negative = true; position += 1 }
            while position < n, b[position] >= 48, b[position] <= 57, digits < 19 {
                value = value &* 10 &+ Int64(b[position] - 48)
                position += 1
                digits += 1
            }
            return digits > 0 ? (negative ? -value : value) : nil
        }
        var rng = SplitMix64(seed: 18)
        let stops: [UInt8] = [47, 58, 44, 125, 0, 0xb0, 0x39 &+ 0xc7]
        for _ in 0..<400 {
            var bytes: [UInt8] = rng.next() % 4 == 0 ? [45] : []
            bytes += (0..<Int(rng.next() % 25)).map { _ in UInt8(48 + rng.next() % 10) }
            if rng.next() % 2 == 0 { bytes.append(stops[Int(rng.next() % UInt64(stops.count))]) }
            bytes += (0..<Int(rng.next() % 10)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                for start in 0...buffer.count {
                    for end in [buffer.count, max(start, buffer.count - 3)] {
                        #expect(TradeParser.integer(base, start, end) == reference(base, start, end), "\(bytes) from \(start) to \(end)")
                    }
                }
            }
        }
        let words: [(String, UInt64?)] = [("12345678", 12_345_678), ("00000000", 0), ("99999999", 99_999_999), ("1234567:", nil), ("/2345678", nil)]
        for (text, value) in words {
            let word = Array(text.utf8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }
            #expect(TradeParser.isEightDigits(word) == (value != nil), "\(text)")
            if let value { #expect(TradeParser.eightDigitsValue(word) == value, "\(text)") }
        }
    }

    @Test func decimalsAreTheCorrectlyRoundedDoubles() {
        // Seeded random decimal texts in the venues' shapes and around the fast path's limits
        // (leading and trailing zeros, up to 20 digits on either side of the dot, a sign): the
        // value equals Swift's own correctly rounded parse, bit for bit.
        var rng = SplitMix64(seed: 1818)
        func digits(_ count: Int, zeros: Bool) -> String {
            String((0..<count).map { _ in zeros && rng.next() % 3 == 0 ? "0" : Character(String(rng.next() % 10)) })
        }
        var texts = ["0", "0.0", "0.00000000", "67000.00", "67000.01000000", "0.83656877", "0.00000001", "123456789012345.5", "1.23456789012345678"]
        for _ in 0..<3000 {
            let whole = Int(rng.next() % 8) == 0 ? digits(Int(rng.next() % 20) + 1, zeros: true) : digits(Int(rng.next() % 6) + 1, zeros: true)
            let fraction = digits(Int(rng.next() % 21), zeros: rng.next() % 2 == 0)
            let sign = rng.next() % 5 == 0 ? "-" : ""
            texts.append(fraction.isEmpty ? sign + whole : "\(sign)\(whole).\(fraction)")
        }
        for text in texts {
            let expected = Double(text)
            let parsed = Array(text.utf8).withUnsafeBytes { TradeParser.decimal($0) }
            #expect(parsed?.bitPattern == expected?.bitPattern, "\(text): \(String(describing: parsed)) vs \(String(describing: expected))")
        }
    }
}
