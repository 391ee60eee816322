import K2Capture
import K2Core
import K2Net

#if canImport(Glibc)
import Glibc
#endif

/// `ws://127.0.0.1:PORT[/path]` — impersonates the recorded exchange: a WebSocket server that
/// clients (feed handlers under test) connect and subscribe to; every replayed message goes, at
/// the replay pace, to the clients whose subscription matches its stream or symbol.
///
/// Subscriptions: Binance-style URLs (`/stream?streams=btcusdt@trade/…`, `/ws/<stream>`),
/// Binance `{"method":"SUBSCRIBE","params":[…],"id":1}` (answered `{"result":null,"id":1}`),
/// Kraken `{"event":"subscribe","pair":[…]}` and Coinbase `{"type":"subscribe","product_ids":[…]}`
/// (matched on the message's symbol). A client on any other path that sends nothing gets every
/// message. On `/ws/<stream>` a combined-stream payload is unwrapped to its `data`.
///
/// `?wait=N` (default 1) makes `open()` wait until N clients have connected (and subscribed, if
/// they do so within 200 ms), `wait_timeout=S` seconds (default 30).
public final class WebSocketSink: ReplaySink, WebSocketServerDelegate, @unchecked Sendable {
    // unchecked: clients and counters under `lock`; connections write through their loop.
    public let uri: String
    let host: String
    let port: Int
    let waitFor: Int
    let waitTimeoutNanos: Int64
    private let clock: any NanoClock
    private var server: WebSocketServer?
    private let lock = Lock()
    private var clients: [Client] = []
    private var framesWritten: UInt64 = 0
    private let recorder: SinkRecorder

    final class Client: WebSocketDelegate, @unchecked Sendable {
        // unchecked: loop-confined (a WebSocketDelegate); the sink reads it under its lock.
        weak var sink: WebSocketSink?
        var connection: WebSocketConnection?
        /// Lower-cased stream names or symbols; empty = everything.
        var wanted: Set<String> = []
        var raw = false
        var subscribedAt: Int64 = 0

        init(sink: WebSocketSink, request: HTTPRequestInfo) {
            self.sink = sink
            let p = request.path
            if p.hasPrefix("/stream"), let s = request.queryValue("streams") {
                wanted = Set(s.split(separator: "/").map { $0.lowercased() })
            } else if p.hasPrefix("/ws/") {
                raw = true
                wanted = Set(p.dropFirst(4).split(separator: "/").map { $0.lowercased() })
            }
        }

        func webSocketOpened(_ c: WebSocketConnection) {
            connection = c
            sink?.joined(self)
        }

        func webSocket(_ c: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool) {
            guard let v = try? JSONParser.parse(payload) else { return }
            if let m = v["method"]?.stringValue {
                let params = (v["params"]?.arrayValue ?? []).compactMap(\.stringValue).map { $0.lowercased() }
                if m == "SUBSCRIBE" { wanted.formUnion(params) } else if m == "UNSUBSCRIBE" { wanted.subtract(params) }
                c.sendNow(text: #"{"result":null,"id":\#(v["id"]?.serialized() ?? "null")}"#)
            } else if v["event"]?.stringValue == "subscribe" {
                wanted.formUnion((v["pair"]?.arrayValue ?? []).compactMap(\.stringValue).map { $0.lowercased() })
            } else if v["type"]?.stringValue == "subscribe" {
                wanted.formUnion((v["product_ids"]?.arrayValue ?? []).compactMap(\.stringValue).map { $0.lowercased() })
            }
            subscribedAt = SystemClock().monotonicNanos()
        }

        func webSocketClosed(_ c: WebSocketConnection, code: UInt16, reason: String) {
            connection = nil
            sink?.left(self)
        }

        func matches(stream: String?, symbol: String?) -> Bool {
            if wanted.isEmpty { return true }
            if let s = stream, wanted.contains(s) { return true }
            if let y = symbol, wanted.contains(y) { return true }
            return false
        }
    }

    public init(uri: String, host: String, port: Int, waitFor: Int, waitTimeoutNanos: Int64, clock: any NanoClock = SystemClock()) {
        self.uri = uri
        self.host = host
        self.port = port
        self.waitFor = waitFor
        self.waitTimeoutNanos = waitTimeoutNanos
        self.clock = clock
        recorder = SinkRecorder(clock: clock)
    }

    /// The bound port (after `open`).
    public var boundPort: Int { server?.port ?? port }
    /// Clients connected now.
    public var clientCount: Int { lock.withLock { clients.count } }
    /// Frames written to clients (a message goes to every matching client).
    public var frames: UInt64 { lock.withLock { framesWritten } }

