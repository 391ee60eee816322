import K2Capture
import K2Core
import Testing

/// The venue answers both the exchange simulator and the `ws://` replay sink write, byte for
/// byte as the venues' docs show them.
@Suite struct VenueAnswersTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func binanceAnswersEchoTheRequestID() {
        #expect(text(VenueAnswers.binanceResult(id: "7")) == #"{"result":null,"id":7}"#)
        #expect(
            text(VenueAnswers.binanceList(["btcusdt@trade", "ethusdt@depth"], id: #""a""#))
                == #"{"result":["btcusdt@trade","ethusdt@depth"],"id":"a"}"#)
        #expect(text(VenueAnswers.binanceError(code: 3, "Invalid JSON", id: "null")) == #"{"error":{"code":3,"msg":"Invalid JSON"},"id":null}"#)
    }

    @Test func binanceCombinedWrapperRoundTrips() throws {
        let raw = Array(#"{"e":"trade","s":"BTCUSDT","data":1}"#.utf8)
        let wrapped = VenueAnswers.wrapCombined(raw, stream: "btcusdt@trade")
        #expect(text(wrapped) == #"{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","data":1}}"#)
        #expect(Array(try #require(VenueAnswers.unwrapCombined(wrapped))) == raw)
        #expect(VenueAnswers.unwrapCombined(raw) == nil)
    }

    @Test func krakenStatusNamesTheBookDepthAndEchoesReqid() {
        // A book subscription without a depth is book-10, as on the venue.
        #expect(
            text(VenueAnswers.krakenStatus(channelID: 101, name: "book", depth: nil, pair: "XBT/USD", reqid: "4", subscribed: true))
                == #"{"channelID":101,"channelName":"book-10","event":"subscriptionStatus","pair":"XBT/USD","reqid":4,"status":"subscribed","subscription":{"depth":10,"name":"book"}}"#
        )
        #expect(
            text(VenueAnswers.krakenStatus(channelID: 100, name: "trade", depth: nil, pair: "XBT/USD", reqid: nil, subscribed: false))
                == #"{"channelID":100,"channelName":"trade","event":"subscriptionStatus","pair":"XBT/USD","status":"unsubscribed","subscription":{"name":"trade"}}"#
        )
        #expect(
            text(VenueAnswers.krakenError("Subscription depth not supported", name: "book", depth: 7, pair: "XBT/USD", reqid: nil))
                == #"{"errorMessage":"Subscription depth not supported","event":"subscriptionStatus","pair":"XBT/USD","status":"error","subscription":{"depth":7,"name":"book"}}"#
        )
        #expect(
            text(VenueAnswers.krakenEventError("Unsupported event", reqid: "9")) == #"{"errorMessage":"Unsupported event","event":"error","reqid":9}"#
        )
        #expect(text(VenueAnswers.krakenPong(reqid: nil)) == #"{"event":"pong"}"#)
        #expect(
            text(VenueAnswers.withKrakenChannelID(Array(#"[0,[["1.0","2.0"]],"trade","XBT/USD"]"#.utf8), 345))
                == #"[345,[["1.0","2.0"]],"trade","XBT/USD"]"#)
    }

    /// The docs' heartbeats example, with the counter as the number the venue sends:
    /// `timestamp` in RFC3339Nano (trailing zeros cut), `current_time` with all nine digits.
    @Test func coinbaseHeartbeatIsTheDocumentedExample() {
        #expect(
            text(VenueAnswers.coinbaseHeartbeat(counter: 3049, nanos: 1_687_552_286_122_969_570, uptimeNanos: 91_717_525_857_105, sequence: 0))
                == #"{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.12296957Z","sequence_num":0,"events":[{"current_time":"2023-06-23 20:31:26.122969570 +0000 UTC m=+91717.525857105","heartbeat_counter":3049}]}"#
        )
    }

    @Test func coinbaseSubscriptionsListChannelsInNameOrder() {
        let ack = VenueAnswers.coinbaseSubscriptions(["market_trades": ["ETH-USD", "BTC-USD"], "heartbeats": ["heartbeats"]], nanos: 0, sequence: 3)
        #expect(
            text(ack)
                == #"{"channel":"subscriptions","client_id":"","timestamp":"1970-01-01T00:00:00Z","sequence_num":3,"events":[{"subscriptions":{"heartbeats":["heartbeats"],"market_trades":["ETH-USD","BTC-USD"]}}]}"#
        )
    }

    @Test func coinbaseSequenceIsRewrittenInPlace() {
        var message = Array(#"{"channel":"l2_data","client_id":"","timestamp":"t","sequence_num":41,"events":[]}"#.utf8)
        #expect(VenueAnswers.setCoinbaseSequence(1234, in: &message))
        #expect(text(message) == #"{"channel":"l2_data","client_id":"","timestamp":"t","sequence_num":1234,"events":[]}"#)
        var none = Array(#"{"type":"match","sequence":5}"#.utf8)
        #expect(!VenueAnswers.setCoinbaseSequence(1, in: &none))
        #expect(text(none) == #"{"type":"match","sequence":5}"#)
    }

    @Test func trimmedTimestampsDropTrailingZerosAndTheDot() {
        #expect(TimeText.iso8601(nanos: 1_675_974_775_396_251_350, trimZeros: true) == "2023-02-09T20:32:55.39625135Z")
        #expect(TimeText.iso8601(nanos: 1_675_974_775_000_000_000, trimZeros: true) == "2023-02-09T20:32:55Z")
        #expect(TimeText.iso8601(nanos: 1_675_974_775_000_000_000) == "2023-02-09T20:32:55.000000000Z")
    }
}
