import K2Capture
import K2Core
import K2Net
import K2Replay
import K2TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hands `payloads` to the sink as replayed `recv` messages of `exchange`.
func replayAsReceived(_ payloads: [String], to sink: any ReplaySink, exchange: String) {
    for (index, text) in payloads.enumerated() {
        let record = OwnedRecord(kind: .recv, timestamp: 1_700_000_000_000_000_000 + Int64(index), connection: 0, text: text)
        record.withView { view in
            let message = ReplayMessage(
                record: view, fields: PayloadFields.extract(view.payload), sequence: UInt64(index),
                captureNanos: view.timestamp, intendedNanos: 0, actualNanos: 0, exchange: exchange)
            try? sink.send(message)
        }
    }
}

/// The `ws://` sink as the venue it impersonates, checked with `RawWebSocketClient` (RFC 6455
/// from scratch, no K2Net code): subscriptions in each venue's grammar, acks, heartbeats,
/// per-connection sequence numbers, and delivery accounting per client.
@Suite(.serialized)
struct WebSocketVenueTests {
    func replay(_ payloads: [String], to sink: any ReplaySink, exchange: String) {
        replayAsReceived(payloads, to: sink, exchange: exchange)
    }

    func openSink(_ uri: String) throws -> (any ReplaySink, Int) {
        let sink = try SinkFactory.make(uri)
        try sink.open()
        return (sink, (sink as! WebSocketSink).boundPort)
    }

    @Test func aClientThatHasNotSubscribedReceivesNothing() throws {
        let (sink, port) = try openSink("ws://127.0.0.1:0?wait=0")
        let client = try RawWebSocketClient(port: port, target: "/", readTimeoutMillis: 300)
        #expect(waitUntilTrue { (sink as! WebSocketSink).clientCount == 1 })
        let payloads = SampleTraffic(symbols: ["BTCUSDT", "ETHUSDT"]).records(count: 50).filter { $0.kind == .recv }
            .map { String(decoding: $0.payload, as: UTF8.self) }
        replay(payloads, to: sink, exchange: "binance")
        #expect(waitUntilTrue { sink.counts.inFlight == 0 })
        // Before: the client on "/" got all 50 messages and they counted as delivered.
        #expect(try client.receive(upTo: 1).isEmpty)
        #expect(sink.counts.unrouted == 50 && sink.counts.delivered == 0 && sink.counts.dropped == 0)
        try sink.finish(timeoutNanos: 1_000_000_000)
    }

