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
}
