import K2Capture
import K2Core
import K2Net

/// One recorded connection: connects, subscribes, records every frame, reconnects with backoff.
/// Loop-confined (all calls on the recorder's loop).
final class RecorderConnection: WebSocketDelegate, @unchecked Sendable {
    // unchecked: loop-confined (all calls on the recorder's loop).
    let id: UInt32
    let plan: ConnectionPlan
    unowned let recorder: Recorder
    private var backoff: Backoff
    private var connection: WebSocketConnection?
    private var everOpened = false
    private var connecting = false
    private var framesSinceOpen = 0
    private var sequences = GapDetector()
    private var reconnectTimer: NetTimer?
    private var attempts = 0
    private(set) var isOpen = false

    init(id: UInt32, plan: ConnectionPlan, recorder: Recorder) {
        self.id = id
        self.plan = plan
        self.recorder = recorder
        let config = recorder.configuration
        backoff = Backoff(
            initialNanos: config.backoffInitialNanos, maxNanos: config.backoffMaxNanos, jitter: config.backoffJitter,
            seed: config.seed &+ UInt64(id) &* 0x9E37_79B9_7F4A_7C15)
    }

    func connect() {
        guard !recorder.isStopping else { return }
        let url: NetURL
        do { url = try NetURL(plan.url) } catch {
            recorder.fail(RecordError(.invalidArgument, place: plan.url, what: error.what, remedy: error.remedy))
            return
        }
        connecting = true
        attempts += 1
        WebSocketClient.connect(url, configuration: recorder.configuration.client, loop: recorder.loop, connectionId: Int(id), delegate: self)
    }

    /// Closes the connection for shutdown; returns true if a close is in progress.
    func stop() -> Bool {
        reconnectTimer?.cancel()
        reconnectTimer = nil
        if let connection, isOpen {
            connection.close(code: CloseCode.normal, reason: "k2 record stopping")
            return true
        }
        return false
    }

    // MARK: WebSocketDelegate

    func webSocketOpened(_ c: WebSocketConnection) {
        connecting = false
        if recorder.isStopping {
            c.close(code: CloseCode.normal, reason: "k2 record stopping")
        }
        connection = c
        isOpen = true
        everOpened = true
        framesSinceOpen = 0
        backoff.reset()
        sequences.reset()
        recorder.append(kind: .connect, connection: id, url: plan.url, text: "")
        recorder.status.log("connect", ["conn": "\(id)", "url": plan.url])
        for send in plan.sends {
            c.send(text: send)
            recorder.append(kind: .send, connection: id, text: send)
        }
        c.flush()
        for url in plan.snapshotURLs { fetchSnapshot(url) }
    }

    func webSocketFailed(_ error: NetError) {
        connecting = false
        if !everOpened && attempts == 1 {
            // The very first attempt: bad URL, host, TLS or handshake — the user must fix the input.
            recorder.fail(RecordError(error))
            return
        }
        recorder.status.log("connect_failed", ["conn": "\(id)", "error": error.description])
        recorder.marker(
            connection: id, [("marker", .string("connect_failed")), ("conn", .number(String(id))), ("error", .string(error.description))])
        scheduleReconnect()
    }

    func webSocket(_ c: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool) {
        recorder.appendReceived(connection: id, isBinary: binary, payload: payload)
        if framesSinceOpen < 64 {
            framesSinceOpen += 1
            if !binary, let why = rejection(payload) { rejected(why) }
        }
        if !binary, let finding = sequences.check(plan.venue, payload) { note(finding) }
    }

    func webSocketClosed(_ c: WebSocketConnection, code: UInt16, reason: String) {
        isOpen = false
        connection = nil
        let payload = JSONValue.object([("code", .number(String(code))), ("reason", .string(reason))]).serialized()
        recorder.append(kind: .disconnect, connection: id, text: payload)
        recorder.status.log("disconnect", ["conn": "\(id)", "code": "\(code)", "reason": reason])
        if recorder.isStopping {
            recorder.connectionStopped()
        } else {
            scheduleReconnect()
        }
    }

    // MARK: helpers

    /// Writes a finding of the sequence check as its marker, counts it and logs it.
    private func note(_ finding: GapDetector.Finding) {
        let conn: (String, JSONValue) = ("conn", .number(String(id)))
        switch finding {
        case let .gap(gap):
            recorder.noteGap()
            recorder.marker(
                connection: id,
                [
                    ("marker", .string("gap")), conn, ("stream", .string(gap.stream)),
                    ("field", .string(gap.field)), ("expected", .number(String(gap.expected))), ("got", .number(String(gap.got))),
                ])
            recorder.status.log("gap", ["conn": "\(id)", "stream": gap.stream, "expected": "\(gap.expected)", "got": "\(gap.got)"])
        case let .duplicate(stream, field, first):
            recorder.noteDuplicate()
            recorder.marker(
                connection: id,
                [
                    ("marker", .string("duplicate")), conn, ("stream", .string(stream)),
                    ("field", .string(field)), ("id", .number(String(first))),
                ])
            recorder.status.log("duplicate", ["conn": "\(id)", "stream": stream, "id": "\(first)"])
        case let .malformed(stream, bytes):
            recorder.noteMalformed()
            recorder.marker(connection: id, [("marker", .string("malformed")), conn, ("stream", .string(stream)), ("bytes", .number(String(bytes)))])
            recorder.status.log("malformed", ["conn": "\(id)", "stream": stream, "bytes": "\(bytes)"])
        }
    }