    @Test func binanceWsSubscribeGetsAnAckAndRawPayloads() throws {
        let (sink, port) = try openSink("ws://127.0.0.1:0?wait=0&venue=binance")
        let client = try RawWebSocketClient(port: port, target: "/ws", readTimeoutMillis: 500)
        try client.send(text: #"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":7}"#)
        #expect(try client.receive() == #"{"result":null,"id":7}"#)
        let records = SampleTraffic(symbols: ["BTCUSDT", "ETHUSDT"]).records(count: 60).filter { $0.kind == .recv }
        let payloads = records.map { String(decoding: $0.payload, as: UTF8.self) }
        let btcTrades = payloads.filter { $0.hasPrefix(#"{"stream":"btcusdt@trade""#) }
        replay(payloads, to: sink, exchange: "binance")
        let got = try client.receive(upTo: btcTrades.count + 1)
        // Before: the combined-stream wrapper ({"stream":…,"data":{…}}) reached a /ws client.
        #expect(got.count == btcTrades.count)
        #expect(got.allSatisfy { $0.hasPrefix(#"{"e":"trade","#) && $0.contains(#""s":"BTCUSDT""#) })
        #expect(got.first.map { btcTrades[0].contains($0) } == true)
        try sink.finish(timeoutNanos: 1_000_000_000)
    }

    @Test func krakenTradeSubscriptionGetsAnAckAndOnlyTradesOfItsPairs() throws {
        let (sink, port) = try openSink("ws://127.0.0.1:0?wait=0&venue=kraken")
        let client = try RawWebSocketClient(port: port)
        #expect(try client.receive()?.contains(#""event":"systemStatus","status":"online""#) == true)
        try client.send(text: #"{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"trade"},"reqid":5}"#)
        let ack = try #require(try client.receive())
        #expect(
            ack.contains(
                #""channelName":"trade","event":"subscriptionStatus","pair":"XBT/USD","reqid":5,"status":"subscribed","subscription":{"name":"trade"}"#
            ))
        let channelID = ack.split(separator: ",")[0].dropFirst(#"{"channelID":"#.count)
        let trade = #"[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]"#
        let payloads = [
            #"{"event":"heartbeat"}"#,
            #"[1234,{"a":[["5541.30000","2.50700000","1534614248.456738"]]},"book-25","XBT/USD"]"#,
            trade,
            #"[340,{"a":["5525.40000",1,"1.000"],"c":["5525.10000","0.00398963"]},"ticker","XBT/USD"]"#,
            #"[0,[["201.10000","1.00000000","1534614057.400000","b","m",""]],"trade","ETH/USD"]"#,
            trade,
        ]
        replay(payloads, to: sink, exchange: "kraken")
        // Before: a trade subscription got the book, ticker and ETH messages too.
        let got = try client.receive(upTo: 2)
        #expect(got == [String(trade.replacingFirst("0", with: String(channelID))), String(trade.replacingFirst("0", with: String(channelID)))])
        #expect(waitUntilTrue { sink.counts.inFlight == 0 })
        #expect(sink.counts.delivered == 2 && sink.counts.unrouted == 4)
        // Then, after a second without traffic, Kraken's heartbeat.
        #expect(try client.receive() == #"{"event":"heartbeat"}"#)
        try sink.finish(timeoutNanos: 1_000_000_000)
    }

    /// A frame that is no request gets the venue's error, the same bytes the simulator sends
    /// (`VenueAnswers.malformedRequest`); before, the sink said nothing.
    @Test func aFrameThatIsNoRequestGetsTheVenuesError() throws {
        for venue in Venue.allCases {
            let (sink, port) = try openSink("ws://127.0.0.1:0?wait=0&venue=\(venue.rawValue)")
            let client = try RawWebSocketClient(port: port)
            if venue == .kraken { #expect(try client.receive()?.contains(#""event":"systemStatus""#) == true) }
            try client.send(text: "hello")
            #expect(try client.receive() == String(decoding: VenueAnswers.malformedRequest(venue), as: UTF8.self), "\(venue)")
            try sink.finish(timeoutNanos: 1_000_000_000)
        }
        #expect(String(decoding: VenueAnswers.malformedRequest(.kraken), as: UTF8.self) == #"{"errorMessage":"Malformed request","event":"error"}"#)
    }

    @Test func coinbaseFilteredClientSeesConsecutiveSequenceNumbers() throws {
        let (sink, port) = try openSink("ws://127.0.0.1:0?wait=0&venue=coinbase")
        let client = try RawWebSocketClient(port: port)
        try client.send(text: #"{"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}"#)
        let ack = try #require(try client.receive())
        #expect(ack.hasPrefix(#"{"channel":"subscriptions","client_id":"","timestamp":""#))
        #expect(ack.hasSuffix(#"","sequence_num":0,"events":[{"subscriptions":{"market_trades":["BTC-USD"]}}]}"#))
        // The venue's connection numbered every product and channel; this client wants BTC trades only.
        var payloads: [String] = []
        for sequence in 0..<30 {
            let product = sequence % 3 == 0 ? "BTC-USD" : "ETH-USD"
            payloads.append(
                #"{"channel":"market_trades","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":\#(sequence),"events":[{"type":"update","trades":[{"trade_id":"\#(sequence)","product_id":"\#(product)","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}"#
            )
        }
        replay(payloads, to: sink, exchange: "coinbase")
        let got = try client.receive(upTo: 10)
        #expect(got.count == 10)
        // Before: sequence_num 0, 3, 6, … (gaps a gap detector reports as losses); now 1, 2, 3, … after the ack's 0.
        let numbers = got.compactMap { text -> Int? in
            guard let range = text.firstRange(of: #""sequence_num":"#) else { return nil }
            return Int(text[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(numbers == Array(1...10))
        #expect(got.allSatisfy { $0.contains(#""product_id":"BTC-USD""#) })
        try sink.finish(timeoutNanos: 1_000_000_000)
    }

    @Test func coinbaseHeartbeatsChannelGetsNumberedHeartbeats() throws {
        let (sink, port) = try openSink("ws://127.0.0.1:0?wait=0&venue=coinbase")
        let client = try RawWebSocketClient(port: port)
        try client.send(text: #"{"type":"subscribe","product_ids":["BTC-USD"],"channel":"heartbeats"}"#)
        try client.send(text: #"{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}"#)
        #expect(try client.receive()?.hasSuffix(#""sequence_num":0,"events":[{"subscriptions":{"heartbeats":["heartbeats"]}}]}"#) == true)
        #expect(
            try client.receive()?.hasSuffix(#""sequence_num":1,"events":[{"subscriptions":{"heartbeats":["heartbeats"],"level2":["BTC-USD"]}}]}"#)
                == true)
        // Then a heartbeat (at once, then every second): counter a number, numbered after the acks.
        let heartbeat = try #require(try client.receive())
        #expect(heartbeat.hasPrefix(#"{"channel":"heartbeats","client_id":"","timestamp":""#))
        #expect(heartbeat.contains(#""sequence_num":2,"events":[{"current_time":""#) && heartbeat.hasSuffix(#","heartbeat_counter":1}]}"#))
        try sink.finish(timeoutNanos: 1_000_000_000)
    }

    @Test func aClientThatLeavesMakesTheReplayIncompleteWithDropsCounted() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("sample.k2cap")
        try SampleTraffic(symbols: ["BTCUSDT", "ETHUSDT"]).write(to: path, count: 600)
        let port = FreePort.next()
        var config = ReplayConfig(files: [path])
        config.pace = .rate(1500)
        let sink = try SinkFactory.make("ws://127.0.0.1:\(port)?wait=1")
        let received = Tally()
        // The client reads 44 frames and drops the connection, as the feed handler of issue 20 did.
        let thread = JoinableThread.start {
            guard let client = RawWebSocketClient.connecting(port: port, target: "/stream?streams=btcusdt@trade/btcusdt@depth@100ms") else { return }
            received.add((try? client.receive(upTo: 44).count) ?? 0)
            client.abort()
        }
        let summary = try ReplayEngine(config: config, sinks: [sink]).run()
        thread?.join()
        let counts = summary.sinks[0].stats.counts
        #expect(received.value == 44)
        // Before: "completed", all 600 counted delivered, exit 0.
        #expect(summary.exitCode == 1)
        #expect(counts.dropped > 0 && counts.delivered >= 44)
        #expect(counts.delivered + counts.failed + counts.unrouted == counts.sent)
        #expect(counts.failed == counts.dropped)  // one client: every drop is a message nobody got
        let clients = summary.json()["sinks"]?.arrayValue?.first?["clients"]?.arrayValue ?? []
        #expect(clients.count == 1 && clients.first?["dropped_left"]?.int64Value == Int64(counts.dropped))
    }

    @Test func restDepthSnapshotsOfTheCaptureAreServedOnTheSamePort() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("snapshots.k2cap")
        let url = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000"
        let early = #"{"lastUpdateId":100,"bids":[["30000.10","1.0"]],"asks":[["30000.20","2.0"]]}"#
        let late = #"{"lastUpdateId":200,"bids":[["30001.10","1.0"]],"asks":[["30001.20","2.0"]]}"#
        let writer = try CaptureWriter(path: path, header: CaptureHeader(createdNanos: 0, host: "test", metadata: [("exchange", .string("binance"))]))
        try writer.append(OwnedRecord(kind: .http, timestamp: 1_000, connection: 0, url: url, text: early))
        try writer.append(OwnedRecord(kind: .http, timestamp: 5_000, connection: 0, url: url, text: late))
        try writer.append(OwnedRecord(kind: .http, timestamp: 6_000, connection: 0, url: url, text: "<html>404</html>"))
        try writer.close()
        let sink = try SinkFactory.make("ws://127.0.0.1:0?wait=0", options: SinkOptions(captures: [path]))
        try sink.open()
        let port = (sink as! WebSocketSink).boundPort
        let loop = NetLoop()
        defer { loop.shutdown() }
        func get(_ target: String) throws -> (Int, String) {
            let response = try HTTPFetch.get(try NetURL("http://127.0.0.1:\(port)\(target)"), loop: loop)
            return (response.status, String(decoding: response.body, as: UTF8.self))
        }
        // Before: 404 for every GET. Before the replay reaches a snapshot, the first one recorded.
        #expect(try get("/api/v3/depth?symbol=BTCUSDT&limit=1000") == (200, early))
        let record = OwnedRecord(kind: .recv, timestamp: 5_500, connection: 0, text: #"{"result":null,"id":1}"#)
        record.withView { view in
            try? sink.send(
                ReplayMessage(record: view, fields: nil, sequence: 0, captureNanos: 5_500, intendedNanos: 0, actualNanos: 0, exchange: "binance"))
        }
        #expect(waitUntilTrue { sink.counts.inFlight == 0 })
        // Once the replay has passed the second snapshot, that one (the recorded error page is left out).
        #expect(try get("/api/v3/depth?symbol=btcusdt&limit=100") == (200, late))
        #expect(try get("/api/v3/depth?symbol=ETHUSDT").0 == 404)
        try sink.finish(timeoutNanos: 1_000_000_000)
    }

    @Test func theClockWaitsForTheClientsToSubscribe() throws {
        let port = FreePort.next()
        let sink = try SinkFactory.make("ws://127.0.0.1:\(port)?wait=2&wait_timeout=1")
        let thread = JoinableThread.start {
            let subscribed = RawWebSocketClient.connecting(port: port, target: "/stream?streams=btcusdt@trade")
            let connectedOnly = RawWebSocketClient.connecting(port: port, target: "/")
            usleep(1_500_000)
            _ = (subscribed, connectedOnly)
        }
        // One subscribed and one connected but silent client: not the two subscribers asked for.
        #expect(throws: ReplayError.self) { try sink.open() }
        thread?.join()
        try? sink.finish(timeoutNanos: 1_000_000_000)
    }
}

/// A count shared between a client thread and the test.
final class Tally: @unchecked Sendable {
    // unchecked: `count` under `lock`.
    private let lock = Lock()
    private var count = 0
    func add(_ amount: Int) { lock.withLock { count += amount } }
    var value: Int { lock.withLock { count } }
}

extension RawWebSocketClient {
    /// Retries for up to 10 s while the server is not listening yet.
    static func connecting(port: Int, target: String) -> RawWebSocketClient? {
        for _ in 0..<1000 {
            if let client = try? RawWebSocketClient(port: port, target: target) { return client }
            usleep(10_000)
        }
        return nil
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        return String(self[..<range.lowerBound]) + replacement + String(self[range.upperBound...])
    }
}
