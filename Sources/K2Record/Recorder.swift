import K2Capture
import K2Core
import K2Net

#if canImport(Glibc)
import Glibc
#endif

/// Records WebSocket connections into a capture. All work happens on one event loop thread:
/// frames are appended to the capture writer straight from the socket handler, with no copy
/// and no hop, which is what lets one core record hundreds of thousands of frames a second.
package final class Recorder: @unchecked Sendable {
    // unchecked: loop-confined: its state is touched on the recorder's NetLoop only (others use loop.sync).
    package let configuration: RecordConfiguration
    let loop: NetLoop
    private let ownsLoop: Bool
    private var writer: CaptureWriter
    private let header: CaptureHeader
    private var connections: [RecorderConnection] = []
    private var timers: [NetTimer] = []
    private var part = 0
    private var partStarted: Int64 = 0
    private var stopping = false
    private var finished = false
    /// A `connect` record was written: some connection opened (else `closeWriter` removes the empty capture).
    private var everConnected = false
    private var failure: RecordError?
    private let done = Lock()
    private var doneWaiters: [@Sendable (Result<RecordSummary, RecordError>) -> Void] = []
    private var result: Result<RecordSummary, RecordError>?
    private(set) var summary = RecordSummary()
    private let startedMono: Int64
    let status: StatusReporter
    static var empty: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    /// Opens the (first) capture file; nothing connects until `start()`.
    package init(_ configuration: RecordConfiguration, loop: NetLoop? = nil) throws(RecordError) {
        guard !configuration.plans.isEmpty else {
            throw RecordError(.invalidArgument, what: "nothing to record", remedy: "give --venue or --url")
        }
        self.configuration = configuration
        self.loop = loop ?? NetLoop(threads: 1)
        ownsLoop = loop == nil
        var meta = configuration.metadata
        let venues = Array(Set(configuration.plans.compactMap { $0.venue?.rawValue })).sorted()
        if !meta.contains(where: { $0.0 == "exchange" }) {
            meta.append(("exchange", .string(venues.count == 1 ? venues[0] : venues.isEmpty ? "unknown" : venues.joined(separator: ","))))
        }
        if !meta.contains(where: { $0.0 == "subscriptions" }) {
            meta.append(("subscriptions", .array(configuration.plans.flatMap { $0.subscriptions }.map { .string($0) })))
        }
        meta.append(("urls", .array(configuration.plans.map { .string($0.url) })))
        header = CaptureHeader.now(metadata: meta, clock: configuration.clock)
        let first = Recorder.partPath(configuration, 0)
        do {
            writer = try CaptureWriter(path: first, header: header, options: Recorder.writerOptions(configuration))
        } catch {
            throw RecordError(error, duringRecording: false)
        }
        summary.files = [first]
        startedMono = configuration.clock.monotonicNanos()
        partStarted = startedMono
        status = StatusReporter(mode: configuration.status, logger: configuration.logger)
        for (i, plan) in configuration.plans.enumerated() {
            connections.append(RecorderConnection(id: UInt32(i), plan: plan, recorder: self))
        }
    }

    static func writerOptions(_ c: RecordConfiguration) -> CaptureWriter.Options {
        CaptureWriter.Options(level: c.compressionLevel, flushInterval: c.flushIntervalNanos, clock: c.clock)
    }

    /// `NAME.k2cap` without rotation; `NAME-0000.k2cap`, `NAME-0001.k2cap`, … with it.
    static func partPath(_ c: RecordConfiguration, _ part: Int) -> String {
        guard c.rotateBytes != nil || c.rotateEveryNanos != nil else { return c.output }
        let base = c.output.hasSuffix(".k2cap") ? String(c.output.dropLast(6)) : c.output
        let number = String(part)
        return base + "-" + String(repeating: "0", count: max(0, 4 - number.count)) + number + ".k2cap"
    }

    /// Connects everything and starts the timers.
    package func start() {
        loop.execute { [self] in
            status.log("start", ["output": summary.files[0], "connections": "\(connections.count)"])
            for connection in connections { connection.connect() }
            let tick = max(10_000_000, configuration.flushIntervalNanos / 4)
            timers.append(loop.scheduleRepeating(everyNanos: tick) { [self] in self.flushTick() })
            timers.append(loop.scheduleRepeating(everyNanos: 1_000_000_000) { [self] in self.statusTick() })
            if let duration = configuration.durationNanos {
                timers.append(loop.schedule(afterNanos: duration) { [self] in self.stopOnLoop(reason: "duration reached") })
            }
            if let interval = configuration.rotateEveryNanos {
                timers.append(loop.scheduleRepeating(everyNanos: interval) { [self] in self.rotate(reason: "time") })
            }
        }
    }

    /// Stops cleanly (closes connections, writes everything, closes the capture). Any thread.
    package func stop(reason: String = "stopped") {
        loop.execute { [self] in self.stopOnLoop(reason: reason) }
    }

    /// Calls `body` once recording has finished (on the loop thread).
    package func whenFinished(_ body: @escaping @Sendable (Result<RecordSummary, RecordError>) -> Void) {
        let finished: Result<RecordSummary, RecordError>? = done.withLock {
            if result == nil { doneWaiters.append(body) }
            return result
        }
        if let finished { body(finished) }
    }

    /// Starts, waits until the recording ends (duration, `stop()`, or a fatal error) and returns
    /// its summary. Not on the loop thread.
    package func run() throws(RecordError) -> RecordSummary {
        let finished = Latch<Result<RecordSummary, RecordError>>()
        whenFinished { r in finished.set(r) }
        start()
        let result = finished.wait()
        if ownsLoop { loop.shutdown() }
        switch result {
        case let .success(summary): return summary
        case let .failure(error): throw error
        }
    }

    // MARK: on the loop

    func append(
        kind: RecordKind, connection: UInt32, isBinary: Bool = false, aux: UnsafeRawBufferPointer = Recorder.empty,
        payload: UnsafeRawBufferPointer
    ) {
        guard !finished else { return }
        if kind == .connect { everConnected = true }
        do {
            try writer.append(
                kind: kind, timestamp: configuration.clock.wallNanos(), connection: connection, isBinary: isBinary, aux: aux, payload: payload)
        } catch {
            fail(RecordError(error, duringRecording: true))
            return
        }
        if let rb = configuration.rotateBytes, writer.fileBytes >= rb { rotate(reason: "size") }
    }

    @inline(__always)
    func appendReceived(connection: UInt32, isBinary: Bool, payload: UnsafeRawBufferPointer) {
        summary.frames += 1
        summary.payloadBytes += Int64(payload.count)
        append(kind: .recv, connection: connection, isBinary: isBinary, payload: payload)
    }

    func append(kind: RecordKind, connection: UInt32, url: String = "", text: String) {
        var urlBytes = Array(url.utf8), textBytes = Array(text.utf8)
        urlBytes.withUnsafeMutableBytes { ub in
            textBytes.withUnsafeMutableBytes { tb in
                append(kind: kind, connection: connection, aux: UnsafeRawBufferPointer(ub), payload: UnsafeRawBufferPointer(tb))
            }
        }
    }

    func marker(connection: UInt32, _ fields: [(String, JSONValue)]) {
        append(kind: .marker, connection: connection, text: JSONValue.object(fields).serialized())
    }

    func noteReconnect() { summary.reconnects += 1 }
    func noteGap() { summary.gaps += 1 }
    func noteDuplicate() { summary.duplicates += 1 }
    func noteMalformed() { summary.malformed += 1 }
    var isStopping: Bool { stopping }

    private func flushTick() {
        guard !finished else { return }
        do { try writer.flushIfDue() } catch { fail(RecordError(error, duringRecording: true)) }
    }

    private func statusTick() {
        guard !finished else { return }
        status.tick(
            summary, bytes: writer.fileBytes + totalPreviousBytes,
            open: connections.filter { $0.isOpen }.count, total: connections.count)
    }

    private var totalPreviousBytes: Int64 = 0

    func rotate(reason: String) {
        guard !finished else { return }
        let previous = writer.path
        do {
            try writer.close()
        } catch {
            fail(RecordError(error, duringRecording: true))
            return
        }
        totalPreviousBytes += writer.fileBytes
        part += 1
        let path = Recorder.partPath(configuration, part)
        do {
            var partHeader = header
            partHeader.createdNanos = configuration.clock.wallNanos()
            partHeader.metadata.append(("part", .number(String(part))))
            partHeader.metadata.append(("previous_part", .string(previous)))
            writer = try CaptureWriter(path: path, header: partHeader, options: Recorder.writerOptions(configuration))
        } catch {
            finished = true
            finish(.failure(RecordError(error, duringRecording: true)))
            return
        }
        summary.files.append(path)
        status.log("rotate", ["file": path, "reason": reason])
        marker(
            connection: 0,
            [
                ("marker", .string("rotation")), ("part", .number(String(part))), ("previous", .string(previous)),
                (
                    "connections",
                    .array(
                        connections.map { connection in
                            .object([
                                ("conn", .number(String(connection.id))), ("url", .string(connection.plan.url)), ("open", .bool(connection.isOpen)),
                            ])
                        })
                ),
            ])
    }

    func fail(_ error: RecordError) {
        guard failure == nil else { return }
        failure = error
        status.error(error.description)
        stopOnLoop(reason: "error")
    }

    func stopOnLoop(reason: String) {
        guard !stopping else { return }
        stopping = true
        summary.stopReason = reason
        status.log("stop", ["reason": reason])
        var open = 0
        for connection in connections where connection.stop() { open += 1 }
        if open == 0 {
            closeWriter()
        } else {
            // Give peers a moment to answer the close frames, then close regardless.
            timers.append(loop.schedule(afterNanos: 1_500_000_000) { [self] in self.closeWriter() })
        }
    }

    /// A connection finished closing during shutdown.
    func connectionStopped() {
        if stopping && connections.allSatisfy({ !$0.isOpen }) { closeWriter() }
    }

    private func closeWriter() {
        guard !finished else { return }
        finished = true
        for timer in timers { timer.cancel() }
        timers.removeAll()
        var closeError: RecordError?
        do { try writer.close() } catch { closeError = RecordError(error, duringRecording: true) }
        if !everConnected {
            // No connection ever opened: a capture with a header and nothing else is no recording.
            for file in summary.files { unlink(file) }
            summary.files = []
        }
        summary.records = 0
        summary.durationNanos = configuration.clock.monotonicNanos() - startedMono
        status.done(summary)
        if let problem = failure ?? closeError {
            finish(.failure(problem))
        } else {
            finish(.success(summary))
        }
    }

    private func finish(_ r: Result<RecordSummary, RecordError>) {
        let waiters = done.withLock { () -> [@Sendable (Result<RecordSummary, RecordError>) -> Void] in
            result = r
            defer { doneWaiters.removeAll() }
            return doneWaiters
        }
        for waiter in waiters { waiter(r) }
    }
}

extension Recorder {
    /// A consistent copy of the counters (frames, reconnects, gaps, duplicates, malformed frames, files), taken on the loop.
    /// Not on the loop thread.
    package func currentSummary() -> RecordSummary {
        (try? loop.sync { [self] in self.summary }) ?? RecordSummary()
    }
}
