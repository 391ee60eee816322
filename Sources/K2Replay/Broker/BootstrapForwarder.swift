import Foundation
import K2Core

/// A TCP forwarder on 127.0.0.1:`port` to one broker: gives the embedded broker a fixed
/// bootstrap address (librdkafka 2.0's mock brokers listen on ephemeral ports). Clients
/// bootstrap through it, then connect to the brokers' own advertised addresses.
public final class BootstrapForwarder: @unchecked Sendable {
    // unchecked: `running` under `lock`; the listener fd is immutable.
    public let port: Int
    private let target: (String, Int)
    private let listener: Int32
    private let lock = Lock()
    private var running = true

    public init(port: Int, target: String) throws {
        let parts = target.split(separator: ":")
        guard parts.count == 2, let tp = Int(parts[1]) else {
            throw ReplayError(.invalidArgument, place: "k2 broker", what: "bad broker address '\(target)'")
        }
        self.target = (String(parts[0]), tp)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.address("127.0.0.1", port)
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard port > 0, port < 65536, ok == 0, listen(fd, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ReplayError(.unreachable, place: "k2 broker", what: "cannot listen on 127.0.0.1:\(port): \(reason)",
                            remedy: "pick a free port with --port, or omit it to use the broker's own address")
        }
        listener = fd
        self.port = port
        JoinableThread.detach { [self] in acceptLoop() }
    }

    static func address(_ host: String, _ port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr(host)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        return a
    }

    public func stop() {
        lock.withLock { running = false }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while lock.withLock({ running }) {
            let c = accept(listener, nil, nil)
            if c < 0 { if errno == EINTR { continue } else { return } }
            let u = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.address(target.0, target.1)
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(u, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if ok != 0 { close(c); close(u); continue }
            JoinableThread.detach { Self.pump(c, u) }
        }
    }

    /// Copies bytes both ways until either side closes.
    static func pump(_ a: Int32, _ b: Int32) {
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        outer: while true {
            let r = poll(&fds, 2, 1000)
            if r < 0 && errno != EINTR { break }
            for i in 0..<2 where fds[i].revents != 0 {
                let from = fds[i].fd, to = fds[1 - i].fd
                let n = buf.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
                if n <= 0 { break outer }
                var off = 0
                while off < n {
                    let w = buf.withUnsafeBytes { write(to, $0.baseAddress! + off, n - off) }
                    if w <= 0 { break outer }
                    off += w
                }
            }
        }
        close(a)
        close(b)
    }

    deinit { if lock.withLock({ running }) { stop() } }
}
