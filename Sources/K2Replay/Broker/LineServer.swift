import Foundation
import K2Core

/// A line-based TCP server: one request per line, one reply line per request, connections
/// served one at a time on a thread of its own. `k2 broker --control-port` (fault commands and
/// `time`) and `k2 bench clock` (the shards' clock reference) answer through it.
public final class LineServer: @unchecked Sendable {
    // unchecked: `running` and `client` under `lock`; the rest immutable after init.

    /// The longest request line accepted (the connection is answered with an error and closed).
    static let maximumLineBytes = 65536

    public let host: String
    /// The port listened on (the one asked for, or a free one for 0).
    public let port: Int
    private let answer: @Sendable (String) -> String
    private let listener: Int32
    private let lock = Lock()
    private var running = true
    private var client: Int32 = -1
    private var thread: JoinableThread?

    /// Listens on `host:port` (0 = a free port) and answers each non-empty, trimmed line with
    /// `answer(line)` until `stop()`. `place` names the command in the error when it cannot listen.
    public init(host: String, port: Int, place: String, answer: @escaping @Sendable (String) -> String) throws {
        guard (0...65535).contains(port) else {
            throw ReplayError(.invalidArgument, place: place, what: "port \(port) is not a port", remedy: "give 1-65535, or 0 for a free port")
        }
        let (fd, actualPort) = try BrokerProxy.listen(host: host, port: port, place: place)
        listener = fd
        self.port = actualPort
        self.host = host
        self.answer = answer
        thread = JoinableThread.start { [self] in serve() }
    }

    private func serve() {
        while lock.withLock({ running }) {
            let fd = accept(listener, nil, nil)
            if fd < 0 { if errno == EINTR { continue } else { return } }
            let open = lock.withLock { () -> Bool in
                client = fd
                return running
            }
            if open { converse(fd) }
            lock.withLock { client = -1 }
            close(fd)
        }
    }

    /// Reads lines from `fd` and answers each, until the peer closes.
    private func converse(_ fd: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            pending.append(contentsOf: buffer[0..<count])
            guard pending.count <= Self.maximumLineBytes else {
                reply(fd, "error: line too long")
                return
            }
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                pending.removeSubrange(...newline)
                if line.isEmpty { continue }
                reply(fd, answer(line))
            }
        }
    }

    private func reply(_ fd: Int32, _ text: String) {
        let bytes = Array((text + "\n").utf8)
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            sent += written
        }
    }

    /// Stops listening, closes the connection being served and waits for the thread.
    public func stop() {
        let fd = lock.withLock { () -> Int32 in
            guard running else { return -2 }
            running = false
            return client
        }
        guard fd != -2 else { return }
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        thread?.join()
    }

    deinit { stop() }
}
