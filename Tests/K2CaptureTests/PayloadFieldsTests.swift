import K2Core
import Testing

@testable import K2Capture

/// The fields replay, filters and inspect take from venue messages, one row per message shape.
@Suite struct PayloadFieldsTests {
    @Test(
        arguments: [
            (
                #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"1.0","q":"2","T":1,"m":true,"M":true}}"#,
                "btcusdt@trade", "BTCUSDT", "trade"
            ),
            (
                #"{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":1,"u":2,"b":[],"a":[]}}"#,
                "ethusdt@depth@100ms", "ETHUSDT", "depthUpdate"
            ),
            (#"{"data":{"s":"SOLUSDT","e":"aggTrade"},"stream":"solusdt@aggTrade"}"#, "solusdt@aggTrade", "SOLUSDT", "aggTrade"),
            (#"{"e":"trade","E":1,"s":"BNBUSDT","t":1}"#, nil, "BNBUSDT", "trade"),
            (#"[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]"#, "trade", "XBT/USD", "trade"),
            (#"[1234,{"a":[["5541.30000","2.50700000","1534614248.456738"]]},"book-10","XBT/USD"]"#, "book-10", "XBT/USD", "book-10"),
            (
                #"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":0,"events":[{"type":"snapshot","trades":[{"trade_id":"1","product_id":"ETH-USD","price":"1.0","size":"2","side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}"#,
                "market_trades", "ETH-USD", "market_trades"
            ),
            (#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy"}]}"#, "trade", "BTC/USD", "trade"),
            (#"{"event":"heartbeat"}"#, nil, nil, "heartbeat"),
            ("", nil, nil, nil),
            ("not json at all", nil, nil, nil),
        ] as [(String, String?, String?, String?)])
    func extractsStreamSymbolAndEvent(payload: String, stream: String?, symbol: String?, event: String?) {
        var text = payload
        text.withUTF8 { buf in
            let fields = PayloadFields.extract(UnsafeRawBufferPointer(buf))
            #expect(fields.streamString == stream)
            #expect(fields.symbolString == symbol)
            #expect(fields.eventString == event)
        }
    }

    /// Whole JSON objects and arrays pass; every proper prefix of them (a frame cut short, as
    /// `k2 sim exchange --malformed-every` sends) and mismatched or trailing brackets fail.
    @Test func wholeJSONIsToldFromFramesCutShort() {
        let whole = [
            #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":164486339,"p":"1.0","q":"2","T":1,"m":true,"M":true}}"#,
            #"[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]"#,
            #"{"channel":"l2_data","events":[{"updates":[{"side":"bid"},{"side":"offer"}]}],"note":"a \"quoted\" ] and } inside"}"#,
            " {\"event\":\"heartbeat\"}\n",
            #"{"a":"# + String(repeating: "[", count: 70) + "1" + String(repeating: "]", count: 70) + "}",
        ]
        for text in whole {
            let bytes = Array(text.utf8)
            bytes.withUnsafeBytes { #expect(PayloadFields.isWholeJSON($0), "\(text)") }
            let end = bytes.lastIndex { $0 == 125 || $0 == 93 } ?? bytes.count
            for cut in 0..<end {
                Array(bytes[0..<cut]).withUnsafeBytes { #expect(!PayloadFields.isWholeJSON($0), "\(text.prefix(cut))") }
            }
        }
        for text in ["", "  ", "pong", "42", #""text""#, "{]", "[}", #"{"a":1}}"#, #"{"a":1} {"b":2}"#, #"{"a":"b\"}"#, #"[1]x"#] {
            Array(text.utf8).withUnsafeBytes { #expect(!PayloadFields.isWholeJSON($0), "\(text)") }
        }
    }

    @Test func integersAreReadAfterAnOffset() {
        var text = #"{"e":"depthUpdate","U":157,"u":160}"#
        text.withUTF8 { buf in
            let bytes = UnsafeRawBufferPointer(buf)
            #expect(PayloadFields.intValue(bytes, key: Array("\"U\":".utf8)) == 157)
            #expect(PayloadFields.intValue(bytes, key: Array("\"u\":".utf8)) == 160)
            #expect(PayloadFields.intValue(bytes, key: Array("\"t\":".utf8)) == nil)
        }
    }

    /// The byte-for-byte match of Binance's layout gives what the key search gives, on the
    /// layout itself and on near misses of it (which must fall back to the search).
    @Test func binanceLayoutMatchAgreesWithTheSearch() {
        let texts = [
            #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":5,"p":"1.0"}}"#,
            #"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":9,"s":"BTCUSDT","U":1,"u":2}}"#,
            #"{"stream":"x","data":{"e":"trade","E":,"s":"S"}}"#,
            #"{"stream":"x","data":{"e":"trade","T":1,"s":"S"}}"#,
            #"{"stream":"x","data":{"E":1,"e":"trade","s":"S"}}"#,
            #"{"stream": "x","data":{"e":"trade","E":1,"s":"S"}}"#,
            #"{"stream":"x","data":{"e":"trade","E":1,"s":"S\"Q"}}"#,
            #"{"stream":"x","data":{"e":"trade","E":1,"s":"S"#,
            #"{"stream":"x","data":{"e":"trade","E":1,"s":"#,
            #"{"stream":"x","data":{"e":"trade","E":1"#,
            #"{"stream":"x""#,
            #"{"stream":"#,
        ]
        for text in texts {
            var mutableText = text
            mutableText.withUTF8 { buf in
                let bytes = UnsafeRawBufferPointer(buf)
                let fast = PayloadFields.extract(bytes), slow = PayloadFields.extractSearching(bytes)
                #expect(fast.streamString == slow.streamString, "\(text)")
                #expect(fast.symbolString == slow.symbolString, "\(text)")
                #expect(fast.eventString == slow.eventString, "\(text)")
            }
        }
        // The first two match the layout (no search needed).
        var sample = texts[0]
        sample.withUTF8 { #expect(PayloadFields.binanceCombined(UnsafeRawBufferPointer($0))?.symbolString == "BTCUSDT") }
        sample = texts[4]
        sample.withUTF8 { #expect(PayloadFields.binanceCombined(UnsafeRawBufferPointer($0)) == nil) }
    }

    /// Every cut of a Binance message (a torn record) gives the same fields either way.
    @Test func everyPrefixOfABinanceMessageAgrees() {
        let text = #"{"stream":"ethusdt@aggTrade","data":{"e":"aggTrade","E":1700000000123,"s":"ETHUSDT","a":77,"p":"2000.5"}}"#
        let bytes = Array(text.utf8)
        for length in 0...bytes.count {
            bytes.withUnsafeBytes { all in
                let prefix = UnsafeRawBufferPointer(rebasing: all[0..<length])
                let fast = PayloadFields.extract(prefix), slow = PayloadFields.extractSearching(prefix)
                #expect(
                    fast.streamString == slow.streamString && fast.symbolString == slow.symbolString
                        && fast.eventString == slow.eventString, "first \(length) bytes")
            }
        }
    }

    /// The word-at-a-time quote and digit scans give what a byte loop gives, for every start
    /// offset and every place of the first quote, backslash or non-digit, around the word
    /// boundaries and the buffer's end (where the last bytes are read one by one).
    @Test func wordScansAgreeWithByteLoops() {
        let stops: [UInt8] = [34, 92, 47, 58, 0x2A, 0x29, 0, 0xFA, 0xFF, 32]
        for length in 0...24 {
            for stopAt in 0...length {
                for stop in stops {
                    // Digits, then `stop` at `stopAt` (none when stopAt == length), then more digits.
                    var bytes = [UInt8](repeating: 55, count: length)
                    if stopAt < length { bytes[stopAt] = stop }
                    if stopAt + 1 < length { bytes[stopAt + 1] = 34 }
                    bytes.withUnsafeBytes { p in
                        for from in 0...length {
                            #expect(PayloadFields.digitsEnd(p, from: from) == Self.digitsEndByBytes(p, from: from), "\(bytes) from \(from)")
                            #expect(PayloadFields.closingQuote(p, from: from) == Self.closingQuoteByBytes(p, from: from), "\(bytes) from \(from)")
                        }
                    }
                }
            }
        }
    }

    /// Binance's layout matched with the word scans gives what the byte-by-byte match gave, on
    /// real shapes and on 20,000 seeded corruptions of them: quotes, backslashes, spaces and
    /// non-digits dropped at random places, and random cuts (a torn record).
    @Test func binanceLayoutMatchAgreesWithTheByteLoopMatch() {
        let shapes = [
            #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":5,"p":"1.0"}}"#,
            #"{"stream":"xrpusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000001,"s":"XRPUSDT","U":4,"u":8}}"#,
            #"{"stream":"ethusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"ETHUSDT","a":77}}"#,
            #"{"stream":"","data":{"e":"","E":12345678,"s":""}}"#,
            #"{"stream":"abcdefgh","data":{"e":"abcdefgh","E":1234567890123456,"s":"ABCDEFGH"}}"#,
        ]
        var random = SplitMix64(seed: 18)
        let noise: [UInt8] = [34, 92, 32, 48, 57, 47, 58, 44, 97, 0, 0xFA, 0xFF, 123, 125]
        var mismatches = 0
        var matched = 0
        for round in 0..<20_000 {
            var bytes = Array(shapes[round % shapes.count].utf8)
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = noise.randomElement(using: &random)!
            }
            if Bool.random(using: &random) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &random)) }
            bytes.withUnsafeBytes { p in
                let fast = PayloadFields.binanceCombined(p)
                let reference = Self.binanceCombinedByBytes(p)
                if fast != nil { matched += 1 }
                if fast?.streamString != reference?.streamString || fast?.eventString != reference?.eventString
                    || fast?.symbolString != reference?.symbolString || (fast == nil) != (reference == nil)
                {
                    mismatches += 1
                    Issue.record("\(String(decoding: bytes, as: UTF8.self))")
                }
            }
        }
        #expect(mismatches == 0)
        #expect(matched > 1_000, "the corpus must exercise the match, not only its refusals")
    }

    /// An escaped quote in a name, a key inside an escaped string (not taken), a nested object,
    /// a missing key, a non-digit time: the layout match refuses and the search decides, as before.
    @Test func layoutMatchEdgeCases() {
        let cases: [(String, String?, String?, String?)] = [
            (#"{"stream":"btc\"usdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT"}}"#, nil, "BTCUSDT", "trade"),
            (#"{"stream":"a,\"s\":\"FAKE","data":{"e":"trade","E":1,"s":"BTCUSDT"}}"#, nil, "BTCUSDT", "trade"),
            (#"{"stream":"s","data":{"e":"trade","E":1,"x":{"s":"INNER"},"s":"OUTER"}}"#, "s", "INNER", "trade"),
            (#"{"stream":"s","data":{"e":"trade","E":1}}"#, "s", nil, "trade"),
            (#"{"stream":"s","data":{"e":"trade","E":12x,"s":"BTCUSDT"}}"#, "s", "BTCUSDT", "trade"),
            (#"{"stream":"s","data":{"e":"trade","E":1,"s":"BTC\"USDT"}}"#, "s", nil, "trade"),
        ]
        for (text, stream, symbol, event) in cases {
            var mutableText = text
            mutableText.withUTF8 { buf in
                let fields = PayloadFields.extract(UnsafeRawBufferPointer(buf))
                #expect(fields.streamString == stream, "\(text)")
                #expect(fields.symbolString == symbol, "\(text)")
                #expect(fields.eventString == event, "\(text)")
            }
        }
    }

    // The byte-by-byte scans the word scans replaced (the reference they must agree with).

    static func closingQuoteByBytes(_ p: UnsafeRawBufferPointer, from: Int) -> Int? {
        var cursor = from
        while cursor < p.count, p[cursor] != 34 {
            if p[cursor] == 92 { return nil }
            cursor += 1
        }
        return cursor < p.count ? cursor : nil
    }

    static func digitsEndByBytes(_ p: UnsafeRawBufferPointer, from: Int) -> Int {
        var cursor = from
        while cursor < p.count, p[cursor] >= 48, p[cursor] <= 57 { cursor += 1 }
        return cursor
    }

    static func stringByBytes(_ p: UnsafeRawBufferPointer, _ at: Int) -> UnsafeRawBufferPointer? {
        var index = at
        while index < p.count, p[index] == 32 { index += 1 }
        guard index < p.count, p[index] == 34, let closing = closingQuoteByBytes(p, from: index + 1) else { return nil }
        return UnsafeRawBufferPointer(rebasing: p[(index + 1)..<closing])
    }

    static func binanceCombinedByBytes(_ p: UnsafeRawBufferPointer) -> PayloadFields? {
        func has(_ at: Int, _ text: String) -> Bool {
            let bytes = Array(text.utf8)
            return at >= 0 && p.count - at >= bytes.count && bytes.indices.allSatisfy { p[at + $0] == bytes[$0] }
        }
        guard has(0, #"{"stream":"#), let stream = stringByBytes(p, 10) else { return nil }
        var position = PayloadFields.end(of: stream, in: p)
        guard has(position, #","data":{"e":"#), let event = stringByBytes(p, position + 13) else { return nil }
        position = PayloadFields.end(of: event, in: p)
        guard has(position, #","E":"#) else { return nil }
        position = digitsEndByBytes(p, from: position + 5)
        guard has(position, #","s":"#), let symbol = stringByBytes(p, position + 5) else { return nil }
        return PayloadFields(stream: stream, symbol: symbol, event: event)
    }
}
