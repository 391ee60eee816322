import Foundation
import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// The `ws://` sink checked with an independent client: Python's `websockets` (Debian's
/// python3-websockets, installed by scripts/install-deps.sh; /usr/bin/python3), as a venue's
/// users connect to it. The client subscribes in the venue's grammar, prints the ack and the
/// messages it then gets (`ACK …`, `MSG …`; `BINARY` for a binary frame), and the test checks
/// the venue's framing: Binance `/ws` raw payloads, Kraken v1 arrays under the acked channel
/// id, Coinbase `sequence_num` numbered per connection.
@Suite(.serialized)
struct PythonWebSocketClientTests {
    static let python = "/usr/bin/python3"
    static let client = #"""
        import asyncio, json, sys
        import websockets

        port, venue, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
        requests = {
            "binance": {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 7},
            "kraken": {"event": "subscribe", "pair": ["XBT/USD"], "subscription": {"name": "trade"}, "reqid": 5},
            "coinbase": {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "market_trades"},
        }

        def show(tag, message):
            print(tag + " " + message if isinstance(message, str) else "BINARY", flush=True)

        async def main():
            path = "/ws" if venue == "binance" else "/"
            async with websockets.connect(f"ws://127.0.0.1:{port}{path}", ping_interval=None, compression=None) as ws:
                if venue == "kraken":
                    show("STATUS", await asyncio.wait_for(ws.recv(), 5))
                await ws.send(json.dumps(requests[venue], separators=(",", ":")))
                show("ACK", await asyncio.wait_for(ws.recv(), 5))
                got = 0
                while got < want:
                    message = await asyncio.wait_for(ws.recv(), 10)
                    if message == '{"event":"heartbeat"}':
                        continue
                    show("MSG", message)
                    got += 1

        asyncio.run(main())
        """#
    let dir = TemporaryDirectory()

    /// What the Python client printed: the lines before the ack (Kraken's systemStatus), the ack, the messages.
    struct Seen {
        var status: String?
        var ack: String?
        var messages: [String] = []
        var binaryFrames = 0
    }

    /// Starts the Python client against the sink, replays `payloads` once it has its ack, and
    /// returns what it printed once it received `want` messages.
    func run(venue: String, payloads: [String], want: Int) throws -> Seen {
        #expect(try Shell.status("\(Self.python) -c 'import websockets'") == 0, "install python3-websockets: scripts/install-deps.sh")
        let sink = try SinkFactory.make("ws://127.0.0.1:0?wait=0&venue=\(venue)")
        try sink.open()
        defer { try? sink.finish(timeoutNanos: 1_000_000_000) }
        let script = dir.file("client.py")
        try Self.client.write(toFile: script, atomically: true, encoding: .utf8)
        let child = try ChildProcess.start([Self.python, script, String((sink as! WebSocketSink).boundPort), venue, String(want)], stdout: .pipe)
        let output = try #require(child.stdout)
        defer { close(output) }
        var seen = Seen()
        var pending: [UInt8] = []
        /// Reads what the client printed next into `seen`; false at the end of its output.
        func readLines() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            guard count > 0 else { return false }
            pending += chunk[0..<count]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if line.hasPrefix("STATUS ") { seen.status = String(line.dropFirst(7)) }
                if line.hasPrefix("ACK ") { seen.ack = String(line.dropFirst(4)) }
                if line.hasPrefix("MSG ") { seen.messages.append(String(line.dropFirst(4))) }
                if line == "BINARY" { seen.binaryFrames += 1 }
            }
            return true
        }
        // Until the ack: the subscription is in place, the replay can start.
        while seen.ack == nil, readLines() {}
        #expect(seen.ack != nil, "the Python client got no ack")
        replayAsReceived(payloads, to: sink, exchange: venue)
        while readLines() {}
        let status = ChildProcess.wait(child.pid)
        #expect(status == 0, "the Python client exited \(status) after \(seen.messages.count) of \(want) messages")
        return seen
    }

    @Test func binanceWsClientGetsTheResultAndRawPayloads() throws {
        let payloads = SampleTraffic(symbols: ["BTCUSDT", "ETHUSDT"]).records(count: 60).filter { $0.kind == .recv }
            .map { String(decoding: $0.payload, as: UTF8.self) }
        let btcTrades = payloads.filter { $0.hasPrefix(#"{"stream":"btcusdt@trade""#) }
        #expect(btcTrades.count >= 5)
        let seen = try run(venue: "binance", payloads: payloads, want: btcTrades.count)
        #expect(seen.ack == #"{"result":null,"id":7}"#)
        #expect(seen.binaryFrames == 0)
        // /ws: the payload without the combined-stream wrapper, byte for byte.
        #expect(seen.messages.count == btcTrades.count)
        #expect(zip(seen.messages, btcTrades).allSatisfy { message, wrapped in wrapped.hasSuffix(",\"data\":" + message + "}") })
    }

    @Test func krakenClientGetsStatusAckAndTradesUnderItsChannelID() throws {
        let trade = #"[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]"#
        let payloads = [
            #"[1,{"a":[["5541.30000","2.50700000","1534614248.456738"]],"c":"974942666"},"book-10","XBT/USD"]"#,
            trade,
            #"[0,[["201.10000","1.00000000","1534614057.400000","b","m",""]],"trade","ETH/USD"]"#,
            trade,
        ]
        let seen = try run(venue: "kraken", payloads: payloads, want: 2)
        let status = try JSONParser.parse(try #require(seen.status))
        #expect(status["event"]?.stringValue == "systemStatus" && status["status"]?.stringValue == "online")
        let ack = try JSONParser.parse(try #require(seen.ack))
        #expect(ack["event"]?.stringValue == "subscriptionStatus" && ack["status"]?.stringValue == "subscribed")
        #expect(ack["pair"]?.stringValue == "XBT/USD" && ack["reqid"]?.int64Value == 5 && ack["channelName"]?.stringValue == "trade")
        let channelID = try #require(ack["channelID"]?.int64Value)
        #expect(seen.messages == Array(repeating: "[\(channelID)" + trade.dropFirst(2), count: 2))
    }

    @Test func coinbaseClientSeesItsOwnConsecutiveSequenceNumbers() throws {
        let payloads = (0..<30).map { sequence in
            let product = sequence % 3 == 0 ? "BTC-USD" : "ETH-USD"
            return
                #"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":\#(sequence),"events":[{"type":"update","trades":[{"trade_id":"\#(sequence)","product_id":"\#(product)","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}"#
        }
        let seen = try run(venue: "coinbase", payloads: payloads, want: 10)
        let ack = try JSONParser.parse(try #require(seen.ack))
        #expect(ack["channel"]?.stringValue == "subscriptions" && ack["client_id"]?.stringValue == "" && ack["sequence_num"]?.int64Value == 0)
        #expect(ack["events"]?.arrayValue?.first?["subscriptions"]?["market_trades"]?.arrayValue?.compactMap(\.stringValue) == ["BTC-USD"])
        let messages = try seen.messages.map { try JSONParser.parse($0) }
        #expect(messages.compactMap { $0["sequence_num"]?.int64Value } == Array(1...10))
        #expect(messages.allSatisfy { $0["events"]?.arrayValue?.first?["trades"]?.arrayValue?.first?["product_id"]?.stringValue == "BTC-USD" })
    }
}
