import K2Capture
import K2Core
import K2Net
import K2TestSupport
import Testing

@testable import K2Record

#if canImport(Glibc)
import Glibc
#endif

func waitUntil(_ seconds: Double = 20, _ condition: () -> Bool) -> Bool {
    let deadline = SystemClock().monotonicNanos() + Int64(seconds * 1e9)
    while SystemClock().monotonicNanos() < deadline {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}

func readAll(_ path: String) throws -> [OwnedRecord] {
    let reader = try CaptureReader(path: path)
    var out: [OwnedRecord] = []
    while let rec = try reader.next() { out.append(rec.owned()) }
    return out
}

/// A scripted exchange: after the client's first text frame (or at once with `sendOnOpen`) it
/// sends `frames`; records what it sent; can drop each connection after `dropAfter` frames.
final class ScriptedExchange: WebSocketServerDelegate, WebSocketDelegate, @unchecked Sendable {
    // unchecked: state under `lock`.
    let lock = Lock()
    var frames: [([UInt8], Bool)]
    var sendOnOpen: Bool
    var dropAfter: Int?
    var reply: String?
    /// Statuses the depth snapshot answers with, one per request, before it answers 200.
    var snapshotStatuses: [Int] = []
    private(set) var snapshotRequests = 0
    private(set) var sentPerConnection: [[[UInt8]]] = []
    private(set) var receivedTexts: [String] = []
    var connections: Int { lock.withLock { sentPerConnection.count } }

    init(frames: [([UInt8], Bool)], sendOnOpen: Bool = false, dropAfter: Int? = nil, reply: String? = nil) {
        self.frames = frames
        self.sendOnOpen = sendOnOpen
        self.dropAfter = dropAfter
        self.reply = reply
    }

    func accept(_ request: HTTPRequestInfo) -> WebSocketAcceptance { .accept(self) }

    func respond(to request: HTTPRequestInfo) -> HTTPResponseInfo {
        if request.path == "/api/v3/depth" {
            let failing = lock.withLock { () -> Int? in
                snapshotRequests += 1
                return snapshotStatuses.isEmpty ? nil : snapshotStatuses.removeFirst()
            }
            if let failing { return HTTPResponseInfo(status: failing, body: "<html>\(failing)</html>") }
            return HTTPResponseInfo(
                status: 200, headers: [("Content-Type", "application/json")],
                body: #"{"lastUpdateId":1000,"bids":[["1.00","2.00"]],"asks":[["1.10","3.00"]]}"#)
        }
        return HTTPResponseInfo(status: 404, body: "no\n")
    }

    func webSocketOpened(_ c: WebSocketConnection) {
        lock.withLock { sentPerConnection.append([]) }
        if sendOnOpen { blast(c) }
    }

    func webSocket(_ c: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool) {
        lock.withLock { receivedTexts.append(String(decoding: payload, as: UTF8.self)) }
        if let reply { c.sendNow(text: reply); return }
        if !sendOnOpen { blast(c) }
    }

    func webSocketClosed(_ c: WebSocketConnection, code: UInt16, reason: String) {}

    private func blast(_ c: WebSocketConnection) {
        let index = lock.withLock { sentPerConnection.count - 1 }
        for (i, frame) in frames.enumerated() {
            if let dropAfter, i == dropAfter, index == 0 {
                c.flush()
                c.abort()
                return
            }
            c.send(frame.0, binary: frame.1)
            lock.withLock { sentPerConnection[index].append(frame.0) }
        }
        c.flush()
    }
}

func trades(_ n: Int, from: Int = 1) -> [([UInt8], Bool)] {
    (0..<n).map { i in
        (
            Array(
                #"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":\#(from + i),"p":"1.0","q":"2.0","T":1,"m":true,"M":true}}"#
                    .utf8), false
        )
    }
}

func testConfig(_ plans: [ConnectionPlan], _ out: String) -> RecordConfiguration {
    var config = RecordConfiguration(plans: plans, output: out)
    config.status = .quiet
    config.seed = 1
    config.backoffInitialNanos = 20_000_000
    config.backoffMaxNanos = 100_000_000
    config.flushIntervalNanos = 50_000_000
    return config
}

@Suite(.serialized)
struct RecorderTests {
    @Test func recordsEveryFrameExactlyWithSendsConnectAndDisconnect() throws {
        var frames = trades(1000)
        frames.insert(([0, 1, 2, 3, 254, 255], true), at: 10)
        let ex = ScriptedExchange(frames: frames)
        let server = try WebSocketServer(delegate: ex)
        defer { server.close() }
        let dir = TemporaryDirectory()
        let plan = try ConnectionPlan.raw(url: "ws://127.0.0.1:\(server.port)/feed", sends: [#"{"op":"subscribe","args":["trade"]}"#])
        let rec = try Recorder(testConfig([plan], dir.file("a.k2cap")))
        rec.start()
        #expect(waitUntil { rec.currentSummary().frames == 1001 })
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        let recs = try readAll(dir.file("a.k2cap"))
        #expect(recs.first?.kind == .connect)
        #expect(String(decoding: recs[0].url, as: UTF8.self) == "ws://127.0.0.1:\(server.port)/feed")
        #expect(recs[1].kind == .send && recs[1].payload == Array(#"{"op":"subscribe","args":["trade"]}"#.utf8))
        let recv = recs.filter { $0.kind == .recv }
        #expect(recv.count == frames.count)
        #expect(recv.map(\.payload) == frames.map(\.0))
        #expect(recv.map(\.isBinary) == frames.map(\.1))
        #expect(recs.last?.kind == .disconnect)
        #expect(String(decoding: recs.last!.payload, as: UTF8.self).contains("\"code\":1000"))
        #expect(recs.map(\.timestamp) == recs.map(\.timestamp).sorted())
    }

    @Test func reconnectsAfterADropWithMarkerAndResubscribes() throws {
        let ex = ScriptedExchange(frames: trades(100), dropAfter: 40)
        let server = try WebSocketServer(delegate: ex)
        defer { server.close() }
        let dir = TemporaryDirectory()
        let plan = try ConnectionPlan.raw(url: "ws://127.0.0.1:\(server.port)/", sends: ["sub"])
        let rec = try Recorder(testConfig([plan], dir.file("r.k2cap")))
        rec.start()
        #expect(waitUntil { rec.currentSummary().frames == 140 })
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        let recs = try readAll(dir.file("r.k2cap"))
        let kinds = recs.map(\.kind)
        #expect(kinds.filter { $0 == .connect }.count == 2)
        #expect(kinds.filter { $0 == .send }.count == 2)
        #expect(ex.receivedTexts == ["sub", "sub"])
        let markers = recs.filter { $0.kind == .marker }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(markers.count == 1 && markers[0].contains(#""marker":"reconnect""#))
        // First connection: 40 frames, then a 1006 disconnect, the marker, the second connection's 100.
        let recv = recs.filter { $0.kind == .recv }.map(\.payload)
        #expect(recv == Array(trades(100).map(\.0).prefix(40)) + trades(100).map(\.0))
        let firstDisc = recs.first(where: { $0.kind == .disconnect }).map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(firstDisc?.contains("1006") == true)
    }

    @Test func eventsGoThroughTheConfiguredLogger() throws {
        let ex = ScriptedExchange(frames: trades(100), dropAfter: 40)
        let server = try WebSocketServer(delegate: ex)
        defer { server.close() }
        let dir = TemporaryDirectory()
        let plan = try ConnectionPlan.raw(url: "ws://127.0.0.1:\(server.port)/", sends: ["sub"])
        let log = LogLines()
        var config = testConfig([plan], dir.file("l.k2cap"))
        config.status = .log
        config.logger = log.logger()
        let recorder = try Recorder(config)
        recorder.start()
        #expect(waitUntil { recorder.currentSummary().frames == 140 })
        recorder.stop(reason: "test")
        let done = Latch<Void>()
        recorder.whenFinished { _ in done.set() }
        done.wait()
        // One line per event, in k2's key=value style (the handler's own tests pin the format).
        let events = log.lines.compactMap { line in line.split(separator: " ").first { $0.hasPrefix("event=") }.map { String($0.dropFirst(6)) } }
        #expect(events.first == "start")
        #expect(events.filter { $0 == "connect" }.count == 2)
        #expect(events.contains("disconnect") && events.contains("reconnect_scheduled"))
        #expect(events.last == "done" && events.contains("stop"))
        #expect(log.lines.contains { $0.hasSuffix("event=stop reason=test") && $0.contains("level=info") })
    }

    @Test func rejectedSubscriptionStopsWithOneLineAndStaysInTheCapture() throws {
        let ex = ScriptedExchange(
            frames: [], reply: #"{"event":"subscriptionStatus","status":"error","errorMessage":"Currency pair not supported","pair":"FOO/BAR"}"#)
        let server = try WebSocketServer(delegate: ex)
        defer { server.close() }
        let dir = TemporaryDirectory()
        let plan = try ConnectionPlan.venue(.kraken, symbols: ["FOO/BAR"], channels: ["trade"], url: "ws://127.0.0.1:\(server.port)")
        let rec = try Recorder(testConfig([plan], dir.file("k.k2cap")))
        do {
            _ = try rec.run()
            Issue.record("no error")
        } catch {
            #expect(error.code == .subscriptionRejected)
            #expect(error.description.contains("Currency pair not supported"))
            #expect(!error.duringRecording)
        }
        let recs = try readAll(dir.file("k.k2cap"))
        #expect(recs.contains { $0.kind == .recv && String(decoding: $0.payload, as: UTF8.self).contains("Currency pair not supported") })
    }

    @Test func firstConnectFailureIsBadInput() throws {
        let dir = TemporaryDirectory()
        // A port nobody listens on.
        let probe = try WebSocketServer(delegate: ScriptedExchange(frames: []))
        let port = probe.port
        probe.close()
        let plan = try ConnectionPlan.raw(url: "ws://127.0.0.1:\(port)/", sends: [])
        let rec = try Recorder(testConfig([plan], dir.file("f.k2cap")))
        do {
            _ = try rec.run()
            Issue.record("no error")
        } catch {
            #expect(error.code == .connect)
            #expect(!error.duringRecording)
        }
        // No connection ever opened: no capture is left behind (issue 17).
        #expect(access(dir.file("f.k2cap"), F_OK) != 0)
    }

    @Test func binanceDepthSnapshotIsStoredAsHTTPRecordAndGapsAsMarkers() throws {
        var frames = trades(5)
        frames += trades(5, from: 10)  // ids 10…14 after 1…5: a gap (expected 6, got 10)
        let ex = ScriptedExchange(frames: frames, sendOnOpen: true)
        let server = try WebSocketServer(delegate: ex)
        defer { server.close() }
        let dir = TemporaryDirectory()
        let plan = try ConnectionPlan.venue(.binance, symbols: ["BTCUSDT"], channels: ["trade", "depth"], url: "ws://127.0.0.1:\(server.port)")
        let rec = try Recorder(testConfig([plan], dir.file("b.k2cap")))
        rec.start()
        #expect(waitUntil { rec.currentSummary().frames == 10 && rec.currentSummary().gaps == 1 })
        _ = waitUntil(2) { false }
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        let recs = try readAll(dir.file("b.k2cap"))
        let http = recs.first { $0.kind == .http }
        #expect(http.map { String(decoding: $0.url, as: UTF8.self) } == "http://127.0.0.1:\(server.port)/api/v3/depth?symbol=BTCUSDT&limit=1000")
        #expect(http.map { String(decoding: $0.payload, as: UTF8.self).hasPrefix(#"{"lastUpdateId":1000"#) } == true)
        let gap = recs.first { $0.kind == .marker }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(gap == #"{"marker":"gap","conn":0,"stream":"btcusdt@trade","field":"t","expected":6,"got":10}"#)
    }

    /// A snapshot answered 404 or 503 is not a snapshot: each failure is a `snapshot_failed` marker
    /// with its status, the request is retried, and only the 200 answer becomes an `http` record.
    @Test func failedSnapshotIsAMarkerAndIsRetried() throws {
        let ex = ScriptedExchange(frames: trades(3), sendOnOpen: true)
        ex.snapshotStatuses = [404, 503]
        let server = try WebSocketServer(delegate: ex)
        defer { server.close() }
        let dir = TemporaryDirectory()
        let plan = try ConnectionPlan.venue(.binance, symbols: ["BTCUSDT"], channels: ["trade", "depth"], url: "ws://127.0.0.1:\(server.port)")
        var config = testConfig([plan], dir.file("s.k2cap"))
        config.snapshotRetryNanos = 20_000_000
        let rec = try Recorder(config)
        rec.start()
        #expect(waitUntil { ex.lock.withLock { ex.snapshotRequests } >= 3 && rec.currentSummary().frames == 3 })
        _ = waitUntil(1) { false }
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        let recs = try readAll(dir.file("s.k2cap"))
        let http = recs.filter { $0.kind == .http }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(http.count == 1 && http.first?.hasPrefix(#"{"lastUpdateId":1000"#) == true)
        let failures = recs.filter { $0.kind == .marker }.compactMap { try? JSONParser.parse(String(decoding: $0.payload, as: UTF8.self)) }
            .filter { $0["marker"]?.stringValue == "snapshot_failed" }
        #expect(failures.map { $0["status"]?.int64Value } == [404, 503])
        #expect(failures.map { $0["attempt"]?.int64Value } == [1, 2])
        #expect(failures.first?["body"]?.stringValue == "<html>404</html>")
        #expect(ex.lock.withLock { ex.snapshotRequests } == 3)
    }

    @Test func sizeRotationLosesNothingAcrossBoundaries() throws {
        let frames = trades(20_000)
        let ex = ScriptedExchange(frames: frames, sendOnOpen: true)
        let server = try WebSocketServer(delegate: ex)
        defer { server.close() }
        let dir = TemporaryDirectory()
        let plan = try ConnectionPlan.raw(url: "ws://127.0.0.1:\(server.port)/", sends: [])
        var config = testConfig([plan], dir.file("rot.k2cap"))
        config.rotateBytes = 8_000
        let rec = try Recorder(config)
        rec.start()
        #expect(waitUntil { rec.currentSummary().frames == 20_000 })
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        let files = rec.currentSummary().files
        #expect(files.count >= 3)
        #expect(files.first == dir.file("rot-0000.k2cap"))
        var all: [OwnedRecord] = []
        for file in files {
            let recs = try readAll(file)
            #expect(try CaptureReader(path: file).damage == nil)
            all += recs
        }
        #expect(all.filter { $0.kind == .recv }.map(\.payload) == frames.map(\.0))
        #expect(all.filter { $0.kind == .marker }.count == files.count - 1)
    }
}