    private func scheduleReconnect() {
        guard !recorder.isStopping, reconnectTimer == nil else { return }
        let delay = backoff.next()
        recorder.status.log("reconnect_scheduled", ["conn": "\(id)", "delay_ms": "\(delay / 1_000_000)", "attempt": "\(backoff.attempt)"])
        reconnectTimer = recorder.loop.schedule(afterNanos: delay) { [self] in
            self.reconnectTimer = nil
            guard !self.recorder.isStopping else { return }
            self.recorder.noteReconnect()
            self.recorder.marker(
                connection: self.id,
                [
                    ("marker", .string("reconnect")), ("conn", .number(String(self.id))),
                    ("attempt", .number(String(self.backoff.attempt))), ("delay_ns", .number(String(delay))),
                    ("url", .string(self.plan.url)),
                ])
            self.connect()
        }
    }

    /// Fetches one REST snapshot and stores a 200 answer as an `http` record. Any other status, or
    /// no answer, becomes a `snapshot_failed` marker (the body is not a snapshot: a replay must not
    /// serve a 404 page as the book) and is asked again up to `snapshotRetries` times.
    private func fetchSnapshot(_ urlText: String, attempt: Int = 0) {
        guard let url = try? NetURL(urlText) else { return }
        HTTPFetch.get(url, loop: recorder.loop, tls: recorder.configuration.client.tls) { [self] result in
            let failure: [(String, JSONValue)]
            let reason: (key: String, value: String)
            switch result {
            case let .success(response) where response.status == 200:
                response.body.withUnsafeBytes { bodyBytes in
                    Array(urlText.utf8).withUnsafeBytes { urlBytes in
                        self.recorder.append(kind: .http, connection: self.id, aux: urlBytes, payload: bodyBytes)
                    }
                }
                return
            case let .success(response):
                let body = String(decoding: response.body.prefix(200), as: UTF8.self)
                failure = [("status", .number(String(response.status))), ("body", .string(body))]
                reason = ("status", String(response.status))
            case let .failure(error):
                failure = [("error", .string(error.description))]
                reason = ("error", error.description)
            }
            let retries = self.recorder.configuration.snapshotRetries
            self.recorder.marker(
                connection: self.id,
                [
                    ("marker", .string("snapshot_failed")), ("conn", .number(String(self.id))), ("url", .string(urlText)),
                    ("attempt", .number(String(attempt + 1))),
                ] + failure)
            self.recorder.status.log(
                "snapshot_failed", ["conn": "\(self.id)", "url": urlText, "attempt": "\(attempt + 1)", reason.key: reason.value])
            guard attempt < retries, !self.recorder.isStopping else { return }
            let delay = self.recorder.configuration.snapshotRetryNanos << Int64(attempt)
            _ = self.recorder.loop.schedule(afterNanos: delay) { [self] in
                guard !self.recorder.isStopping else { return }
                self.fetchSnapshot(urlText, attempt: attempt + 1)
            }
        }
    }

    static let kError = Array("\"error\"".utf8), kStatusError = Array("\"status\":\"error\"".utf8)
    static let kTypeError = Array("\"type\":\"error\"".utf8), kMsg = Array("\"msg\":".utf8)
    static let kErrorMessage = Array("\"errorMessage\":".utf8), kMessage = Array("\"message\":".utf8)

    /// The venue's rejection message, if `p` is one.
    private func rejection(_ p: UnsafeRawBufferPointer) -> String? {
        let str: (UnsafeRawBufferPointer?) -> String? = { $0.map { String(decoding: $0, as: UTF8.self) } }
        switch plan.venue {
        case .binance:
            guard PayloadFields.find(p, Self.kError) != nil, PayloadFields.find(p, Array("\"stream\"".utf8)) == nil else { return nil }
            return str(PayloadFields.stringValue(p, key: Self.kMsg)) ?? String(decoding: p.prefix(200), as: UTF8.self)
        case .kraken:
            guard PayloadFields.find(p, Self.kStatusError) != nil else { return nil }
            return str(PayloadFields.stringValue(p, key: Self.kErrorMessage)) ?? String(decoding: p.prefix(200), as: UTF8.self)
        case .coinbase:
            guard PayloadFields.find(p, Self.kTypeError) != nil else { return nil }
            return str(PayloadFields.stringValue(p, key: Self.kMessage)) ?? String(decoding: p.prefix(200), as: UTF8.self)
        case nil:
            return nil
        }
    }

    private func rejected(_ why: String) {
        recorder.marker(connection: id, [("marker", .string("subscription_rejected")), ("conn", .number(String(id))), ("message", .string(why))])
        guard recorder.configuration.stopOnRejectedSubscription else { return }
        recorder.fail(
            RecordError(
                .subscriptionRejected, place: plan.url, what: "\(plan.venue?.rawValue ?? "the server") rejected the subscription: \(why)",
                remedy: "check --symbols and --channels (the rejection is recorded in the capture)"))
    }
}
