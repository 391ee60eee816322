import K2Capture
import K2Core
import K2Net
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `ws://127.0.0.1:PORT` — impersonates the recorded venue: a WebSocket server that clients
/// (feed handlers under test) connect and subscribe to in the venue's own grammar; every
/// replayed message goes, at the replay pace, to the clients subscribed to its channel and
/// symbol, and to no one else (docs/sinks.md, "ws://").
///
/// Grammar (`VenueRoute` has the keys): Binance `/stream?streams=…` and `/ws[/<stream>]` URLs
/// and `SUBSCRIBE`/`UNSUBSCRIBE`/`LIST_SUBSCRIPTIONS` requests; Kraken v1 `subscribe` by
/// channel name and pair (`subscriptionStatus` acks, `systemStatus` on connect when the venue is
/// Kraken, `heartbeat` after 1 s of silence, `pong`); Coinbase Advanced Trade `subscribe` by
/// channel and product (`subscriptions` acks, `heartbeats` channel, `sequence_num` renumbered
/// per connection). A client that has not subscribed receives nothing.
///
/// Accounting per message: delivered = written to at least one subscribed client; unrouted =
/// no client subscribed to it (or a control frame of the capture the sink answers itself);
/// failed = every client subscribed to it had left or fallen behind. `dropped` counts each
/// subscribed client it did not reach, and makes the replay incomplete (exit 1).
///
/// `?wait=N` (default 1): `open()` returns once N clients have subscribed (`wait_timeout=S`,
/// default 30 s), so the replay clock starts with them. `?venue=binance|kraken|coinbase`
/// overrides the capture's `exchange` metadata.
package final class WebSocketSink: ReplaySink, WebSocketServerDelegate, @unchecked Sendable {
    // unchecked: clients and counters under `lock`; connections write on the server's loop.
    package let uri: String
    let host: String
    let port: Int
    let waitFor: Int
    let waitTimeoutNanos: Int64
    /// The venue impersonated, when known (`?venue=` or the capture's `exchange`).
    let venue: Venue?
    /// Above this many bytes queued for a client, its messages are dropped (a client that does
    /// not read; the venues disconnect such clients).
    static let clientBufferBytes = 16 << 20
    let clock: any NanoClock
    private(set) var server: WebSocketServer?
    let lock = Lock()
    /// Every client that connected, including those that left (their subscriptions still count).
    private(set) var clients: [Client] = []
    private var nextClientNumber = 0
    /// Kraken channel ids handed out in acks, by `VenueRoute` key; data frames carry them.
    var krakenChannelIDs: [String: Int64] = [:]
    private var framesWritten: UInt64 = 0
    /// Captures whose REST snapshots the sink serves (`SinkOptions.captures`), read at `open`.
    let snapshotCaptures: [String]
    private var snapshots = RecordedSnapshots()
    /// Capture time of the last message handed over: which recorded snapshot is current.
    private var captureNanos: Int64 = 0
    private var snapshotsServed: UInt64 = 0
    private var heartbeatTimer: NetTimer?
    /// When the sink opened (monotonic): Coinbase heartbeats give the server's uptime.
    private let startNanos: Int64
    let recorder: SinkRecorder
    /// Where the notice "waiting for N client(s)" goes.
    let logger: Logger
    /// Exchange faults in force (`inject`), under `lock`.
    var faults = FaultState()

    package init(
        uri: String, host: String, port: Int, waitFor: Int, waitTimeoutNanos: Int64, venue: Venue? = nil,
        snapshotCaptures: [String] = [], clock: any NanoClock = SystemClock(), logger: Logger = Logger(label: "k2.replay")
    ) {
        self.logger = logger
        self.snapshotCaptures = snapshotCaptures
        self.uri = uri
        self.host = host
        self.port = port
        self.waitFor = waitFor
        self.waitTimeoutNanos = waitTimeoutNanos
        self.venue = venue
        self.clock = clock
        recorder = SinkRecorder(clock: clock)
        startNanos = clock.monotonicNanos()
    }

    /// The bound port (after `open`).
    package var boundPort: Int { server?.port ?? port }
    /// Clients connected now.
    package var clientCount: Int { lock.withLock { clients.count(where: { !$0.gone }) } }
    /// Clients connected now with at least one subscription.
    var subscribedCount: Int { lock.withLock { clients.count(where: { !$0.gone && !$0.subscriptions.isEmpty }) } }
    /// Frames written to clients (a message goes to every matching client).
    package var frames: UInt64 { lock.withLock { framesWritten } }

    /// Starts the server and waits for `wait` subscribed clients. A second call does nothing (a
    /// bench run opens the sink before its measured window, the engine opens it again).
    package func open() throws {
        guard server == nil else { return }
        do {
            snapshots = try RecordedSnapshots(paths: snapshotCaptures)
        } catch {
            throw ReplayError(
                .invalidArgument, place: uri, what: "cannot read the REST snapshots of the capture: \(error)",
                remedy: "check the capture with k2 capture verify")
        }
        do {
            var configuration = WebSocketServer.Configuration(host: host, port: port)
            configuration.writeHighWaterMark = Self.clientBufferBytes
            server = try WebSocketServer(configuration, delegate: self)
        } catch {
            throw ReplayError(.unreachable, place: uri, what: error.what, remedy: error.remedy)
        }
        if let server { startHeartbeats(on: server) }
        guard waitFor > 0 else { return }
        logger.notice("\(uri): waiting for \(waitFor) client(s) to connect and subscribe on ws://\(host):\(boundPort)")
        let deadline = clock.monotonicNanos() + waitTimeoutNanos
        while subscribedCount < waitFor {
            if clock.monotonicNanos() > deadline {
                throw ReplayError(
                    .unreachable, place: uri,
                    what:
                        "\(subscribedCount) of \(waitFor) client(s) subscribed within \(waitTimeoutNanos / 1_000_000_000) s (\(clientCount) connected)",
                    remedy: "connect the feed handler to ws://\(host):\(boundPort) and subscribe, or use ?wait=0")
            }
            usleep(2000)
        }
    }

    package func accept(_ request: HTTPRequestInfo) -> WebSocketAcceptance {
        let number = lock.withLock { () -> Int in
            defer { nextClientNumber += 1 }
            return nextClientNumber
        }
        return .accept(Client(sink: self, request: request, number: number))
    }

    /// A plain GET on the port: a REST snapshot the capture recorded (`RecordedSnapshots`), else 404.
    package func respond(to request: HTTPRequestInfo) -> HTTPResponseInfo {
        let body = lock.withLock { () -> [UInt8]? in
            let found = snapshots.body(target: request.target, at: captureNanos)
            if found != nil { snapshotsServed &+= 1 }
            return found
        }
        guard request.method == "GET", let body else {
            return HTTPResponseInfo(status: 404, body: #"{"code":-1121,"msg":"No snapshot of \#(request.target) in the capture."}"#)
        }
        return HTTPResponseInfo(status: 200, headers: [("Content-Type", "application/json")], body: body)
    }

    func opened(_ client: Client, connection: WebSocketConnection) {
        let now = clock.monotonicNanos()
        lock.withLock {
            client.connection = connection
            client.lastFrameNanos = now
            clients.append(client)
            if venue == .kraken { client.write(VenueAnswers.krakenSystemStatus(connectionID: UInt64(client.number)), now: now) }
        }
    }

    func closed(_ client: Client) {
        lock.withLock {
            client.connection = nil
            client.gone = true
        }
    }

    package func send(_ message: borrowing ReplayMessage) throws {
        let record = message.record
        guard record.kind == .recv else { return }
        recorder.sent(bytes: record.payload.count)
        guard let key = VenueRoute.key(record.payload, fields: message.fields) else {
            let captured = message.captureNanos
            lock.withLock { captureNanos = captured }
            recorder.outcomes { $0.unrouted() }
            return
        }
        let routed = RoutedMessage(
            payload: [UInt8](record.payload), key: key, intendedNanos: message.intendedNanos, actualNanos: message.actualNanos)
        let captured = message.captureNanos
        guard let server else { throw ReplayError(.sinkFailed, place: uri, what: "send before open", remedy: "this is a bug") }
        server.loop.execute { [self] in
            let due = self.lock.withLock { () -> [FaultState.Delivery] in
                self.captureNanos = captured
                guard self.faults.active else { return [FaultState.Delivery(message: routed)] }
                // A fault counts only messages a connected client subscribed to (a gap no one sees is no gap).
                let seen = self.clients.contains { !$0.gone && !$0.retired && $0.subscriptions.contains(routed.key) }
                return self.faults.admit(routed, seen: seen)
            }
            for delivery in due { self.deliver(delivery) }
        }
    }

    /// Writes one message to every client subscribed to it (twice, or after a broken frame, when
    /// an exchange fault says so) and records its outcome once. On the loop.
    func deliver(_ delivery: FaultState.Delivery) {
        let message = delivery.message
        let now = clock.monotonicNanos()
        guard !delivery.withheld else {
            recorder.outcomes { $0.unrouted() }
            return
        }
        var written = 0
        var missed = 0
        lock.withLock {
            for client in clients where !client.retired && client.subscriptions.contains(message.key) {
                if client.gone {
                    client.droppedLeft &+= 1
                    missed += 1
                } else if let connection = client.connection, !connection.isWritable {
                    client.droppedOverflow &+= 1
                    missed += 1
                } else {
                    if delivery.malformedFirst { client.write(FaultState.malformedFrame, now: now) }
                    for _ in 0..<delivery.copies { write(message.payload, key: message.key, to: client, now: now) }
                    client.delivered &+= 1
                    written += 1
                }
            }
            framesWritten &+= UInt64(written * delivery.copies)
        }
        recorder.outcomes { outcomes in
            if written > 0 {
                outcomes.delivered(intendedNanos: message.intendedNanos, actualNanos: message.actualNanos, now: now)
            } else if missed > 0 {
                outcomes.failed(reason: "every client subscribed to it had left or fallen behind")
            } else {
                outcomes.unrouted()
            }
            outcomes.dropped(count: UInt64(missed))
        }
    }

    /// Writes one replayed message to `client` in the shape its connection expects. Under `lock`, on the loop.
    private func write(_ payload: [UInt8], key: String, to client: Client, now: Int64) {
        if client.raw, let inner = VenueAnswers.unwrapCombined(payload) {
            inner.withUnsafeBytes { client.write($0, now: now) }
        } else if client.combined, payload.first != UInt8(ascii: "["), VenueAnswers.unwrapCombined(payload) == nil {
            client.write(VenueAnswers.wrapCombined(payload, stream: key), now: now)
        } else if payload.first == UInt8(ascii: "["), let id = krakenChannelIDs[key] {
            client.write(VenueAnswers.withKrakenChannelID(payload, id), now: now)
        } else {
            var message = payload  // copied only when a Coinbase `sequence_num` is renumbered
            if VenueAnswers.setCoinbaseSequence(client.coinbaseSequence, in: &message) { _ = client.nextCoinbaseSequence() }
            client.write(message, now: now)
        }
    }

    /// Kraken heartbeats after 1 s of silence and Coinbase `heartbeats` once a second, from a
    /// timer on the server's loop every 250 ms.
    private func startHeartbeats(on server: WebSocketServer) {
        heartbeatTimer = server.loop.scheduleRepeating(everyNanos: 250_000_000) { [self] in
            let now = self.clock.monotonicNanos()
            let wall = self.clock.wallNanos()
            self.lock.withLock {
                for client in self.clients where !client.gone && !client.subscriptions.isEmpty {
                    if client.kraken, now - client.lastFrameNanos >= 1_000_000_000 {
                        client.write(VenueAnswers.krakenHeartbeat, now: now)
                    }
                    if client.coinbaseHeartbeats, now - client.lastHeartbeatNanos >= 1_000_000_000 {
                        client.heartbeatCounter += 1
                        client.lastHeartbeatNanos = now
                        client.write(
                            VenueAnswers.coinbaseHeartbeat(
                                counter: client.heartbeatCounter, nanos: wall,
                                uptimeNanos: now - self.startNanos, sequence: client.nextCoinbaseSequence()),
                            now: now)
                    }
                }
            }
        }
    }

    package func finish(timeoutNanos: Int64) throws {
        guard let server else { return }
        heartbeatTimer?.cancel()
        // A stall or a held (reordered) message still in force: send what it holds, in order.
        try? server.loop.sync { [self] in
            for delivery in self.lock.withLock({ self.faults.release() }) { self.deliver(delivery) }
        }
        let deadline = clock.monotonicNanos() + timeoutNanos
        while counts.inFlight > 0 && clock.monotonicNanos() < deadline { usleep(1000) }
        try? server.loop.sync { [self] in
            for client in self.lock.withLock({ self.clients }) { client.connection?.close(code: CloseCode.normal, reason: "replay finished") }
        }
        usleep(100_000)
        self.server = nil
        server.close()
    }

    package var counts: SinkCounts { recorder.snapshot }

    package var stats: SinkStats {
        let perClient = lock.withLock { clients.map(\.summary) }
        return recorder.stats(details: [
            ("frames_to_clients", .number(String(frames))), ("address", .string("ws://\(host):\(boundPort)")),
            ("venue", venue.map { .string($0.rawValue) } ?? .null), ("clients", .array(perClient)),
            ("rest_snapshots", .number(String(snapshots.count))),
            ("rest_snapshots_served", .number(String(lock.withLock { snapshotsServed }))),
            ("exchange_faults", lock.withLock { faults.counts.json }),
        ])
    }
}

enum WebSocketSinkMaker: SinkMaker {
    static let schemes = ["ws"]
    static let usage = "ws://127.0.0.1:PORT[?wait=N&wait_timeout=S&venue=V]  impersonates the venue: clients connect, subscribe and get the replay"

    static func make(_ uri: SinkURI, options: SinkOptions) throws -> any ReplaySink {
        try uri.checkParameters(["wait", "wait_timeout", "venue"])
        let parts = uri.authority.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else {
            throw ReplayError(.invalidArgument, place: uri.text, what: "ws:// needs HOST:PORT", remedy: "write ws://127.0.0.1:9443")
        }
        guard (0...65535).contains(port) else {
            throw ReplayError(
                .invalidArgument, place: uri.text, what: "port \(port) is not a TCP port", remedy: "give 1–65535, or 0 for any free port")
        }
        let wait =
            try uri.parameter("wait").map { text throws -> Int in
                guard let count = Int(text), count >= 0 else {
                    throw ReplayError(.invalidArgument, place: uri.text, what: "wait=\(text) is not a count", remedy: "write wait=0 or wait=1")
                }
                return count
            } ?? 1
        let timeout = try uri.positiveNumber("wait_timeout") ?? 30
        // The capture's `exchange` may be anything ("unknown", another venue): then no venue.
        var venue = options.venue.flatMap { Venue(rawValue: $0.lowercased()) }
        if let text = uri.parameter("venue") {
            guard let named = Venue(rawValue: text.lowercased()) else {
                throw ReplayError(
                    .invalidArgument, place: uri.text, what: "venue=\(text) is not a venue k2 impersonates",
                    remedy: "write venue=binance, venue=kraken or venue=coinbase")
            }
            venue = named
        }
        return WebSocketSink(
            uri: uri.text, host: String(parts[0]), port: port, waitFor: wait, waitTimeoutNanos: Int64(timeout * 1e9),
            venue: venue, snapshotCaptures: options.captures, clock: options.clock, logger: options.logger)
    }
}
