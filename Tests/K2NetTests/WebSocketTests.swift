import K2Core
import K2TestSupport
import Testing

@testable import K2Net

@Suite(.serialized)
struct WebSocketTests {
    @Test func acceptValueMatchesRFC6455Example() {
        #expect(WebSocketHandler.acceptValue(key: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func urlsParse() throws {
        let binance = try NetURL("wss://stream.binance.com:9443/stream?streams=btcusdt@trade")
        #expect(binance.host == "stream.binance.com" && binance.port == 9443 && binance.target == "/stream?streams=btcusdt@trade" && binance.isTLS)
        let kraken = try NetURL("wss://ws.kraken.com")
        #expect(kraken.port == 443 && kraken.target == "/")
        let local = try NetURL("ws://127.0.0.1:8080?x=1")
        #expect(local.hostIsIPAddress && local.target == "/?x=1" && local.description == "ws://127.0.0.1:8080/?x=1")
        #expect(throws: NetError.self) { try NetURL("ftp://x") }
        #expect(throws: NetError.self) { try NetURL("ws://host:99999/") }
    }

    /// Server echoes every message back; returns (server, its handler, loop).
    func echoServer() throws -> (WebSocketServer, TestServer) {
        let ts = TestServer(make: { _ in
            Collector(onMessage: { c, bytes, binary in
                c.send(bytes, binary: binary); c.flush()
            })
        })
        let server = try WebSocketServer(delegate: ts)
        return (server, ts)
    }

