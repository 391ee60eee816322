import Foundation
import K2Core

/// The client side of `LineServer`: one request line out, one reply line back, over one TCP
/// connection, every step bounded by a timeout (a host that does not answer is an error, not a hang).
package final class LineClient {
    private let fd: Int32
    private let place: String
    private var pending: [UInt8] = []

    /// Connects to `host:port` (an IPv4 address or a name) within `timeoutNanos`.
    package init(host: String, port: Int, timeoutNanos: Int64, place: String) throws {
        self.place = place
        let address = try Self.resolve(host: host, port: port, place: place)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else {
            throw ReplayError(
                .unreachable, place: place, what: "no socket: \(String(cString: strerror(errno)))", remedy: "check the process's open-file limit")
        }
        var timeout = timeval(tv_sec: Int(timeoutNanos / 1_000_000_000), tv_usec: Int(timeoutNanos % 1_000_000_000 / 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var target = address
        // A blocking connect honours SO_SNDTIMEO on Linux (EINPROGRESS after the timeout).
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = errno == EINPROGRESS ? "no answer within \(TimeText.humanDuration(nanos: timeoutNanos))" : String(cString: strerror(errno))
            // No close here: deinit runs when an init throws after every property is set, and
            // closes `fd`; a second close would hit whatever descriptor reused the number.
            throw ReplayError(
                .unreachable, place: place, what: "cannot connect to \(host):\(port): \(reason)",
                remedy: "check the address, and that the server listens there (k2 bench clock, or k2 broker --control-port)")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Sends `request` (a newline is added) and returns the reply line without its newline.
    package func ask(_ request: String) throws -> String {
        let bytes = Array((request + "\n").utf8)
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw failure("cannot send: \(String(cString: strerror(errno)))") }
            sent += written
        }
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                defer { pending.removeSubrange(...newline) }
                return String(decoding: pending[..<newline], as: UTF8.self)
            }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw failure(errno == EAGAIN ? "no reply in time" : "cannot read: \(String(cString: strerror(errno)))") }
            if count == 0 { throw failure("the server closed the connection") }
            pending.append(contentsOf: buffer[0..<count])
            guard pending.count <= LineServer.maximumLineBytes else { throw failure("the reply line is too long") }
        }
    }

    private func failure(_ what: String) -> ReplayError {
        ReplayError(
            .unreachable, place: place, what: what,
            remedy: "check that the server at the address is a k2 line server (k2 bench clock, or k2 broker --control-port)")
    }

    static func resolve(host: String, port: Int, place: String) throws -> sockaddr_in {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result, let found = first.pointee.ai_addr else {
            throw ReplayError(
                .invalidArgument, place: place, what: "cannot resolve host '\(host)'", remedy: "give an IPv4 address or a name this machine resolves")
        }
        defer { freeaddrinfo(result) }
        return found.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
    }
}
