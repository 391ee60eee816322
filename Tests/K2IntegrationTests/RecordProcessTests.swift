import K2Capture
import K2Core
import K2Net
import K2TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The repository root (from this file's path) and the built `k2` binary.
enum Built {
    static var root: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }

    static func k2() throws -> String {
        let path = root + "/.build/debug/k2"
        guard access(path, X_OK) == 0 else {
            throw NotBuilt(path: path)
        }
        return path
    }
}

struct NotBuilt: Error, CustomStringConvertible {
    let path: String
    var description: String { "\(path) is not built: run `swift build` first" }
}

/// Streams `{"seq":N,…}` text frames at a steady pace (perTick every millisecond) to every
/// connection and remembers how many it sent when each connection closed.
final class TickerExchange: WebSocketServerDelegate, WebSocketDelegate, @unchecked Sendable {
    // unchecked: state under `lock`.
    let lock = Lock()
    let perTick: Int
    private var seq = 0
    private var open: [WebSocketConnection] = []
    private(set) var sentAtClose: [Int] = []
    private var timer: NetTimer?

    init(perTick: Int, loop: NetLoop) {
        self.perTick = perTick
        timer = loop.scheduleRepeating(everyNanos: 1_000_000) { [self] in self.tick() }
    }

    static func frame(_ n: Int) -> [UInt8] {
        Array(#"{"stream":"tick","data":{"seq":\#(n),"pad":"\#(String(repeating: "x", count: n % 50))"}}"#.utf8)
    }

    func stop() { timer?.cancel() }
    var closedCounts: [Int] { lock.withLock { sentAtClose } }

    private func tick() {
        guard !open.isEmpty else { return }
        for _ in 0..<perTick {
            let f = Self.frame(seq)
            seq += 1
            for c in open { c.send(f) }
        }
        for c in open { c.flush() }
    }

    func accept(_ request: HTTPRequestInfo) -> WebSocketAcceptance { .accept(self) }
    func webSocketOpened(_ c: WebSocketConnection) { open.append(c) }
    func webSocket(_ c: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool) {}
    func webSocketClosed(_ c: WebSocketConnection, code: UInt16, reason: String) {
        open.removeAll { $0 === c }
        let n = seq
        lock.withLock { sentAtClose.append(n) }
    }
}

func recvPayloads(_ path: String) throws -> (frames: [[UInt8]], last: RecordKind?, damaged: Bool) {
    let r = try CaptureReader(path: path)
    var out: [[UInt8]] = []
    var last: RecordKind?
    while let rec = try r.next() {
        if rec.kind == .recv { out.append([UInt8](rec.payload)) }
        last = rec.kind
    }
    return (out, last, r.damage != nil)
}

@Suite(.serialized)
struct RecordProcessTests {
    @Test func killMinus9LeavesAReadableCaptureMissingAtMostTheLastFlushInterval() throws {
        let k2 = try Built.k2()
        let loop = NetLoop()
        defer { loop.shutdown() }
        let ex = TickerExchange(perTick: 5, loop: loop)  // ~5,000 frames/s
        let server = try WebSocketServer(delegate: ex, loop: loop)
        defer { server.close() }
        let dir = TemporaryDirectory()
        let file = dir.file("killed.k2cap")
        try Shell.run(
            "\(k2) record --url ws://127.0.0.1:\(server.port)/ --flush-interval 200ms --quiet -o \(file) & pid=$!; sleep 2; kill -9 $pid; wait $pid || true"
        )
        #expect(waitUntilTrue { ex.closedCounts.count == 1 })
        let sent = ex.closedCounts.first ?? 0
        let got = try recvPayloads(file)
        // Every frame recorded is the frame sent, in order, byte for byte: a prefix of what was sent.
        #expect(got.frames.count > 1000)
        #expect(got.frames == (0..<got.frames.count).map { TickerExchange.frame($0) })
        // Lost: at most the last flush interval (200 ms ≈ 1,000 frames) plus the time the kill took to close the socket.
        #expect(sent - got.frames.count <= 2_500, "sent \(sent), recorded \(got.frames.count)")
        // The capture is repairable into a clean one.
        try Shell.run("\(k2) capture reindex \(file) && \(k2) capture verify \(file)")
        ex.stop()
    }

    @Test(arguments: ["TERM", "INT"])
    func signalClosesCleanlyWithNothingLost(signal: String) throws {
        let k2 = try Built.k2()
        let loop = NetLoop()
        defer { loop.shutdown() }
        let ex = TickerExchange(perTick: 5, loop: loop)
        let server = try WebSocketServer(delegate: ex, loop: loop)
        defer { server.close() }
        let dir = TemporaryDirectory()
        let file = dir.file("term.k2cap")
        let out = try Shell.run(
            "\(k2) record --url ws://127.0.0.1:\(server.port)/ --log -o \(file) 2>\(dir.file("log.txt")) & pid=$!; sleep 1.5; kill -\(signal) $pid; wait $pid; echo exit=$?"
        )
        #expect(out.contains("exit=0"))
        #expect(waitUntilTrue { ex.closedCounts.count == 1 })
        let got = try recvPayloads(file)
        #expect(!got.damaged)
        #expect(got.last == .disconnect)
        #expect(got.frames == (0..<got.frames.count).map { TickerExchange.frame($0) })
        #expect(
            got.frames.count == ex.closedCounts[0], "the server sent \(ex.closedCounts[0]) before the close, the capture holds \(got.frames.count)")
        try Shell.run("\(k2) capture verify \(file)")
        let log = try Shell.run("cat \(dir.file("log.txt"))")
        #expect(log.contains("event=connect") && log.contains("event=stop reason=SIG\(signal)"))
        ex.stop()
    }
}

func waitUntilTrue(_ seconds: Double = 20, _ condition: () -> Bool) -> Bool {
    let deadline = SystemClock().monotonicNanos() + Int64(seconds * 1e9)
    while SystemClock().monotonicNanos() < deadline {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}
