import K2Bench
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// Exchange faults played by the `ws://` sink (a workload's `target: exchange`), seen by a raw
/// RFC 6455 client that shares no code with K2Net: what arrives, in which order, and how each
/// message is accounted.
@Suite(.serialized)
struct ExchangeFaultTests {
    /// 20 BTCUSDT trades as replayed payloads, and the raw payload (`"t":ID`) a `/ws` client sees.
    static let trades: [String] = (1...20).map {
        #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":\#($0),"p":"1.0","q":"1.0","T":1,"m":true}}"#
    }
    static func tradeID(_ text: String) -> Int? {
        guard let range = text.range(of: #""t":"#) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    func subscribed() throws -> (WebSocketSink, RawWebSocketClient) {
        let sink = try SinkFactory.make("ws://127.0.0.1:0?wait=0&venue=binance") as! WebSocketSink
        try sink.open()
        let client = try RawWebSocketClient(port: sink.boundPort, target: "/ws", readTimeoutMillis: 2000)
        try client.send(text: #"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#)
        #expect(try client.receive() == #"{"result":null,"id":1}"#)
        return (sink, client)
    }

    @Test func gapDuplicateReorderAndMalformedAsTheClientSeesThem() throws {
        let (sink, client) = try subscribed()
        replayAsReceived(Array(Self.trades[0..<2]), to: sink, exchange: "binance")  // 1, 2
        sink.inject(.gap(count: 2))
        replayAsReceived(Array(Self.trades[2..<5]), to: sink, exchange: "binance")  // 3, 4 withheld; 5
        sink.inject(.duplicate(count: 1))
        sink.inject(.malformed(count: 1))
        replayAsReceived(Array(Self.trades[5..<6]), to: sink, exchange: "binance")  // broken frame, 6, 6
        sink.inject(.reorder(count: 1))
        replayAsReceived(Array(Self.trades[6..<10]), to: sink, exchange: "binance")  // 8, 7, 9, 10
        let frames = try client.receive(upTo: 10)
        #expect(frames.count == 10)
        #expect(frames.map { Self.tradeID($0) } == [1, 2, 5, nil, 6, 6, 8, 7, 9, 10])
        #expect(frames[3] == #"{"k2_fault":"malformed","#)
        #expect(waitUntilTrue { sink.counts.inFlight == 0 })
        // Withheld messages are unrouted (sent on purpose to no one), never delivered or failed.
        #expect(sink.counts.delivered == 8 && sink.counts.unrouted == 2 && sink.counts.failed == 0 && sink.counts.dropped == 0)
        try sink.finish(timeoutNanos: 1_000_000_000)
    }

    /// A counted fault skips messages no connected client subscribed to: a gap no one sees is no gap.
    @Test func faultsCountOnlyMessagesAClientSubscribedTo() throws {
        let (sink, client) = try subscribed()
        let eth = Self.trades[0].replacingOccurrences(of: "btcusdt", with: "ethusdt").replacingOccurrences(of: "BTCUSDT", with: "ETHUSDT")
        sink.inject(.gap(count: 1))
        replayAsReceived([eth, Self.trades[0], Self.trades[1]], to: sink, exchange: "binance")
        #expect(try client.receive(upTo: 1).map { Self.tradeID($0) } == [2])
        #expect(waitUntilTrue { sink.counts.inFlight == 0 })
        #expect(sink.counts.unrouted == 2 && sink.counts.delivered == 1)  // ETH (no subscriber) and the withheld BTC 1
        try sink.finish(timeoutNanos: 1_000_000_000)
    }

    @Test func aStallHoldsMessagesAndSendsThemInOrderAtItsEnd() throws {
        let (sink, client) = try subscribed()
        sink.inject(.stall)
        replayAsReceived(Array(Self.trades[0..<5]), to: sink, exchange: "binance")
        #expect(waitUntilTrue { sink.counts.sent == 5 })
        #expect(sink.counts.inFlight == 5)  // held, not yet delivered
        sink.endStall()
        let frames = try client.receive(upTo: 5)
        #expect(frames.map { Self.tradeID($0) } == [1, 2, 3, 4, 5])
        #expect(waitUntilTrue { sink.counts.delivered == 5 })
        // A stall still in force at the end: finish sends what it holds.
        sink.inject(.stall)
        replayAsReceived(Array(Self.trades[5..<7]), to: sink, exchange: "binance")
        #expect(waitUntilTrue { sink.counts.sent == 7 })
        try sink.finish(timeoutNanos: 2_000_000_000)
        #expect(sink.counts.delivered == 7 && sink.counts.inFlight == 0)
    }

    @Test func aDisconnectCutsTheClientsAndTheyNoLongerCount() throws {
        let (sink, client) = try subscribed()
        replayAsReceived(Array(Self.trades[0..<2]), to: sink, exchange: "binance")
        #expect(try client.receive(upTo: 2).count == 2)
        sink.inject(.disconnect)
        // The TCP connection ends (end of stream or a reset) without a close frame.
        let afterCut: String? = (try? client.receive()) ?? nil
        #expect(afterCut == nil && client.closeCode == nil)
        #expect(waitUntilTrue { sink.clientCount == 0 })
        // A feed handler reconnects and subscribes again: it gets what follows; the cut client is
        // not counted as a dropped delivery.
        let again = try RawWebSocketClient(port: sink.boundPort, target: "/ws", readTimeoutMillis: 2000)
        try again.send(text: #"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":2}"#)
        #expect(try again.receive() == #"{"result":null,"id":2}"#)
        replayAsReceived(Array(Self.trades[2..<5]), to: sink, exchange: "binance")
        #expect(try again.receive(upTo: 3).map { Self.tradeID($0) } == [3, 4, 5])
        #expect(waitUntilTrue { sink.counts.inFlight == 0 })
        #expect(sink.counts.delivered == 5 && sink.counts.dropped == 0 && sink.counts.failed == 0)
        try sink.finish(timeoutNanos: 1_000_000_000)
    }
}

/// A `k2 bench run` workload with k2 as the exchange (`ws://` sink) and a `target: exchange`
/// fault schedule, with a raw client as the feed handler: the faults happen at their times, the
/// client sees each one, and the wait for the client is not part of the measured window.
@Suite(.serialized)
struct ExchangeFaultWorkloadTests {
    @Test func aWorkloadPlaysExchangeFaultsToItsClient() throws {
        let tmp = TemporaryDirectory()
        let capture = tmp.file("t.k2cap")
        try SampleTraffic(seed: 3, symbols: ["BTCUSDT"]).write(to: capture, count: 6_000)
        let port = FreePort.next()
        let workload = try WorkloadLoader.parse(
            """
            name: exchange-faults
            source: {captures: [\(capture)]}
            rate: 500
            duration: 5s
            sinks: ["ws://127.0.0.1:\(port)?wait=1&venue=binance"]
            faults:
              - {at: 1s, target: exchange, action: gap, count: 5}
              - {at: 2s, target: exchange, action: duplicate, count: 3}
              - {at: 2500ms, target: exchange, action: malformed, count: 2}
              - {at: 4s, target: exchange, action: disconnect}
            """, file: tmp.file("w.yaml"))
        let frames = LockedValue<[String]>([])
        let client = JoinableThread.start {
            guard let client = RawWebSocketClient.connecting(port: port, target: "/ws") else { return }
            try? client.send(text: #"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#)
            while let frame = try? client.receive() { frames.mutate { $0.append(frame) } }
        }
        let out = try WorkloadRun.run(workload)
        client?.join()
        let run = try #require(out.report.runs.first)
        // The client was waited for before the clock started: the first interval already sent.
        #expect((run.intervals.first?.sentMsgs ?? 0) > 100, "\(run.intervals.map(\.sentMsgs))")
        let faults = try #require(run.faults)
        #expect(
            faults.map(\.what) == [
                "exchange skips 5 message(s)", "exchange sends 3 message(s) twice", "exchange sends 2 malformed frame(s)",
                "exchange drops every client",
            ])
        #expect(faults.allSatisfy { $0.outcome == "ok" && $0.target == "exchange" })
        let received = frames.value
        #expect(received.first == #"{"result":null,"id":1}"#)
        let ids = received.compactMap { ExchangeFaultTests.tradeID($0) }
        #expect(received.filter { $0 == #"{"k2_fault":"malformed","# }.count == 2)
        #expect(ids.count - Set(ids).count == 3, "duplicates")
        let jumps = zip(ids, ids.dropFirst()).filter { $1 > $0 + 1 }.map { $1 - $0 - 1 }
        #expect(jumps == [5], "gaps in the ids the client saw: \(jumps)")
        // Cut at 4 s of 5: the client saw about four fifths of what was sent, no more.
        #expect(ids.count < Int(run.sinks[0].sent))
    }
}

/// `ledger: true` keeps the ledger in a run without faults: every message sent to the embedded
/// broker is read back by its `k2-id`, exactly once.
@Suite(.serialized)
struct LedgerWithoutFaultsTests {
    @Test func aRunWithoutFaultsKeepsTheLedgerWhenAskedTo() throws {
        let tmp = TemporaryDirectory()
        let capture = tmp.file("t.k2cap")
        try SampleTraffic(seed: 4).write(to: capture, count: 4_000)
        var workload = try WorkloadLoader.parse(
            """
            name: ledger-only
            source: {captures: [\(capture)]}
            rate: 1k
            duration: 2s
            sinks: ["kafka://embedded?topic=ledger.only"]
            ledger: true
            """, file: tmp.file("w.yaml"))
        #expect(workload.keepsLedger && workload.faults.isEmpty)
        let out = try WorkloadRun.run(workload)
        let metrics = out.report.metrics
        let delivered = try #require(metrics["ledger.kafka.delivered"]?.value)
        #expect(delivered > 1_000)
        #expect(metrics["ledger.topic.read"]?.value == delivered, "\(metrics.filter { $0.key.hasPrefix("ledger.") })")
        #expect(metrics["ledger.lost.k2"]?.value ?? 0 == 0 && metrics["ledger.duplicates.k2"]?.value ?? 0 == 0)
        // Without the key, a run without faults keeps none.
        workload.ledger = nil
        #expect(!workload.keepsLedger)
    }
}
