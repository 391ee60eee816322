import K2Replay
import Testing

/// `k2 broker --control-port`: the command language (the socket is tested in K2IntegrationTests).
struct BrokerControlTests {
    func parsed(_ line: String) -> BrokerControl.Command? { try? BrokerControl.parse(line, brokers: 3).get() }
    func refusal(_ line: String) -> String {
        if case let .failure(error) = BrokerControl.parse(line, brokers: 3) { return error.what }
        return "accepted"
    }

    @Test func commandsParseWithNamesNumbersAndDurations() {
        #expect(parsed("down 1") == .down(broker: 1))
        #expect(parsed("  UP   3 ") == .up(broker: 3))
        #expect(parsed("rtt 2 200ms") == .rtt(broker: 2, millis: 200))
        #expect(parsed("rtt 2 0") == .rtt(broker: 2, millis: 0))
        #expect(parsed("errors Produce NOT_LEADER_OR_FOLLOWER 50") == .errors(api: 0, code: 6, count: 50))
        #expect(parsed("errors metadata REQUEST_TIMED_OUT 1") == .errors(api: 3, code: 7, count: 1))
        #expect(parsed("errors 0 6 2") == .errors(api: 0, code: 6, count: 2))
        #expect(parsed("clear Produce") == .clearErrors(api: 0))
        #expect(parsed("leader market.crypto.trades.binance 0 2") == .leader(topic: "market.crypto.trades.binance", partition: 0, broker: 2))
        #expect(parsed("topic-error t UNKNOWN_TOPIC_OR_PART") == .topicError(topic: "t", code: 3))
        #expect(parsed("topic-error t 0") == .topicError(topic: "t", code: 0))
        #expect(parsed("help") == .help)
        #expect(parsed("time") == .time)
    }

    @Test func badCommandsSayWhatIsWrong() {
        #expect(refusal("") == "empty command")
        #expect(refusal("down 4") == "'4' is not a broker (1…3)")
        #expect(refusal("down") == "wrong number of arguments for 'down'")
        #expect(refusal("rtt 1 fast").hasPrefix("'fast' is not a round-trip time"))
        #expect(refusal("rtt 1 2m").hasPrefix("'2m' is not a round-trip time"))
        #expect(refusal("errors Shout 6 1").hasPrefix("'Shout' is not a Kafka API"))
        #expect(refusal("errors Produce NOPE 1").hasPrefix("'NOPE' is not a Kafka error"))
        #expect(refusal("errors Produce 6 0").hasPrefix("'0' is not a count"))
        #expect(refusal("leader t x 1") == "'x' is not a partition")
        #expect(refusal("reboot") == "unknown command 'reboot'")
    }
}
