import K2Capture
import K2Core
import K2Net
import K2Replay
import K2TestSupport
import Testing

/// Collects what one WebSocket client receives.
final class SinkClient: WebSocketDelegate, @unchecked Sendable {
    // unchecked: state under `lock`.
    let lock = Lock()
    var got: [[UInt8]] = []
    var open: WebSocketConnection?
    let subscribe: String?
    init(subscribe: String? = nil) { self.subscribe = subscribe }
    func webSocketOpened(_ c: WebSocketConnection) {
        lock.withLock { open = c }
        if let s = subscribe { c.sendNow(text: s) }
    }
    func webSocket(_ c: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool) {
        lock.withLock { got.append([UInt8](payload)) }
    }
    func webSocketClosed(_ c: WebSocketConnection, code: UInt16, reason: String) {}
    var frames: [[UInt8]] { lock.withLock { got } }
    var isOpen: Bool { lock.withLock { open != nil } }
}

@Suite(.serialized)
struct WebSocketSinkTests {
    @Test func clientsGetTheReplayedFramesOfTheirSubscriptions() throws {
        let sink = try SinkFactory.make("ws://127.0.0.1:0?wait=0")
        try sink.open()
        let port = (sink as! WebSocketSink).boundPort
        let loop = NetLoop()
        defer { loop.shutdown() }
        let unsubscribed = SinkClient()
        let btcTrades = SinkClient()
        let viaSubscribe = SinkClient(subscribe: #"{"method":"SUBSCRIBE","params":["ethusdt@trade"],"id":1}"#)
        let raw = SinkClient()
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(port)/"), loop: loop, delegate: unsubscribed)
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(port)/stream?streams=btcusdt@trade"), loop: loop, delegate: btcTrades)
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(port)/stream"), loop: loop, delegate: viaSubscribe)
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(port)/ws/btcusdt@trade"), loop: loop, delegate: raw)
        #expect(waitUntilTrue { (sink as! WebSocketSink).clientCount == 4 && viaSubscribe.frames.count == 1 })
        let records = SampleTraffic(symbols: ["BTCUSDT", "ETHUSDT"]).records(count: 400).filter { $0.kind == .recv }
        for (i, r) in records.enumerated() {
            r.withView { v in
                let m = ReplayMessage(
                    record: v, fields: PayloadFields.extract(v.payload), sequence: UInt64(i), captureNanos: v.timestamp,
                    intendedNanos: 0, actualNanos: 0, exchange: "binance")
                try? sink.send(m)
            }
        }
        let payloads = records.map(\.payload)
        let btc = payloads.filter { String(decoding: $0, as: UTF8.self).hasPrefix(#"{"stream":"btcusdt@trade""#) }
        let eth = payloads.filter { String(decoding: $0, as: UTF8.self).hasPrefix(#"{"stream":"ethusdt@trade""#) }
        #expect(waitUntilTrue { btcTrades.frames.count == btc.count && viaSubscribe.frames.count == eth.count + 1 && raw.frames.count == btc.count })
        try sink.finish(timeoutNanos: 5_000_000_000)
        #expect(unsubscribed.frames.isEmpty)  // nothing before a subscription
        #expect(btcTrades.frames == btc)
        #expect(Array(viaSubscribe.frames.dropFirst()) == eth)
        #expect(viaSubscribe.frames.first == Array(#"{"result":null,"id":1}"#.utf8))
        // /ws/<stream> gets the raw payload: the combined wrapper's "data".
        #expect(raw.frames.first.map { String(decoding: $0, as: UTF8.self).hasPrefix(#"{"e":"trade""#) } == true)
        // Delivered = written to at least one subscribed client; the rest (depth, SOL) reached no subscription.
        #expect(sink.counts.sent == UInt64(payloads.count) && sink.counts.delivered == UInt64(btc.count + eth.count))
        #expect(sink.counts.unrouted == UInt64(payloads.count - btc.count - eth.count) && sink.counts.failed == 0 && sink.counts.dropped == 0)
    }
}