    public func open() throws {
        do {
            server = try WebSocketServer(.init(host: host, port: port), delegate: self)
        } catch {
            throw ReplayError(.unreachable, place: uri, what: error.what, remedy: error.remedy)
        }
        guard waitFor > 0 else { return }
        StdErr.print("k2: \(uri): waiting for \(waitFor) client(s) on ws://\(host):\(boundPort)")
        let deadline = clock.monotonicNanos() + waitTimeoutNanos
        while clientCount < waitFor {
            if clock.monotonicNanos() > deadline {
                throw ReplayError(.unreachable, place: uri, what: "no client connected within \(waitTimeoutNanos / 1_000_000_000) s",
                                  remedy: "connect the feed handler to ws://\(host):\(boundPort) or use ?wait=0")
            }
            usleep(5000)
        }
        usleep(200_000)   // let them subscribe
    }

    public func accept(_ request: HTTPRequestInfo) -> WebSocketAcceptance { .accept(Client(sink: self, request: request)) }

    func joined(_ c: Client) { lock.withLock { clients.append(c) } }
    func left(_ c: Client) { lock.withLock { clients.removeAll { $0 === c } } }

    public func send(_ message: borrowing ReplayMessage) throws {
        let r = message.record
        guard r.kind == .recv else { return }
        let payload = [UInt8](r.payload)
        let stream = message.fields.streamString?.lowercased()
        let symbol = message.fields.symbolString?.lowercased()
        let intended = message.intendedNanos
        let actual = message.actualNanos
        recorder.sent(bytes: payload.count)
        guard let server else { throw ReplayError(.sinkFailed, place: uri, what: "send before open", remedy: "this is a bug") }
        server.loop.execute { [self] in
            let targets = self.lock.withLock { self.clients }
            var n: UInt64 = 0
            for c in targets where c.matches(stream: stream, symbol: symbol) {
                guard let conn = c.connection else { continue }
                if c.raw, let inner = Self.unwrapCombined(payload) {
                    inner.withUnsafeBytes { conn.send($0) }
                } else {
                    conn.send(payload)
                }
                conn.flush()
                n += 1
            }
            self.lock.withLock { self.framesWritten &+= n }
            self.recorder.delivered(intendedNanos: intended, actualNanos: actual)
        }
    }

    /// `{"stream":"x","data":{…}}` → `{…}`.
    static func unwrapCombined(_ p: [UInt8]) -> ArraySlice<UInt8>? {
        let key = Array(#","data":"#.utf8)
        guard p.count > key.count + 2, p.starts(with: Array(#"{"stream":"#.utf8)) else { return nil }
        for i in 0..<(p.count - key.count) where p[i] == key[0] && Array(p[i..<(i + key.count)]) == key {
            return p[(i + key.count)..<(p.count - 1)]
        }
        return nil
    }

    public func finish(timeoutNanos: Int64) throws {
        guard let server else { return }
        let deadline = clock.monotonicNanos() + timeoutNanos
        while counts.inFlight > 0 && clock.monotonicNanos() < deadline { usleep(1000) }
        try? server.loop.sync { [self] in
            for c in self.lock.withLock({ self.clients }) { c.connection?.close(code: CloseCode.normal, reason: "replay finished") }
        }
        usleep(100_000)
        server.close()
        self.server = nil
    }

    public var counts: SinkCounts { recorder.snapshot }

    public var stats: SinkStats {
        recorder.stats(details: [("frames_to_clients", .number(String(frames))), ("address", .string("ws://\(host):\(boundPort)"))])
    }
}

public enum WebSocketSinkMaker: SinkMaker {
    public static let schemes = ["ws"]
    public static let usage = "ws://127.0.0.1:PORT[/path][?wait=N&wait_timeout=S]  impersonates the exchange: clients connect, subscribe and get the replay"

    public static func make(_ uri: SinkURI, options: SinkOptions) throws -> any ReplaySink {
        try uri.checkParameters(["wait", "wait_timeout"])
        let parts = uri.authority.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port) else {
            throw ReplayError(.invalidArgument, place: uri.text, what: "ws:// needs HOST:PORT", remedy: "write ws://127.0.0.1:9443")
        }
        let wait = try uri.parameter("wait").map { v throws -> Int in
            guard let n = Int(v), n >= 0 else { throw ReplayError(.invalidArgument, place: uri.text, what: "wait=\(v) is not a count", remedy: "write wait=0 or wait=1") }
            return n
        } ?? 1
        let timeout = try uri.positiveNumber("wait_timeout") ?? 30
        return WebSocketSink(uri: uri.text, host: String(parts[0]), port: port, waitFor: wait, waitTimeoutNanos: Int64(timeout * 1e9), clock: options.clock)
    }
}
