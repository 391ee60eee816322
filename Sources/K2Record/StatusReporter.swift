import K2Core
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Progress on stderr: a status line redrawn every second on a terminal, structured log events
/// through `logger` otherwise (one per event, stats every 10 s; `key=value` lines with k2's
/// handler). Errors go through `logger` in both modes.
final class StatusReporter: @unchecked Sendable {
    // unchecked: called from the recorder's loop only.
    let tty: Bool
    let quiet: Bool
    let logger: Logger
    private var lastFrames: Int64 = 0
    private var lastMono = SystemClock().monotonicNanos()
    private var ticks = 0
    private var lineShown = false

    init(mode: RecordConfiguration.StatusMode, logger: Logger) {
        self.logger = logger
        switch mode {
        case .auto: tty = isatty(2) != 0; quiet = false
        case .statusLine: tty = true; quiet = false
        case .log: tty = false; quiet = false
        case .quiet: tty = false; quiet = true
        }
    }

    func log(_ event: String, _ fields: [String: String]) {
        guard !quiet else { return }
        clearStatusLine()
        logger.info("\(event)", metadata: fields.mapValues { .string($0) })
    }

    func error(_ text: String) {
        clearStatusLine()
        logger.error("\(text)")
    }

    func tick(_ s: RecordSummary, bytes: Int64, open: Int, total: Int) {
        guard !quiet else { return }
        let frames = s.frames
        let now = SystemClock().monotonicNanos()
        let rate = Double(frames - lastFrames) * 1e9 / Double(max(1, now - lastMono))
        lastFrames = frames
        lastMono = now
        ticks += 1
        let mb = TimeText.fixed(Double(bytes) / 1e6, 1)
        if tty {
            write(
                "\r\u{1B}[Kk2 record  \(Int(rate)) frames/s  \(frames) frames  \(mb) MB  \(open)/\(total) connected  \(s.reconnects) reconnects  \(s.gaps) gaps"
                    + (s.duplicates > 0 ? "  \(s.duplicates) duplicates" : "") + (s.malformed > 0 ? "  \(s.malformed) malformed" : ""))
            lineShown = true
        } else if ticks % 10 == 0 {
            log(
                "stats",
                [
                    "frames": "\(frames)", "frames_per_s": "\(Int(rate))", "mb": mb, "reconnects": "\(s.reconnects)", "gaps": "\(s.gaps)",
                    "duplicates": "\(s.duplicates)", "malformed": "\(s.malformed)",
                    "connected": "\(open)/\(total)",
                ])
        }
    }

    func done(_ s: RecordSummary) {
        log(
            "done",
            [
                "frames": "\(s.frames)", "files": s.files.joined(separator: ","), "reconnects": "\(s.reconnects)", "gaps": "\(s.gaps)",
                "duplicates": "\(s.duplicates)", "malformed": "\(s.malformed)",
            ])
    }

    /// Before a logged line: the status line (on a terminal) is erased, the next tick redraws it.
    private func clearStatusLine() {
        if tty, lineShown { write("\r\u{1B}[K") }
        lineShown = false
    }

    private func write(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