    @Test func textAndBinaryFramesRoundTrip() throws {
        let (server, _) = try echoServer()
        defer { server.close() }
        let loop = NetLoop()
        defer { loop.shutdown() }
        let client = Collector(onOpen: { connection in
            connection.send(text: "hello")
            connection.send([0, 1, 2, 255], binary: true)
            connection.send(text: "")
            connection.flush()
        })
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(server.port)/echo"), loop: loop, delegate: client)
        #expect(waitUntil { client.count == 3 })
        #expect(
            client.events.dropFirst().prefix(3) == [
                .message(Array("hello".utf8), binary: false), .message([0, 1, 2, 255], binary: true), .message([], binary: false),
            ])
        client.connection?.close(code: 1000, reason: "done")
        #expect(waitUntil { client.closedEvent != nil })
        #expect(client.closedEvent == .closed(1000, ""))
    }

    @Test func fragmentsAreJoinedAndPingsAnswered() throws {
        let ts = TestServer(make: { _ in
            Collector(onOpen: { connection in
                connection.sendRaw(opcode: 0x1, fin: false, payload: Array("frag".utf8))
                connection.sendRaw(opcode: 0x9, fin: true, payload: Array("p1".utf8))
                connection.sendRaw(opcode: 0x0, fin: false, payload: Array("ment".utf8))
                connection.sendRaw(opcode: 0x0, fin: true, payload: Array("ed".utf8))
                connection.sendRaw(opcode: 0x2, fin: false, payload: [1])
                connection.sendRaw(opcode: 0x0, fin: true, payload: [2])
                connection.flush()
            })
        })
        let server = try WebSocketServer(delegate: ts)
        defer { server.close() }
        let loop = NetLoop()
        defer { loop.shutdown() }
        let client = Collector()
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(server.port)/"), loop: loop, delegate: client)
        #expect(waitUntil { client.count == 2 })
        #expect(client.messages == [Array("fragmented".utf8), [1, 2]])
        #expect(client.events.contains(.ping(Array("p1".utf8))))
        #expect(waitUntil { ts.collectors.first?.events.contains(.pong(Array("p1".utf8))) == true })
        // A ping from the client is answered by the server.
        client.connection?.ping([9, 9])
        #expect(waitUntil { client.events.contains(.pong([9, 9])) })
    }

    @Test func closeCodesAndReasonsReachBothSides() throws {
        let ts = TestServer(make: { req in
            Collector(onOpen: { c in if req.target == "/bye" { c.close(code: 4001, reason: "going away now") } })
        })
        let server = try WebSocketServer(delegate: ts)
        defer { server.close() }
        let loop = NetLoop()
        defer { loop.shutdown() }
        // Server-initiated close.
        let serverCloses = Collector()
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(server.port)/bye"), loop: loop, delegate: serverCloses)
        #expect(waitUntil { serverCloses.closedEvent != nil })
        #expect(serverCloses.closedEvent == .closed(4001, "going away now"))
        // Client-initiated close: the server sees the code and reason.
        let clientCloses = Collector(onOpen: { c in c.close(code: 4100, reason: "client done") })
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(server.port)/stay"), loop: loop, delegate: clientCloses)
        #expect(waitUntil { ts.collectors.count == 2 && ts.collectors[1].closedEvent != nil })
        #expect(ts.collectors[1].closedEvent == .closed(4100, "client done"))
        #expect(waitUntil { clientCloses.closedEvent != nil })
        #expect(clientCloses.closedEvent == .closed(4100, ""))
        // A dropped TCP connection is 1006.
        let dropped = Collector(onOpen: { c in c.abort() })
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(server.port)/drop"), loop: loop, delegate: dropped)
        #expect(waitUntil { ts.collectors.count == 3 && ts.collectors[2].closedEvent != nil })
        if case let .closed(code, _) = ts.collectors[2].closedEvent { #expect(code == 1006) } else { Issue.record("no close") }
    }

    @Test func largeFramesAtLengthBoundaries() throws {
        let (server, _) = try echoServer()
        defer { server.close() }
        let loop = NetLoop()
        defer { loop.shutdown() }
        let sizes = [125, 126, 127, 65535, 65536, 70_000, 3 << 20]
        let payloads = sizes.map { n in (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n) } }
        let client = Collector(onOpen: { connection in
            for payload in payloads { connection.send(payload, binary: true) }
            connection.flush()
        })
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(server.port)/"), loop: loop, delegate: client)
        #expect(waitUntil(30) { client.count == sizes.count })
        #expect(client.messages == payloads)
    }

    /// Frames cut anywhere by the reads (inside the 2-byte header, the extended length, the mask
    /// key, the payload; two frames in one read) are parsed whole: the server keeps only the
    /// missing part of the cut frame and reads the rest where it lies.
    @Test func framesCutAnywhereByTheReadsArriveWhole() throws {
        let (server, _) = try echoServer()
        defer { server.close() }
        let texts = ["a", String(repeating: "b", count: 300), "cc", String(repeating: "d", count: 70_000), "e"]
        let client = try RawWebSocketClient(port: server.port, target: "/echo")
        // Every byte on its own for the first 24 bytes (frames 1 and 2: each header byte, each mask
        // byte), then cuts inside frame 4's 8-byte length and its payload, and frames 4's end and
        // 5 in one read.
        let cuts = Array(1...24) + [320, 330, 333, 336, 340, 20_000, 70_000]
        try client.send(texts: texts, cuttingAt: cuts)
        #expect(try client.receive(upTo: texts.count) == texts)
    }

    @Test func manyFramesArriveInOrder() throws {
        let count = 100_000
        let ts = TestServer(make: { _ in
            Collector(onOpen: { connection in
                for i in 0..<count { connection.send(text: #"{"stream":"btcusdt@trade","data":{"t":\#(i)}}"#) }
                connection.flush()
            })
        })
        let server = try WebSocketServer(delegate: ts)
        defer { server.close() }
        let loop = NetLoop()
        defer { loop.shutdown() }
        let client = Collector()
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(server.port)/"), loop: loop, delegate: client)
        #expect(waitUntil(60) { client.count == count })
        let msgs = client.messages
        #expect(msgs.count == count)
        #expect(msgs.enumerated().allSatisfy { i, m in m == Array(#"{"stream":"btcusdt@trade","data":{"t":\#(i)}}"#.utf8) })
    }

    @Test func rejectedUpgradeAndRefusedConnectionFail() throws {
        let ts = TestServer(make: { _ in nil })
        let server = try WebSocketServer(delegate: ts)
        let port = server.port
        let loop = NetLoop()
        defer { loop.shutdown() }
        let refused = Collector()
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(port)/nothing"), loop: loop, delegate: refused)
        #expect(waitUntil { refused.error != nil })
        #expect(refused.error?.code == .handshakeRejected)
        #expect(refused.error?.description.contains("404") == true)
        server.close()
        let closed = Collector()
        WebSocketClient.connect(try NetURL("ws://127.0.0.1:\(port)/"), loop: loop, delegate: closed)
        #expect(waitUntil { closed.error != nil })
        #expect(closed.error?.code == .connectFailed)
    }

    @Test func unresolvableHostFailsWithOneLine() throws {
        let loop = NetLoop()
        defer { loop.shutdown() }
        let unresolved = Collector()
        WebSocketClient.connect(try NetURL("ws://no-such-host.invalid/"), loop: loop, delegate: unresolved)
        #expect(waitUntil(30) { unresolved.error != nil })
        #expect(unresolved.error?.code == .unresolvableHost)
    }

    @Test func portInUseIsReported() throws {
        let first = try WebSocketServer(delegate: TestServer())
        defer { first.close() }
        #expect(throws: NetError.self) { try WebSocketServer(.init(port: first.port), delegate: TestServer()) }
        do {
            _ = try WebSocketServer(.init(port: first.port), delegate: TestServer())
        } catch {
            #expect(error.code == .addressInUse)
            #expect(error.description.contains("already in use"))
        }
    }

    @Test func plainHTTPGetOnTheSamePort() throws {
        let ts = TestServer()
        ts.http = { req in
            req.path == "/api/v3/depth"
                ? HTTPResponseInfo(
                    status: 200, headers: [("Content-Type", "application/json")],
                    body: #"{"lastUpdateId":7,"symbol":"\#(req.queryValue("symbol") ?? "")"}"#)
                : HTTPResponseInfo(status: 404, body: "nope\n")
        }
        let server = try WebSocketServer(delegate: ts)
        defer { server.close() }
        let loop = NetLoop()
        defer { loop.shutdown() }
        let response = try HTTPFetch.get(try NetURL("http://127.0.0.1:\(server.port)/api/v3/depth?symbol=BTCUSDT&limit=1000"), loop: loop)
        #expect(response.status == 200)
        #expect(response.bodyText == #"{"lastUpdateId":7,"symbol":"BTCUSDT"}"#)
        let missing = try HTTPFetch.get(try NetURL("http://127.0.0.1:\(server.port)/x"), loop: loop)
        #expect(missing.status == 404)
    }
}
