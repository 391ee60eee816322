import K2Capture
import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `file:PATH` and `-` — every message as one NDJSON line (`NDJSONRecord`, the `k2 capture cat`
/// form), for piping. At a paced speed or rate each line is written (`write(2)`) when its message
/// is sent, so a reader sees the capture's timing (256 KiB batches made a 1x replay's reader
/// get bursts up to 11.7 s late); at `--speed max` lines collect in a 256 KiB buffer. A message
/// counts as delivered when the `write(2)` holding it returned, with its latency taken then. A
/// failing write (EPIPE, disk full) fails the buffered messages with the system's reason and
/// stops the replay.
final class FileSink: ReplaySink {
    let uri: String
    let path: String
    private var fd: Int32 = -1
    private let recorder: SinkRecorder
    private var buffer: [UInt8] = []
    private var pendingIntended: [Int64] = []
    private var pendingActual: [Int64] = []
    private let capacity = 256 * 1024
    /// Write every message at once (paced runs); false batches (`--speed max`, set by `willStart`).
    private var writeEachMessage = true

    init(uri: String, path: String, clock: any NanoClock = SystemClock()) {
        self.uri = uri
        self.path = path
        recorder = SinkRecorder(clock: clock)
        buffer.reserveCapacity(capacity + 64 * 1024)
        pendingIntended.reserveCapacity(32 * 1024)
        pendingActual.reserveCapacity(32 * 1024)
    }

    func open() throws {
        if path == "-" {
            fd = 1
            return
        }
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw ReplayError(
                .io, place: uri, what: "cannot open \(path): \(String(cString: strerror(errno)))",
                remedy: "check the directory exists and is writable")
        }
    }

    /// NDJSON lines carry the record, not the extracted fields.
    var usesPayloadFields: Bool { false }

    /// Batches only when nothing is paced: at `max` no message has a time to be written at.
    func willStart(pace: Pace) {
        writeEachMessage = pace != .max
    }

    func send(_ message: borrowing ReplayMessage) throws {
        recorder.sent(bytes: message.record.payload.count)
        NDJSONRecord.append(message.record, to: &buffer)
        pendingIntended.append(message.intendedNanos)
        pendingActual.append(message.actualNanos)
        if writeEachMessage || buffer.count >= capacity || pendingIntended.count == pendingIntended.capacity {
            try flush()
        }
    }

    private func flush() throws {
        guard !pendingIntended.isEmpty else { return }
        var failure: Int32 = 0
        buffer.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                off += written
            }
        }
        let messageCount = pendingIntended.count
        if failure != 0 {
            recorder.failed(reason: String(cString: strerror(failure)), count: UInt64(messageCount))
        } else {
            let now = recorder.clock.monotonicNanos()
            for i in 0..<messageCount { recorder.delivered(intendedNanos: pendingIntended[i], actualNanos: pendingActual[i], now: now) }
        }
        buffer.removeAll(keepingCapacity: true)
        pendingIntended.removeAll(keepingCapacity: true)
        pendingActual.removeAll(keepingCapacity: true)
        if failure != 0 {
            throw ReplayError(
                .sinkFailed, place: uri, what: "write failed: \(String(cString: strerror(failure)))",
                remedy: failure == EPIPE ? "the reading end of the pipe went away" : "check free disk space")
        }
    }

    func finish(timeoutNanos: Int64) throws {
        defer {
            if fd > 2 { close(fd) }
            fd = -1
        }
        if fd >= 0 { try flush() }
    }

    var counts: SinkCounts { recorder.snapshot }
    var stats: SinkStats { recorder.stats(details: [("path", .string(path))]) }
}

enum FileSinkMaker: SinkMaker {
    static let schemes = ["file"]
    static let usage = "file:PATH | -  NDJSON lines (k2 capture cat form) into a file or stdout"

    static func make(_ uri: SinkURI, options: SinkOptions) throws -> any ReplaySink {
        try uri.checkParameters([])
        let path = uri.authority.isEmpty ? uri.path : uri.authority + uri.path
        guard !path.isEmpty else {
            throw ReplayError(
                .invalidArgument, place: uri.text, what: "file sink without a path",
                remedy: "write file:out.ndjson, file:///tmp/out.ndjson or - for stdout")
        }
        return FileSink(uri: uri.text, path: path, clock: options.clock)
    }
}
