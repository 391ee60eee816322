#if canImport(Glibc)
import Glibc
#endif
import Foundation
import K2Core

/// `--metrics-port`: serves the live run as Prometheus text exposition (version 0.0.4) on
/// `http://127.0.0.1:PORT/metrics`, so a Grafana dashboard can watch a soak.
public final class MetricsServer: @unchecked Sendable {
    private let fd: Int32
    public let port: Int
    private let lock = Lock()
    private var gauges: [(name: String, help: String, labels: String, value: Double)] = []
    private var stopped = false

    /// Binds 127.0.0.1:`port` (0 = any free port).
    public init(port: Int) throws(BenchError) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError(.run, what: "cannot open a socket for --metrics-port") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw BenchError(.invalidArgument, what: "cannot listen on 127.0.0.1:\(port): \(String(cString: strerror(errno)))", remedy: "choose a free port")
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: bound.sin_port))
        let t = Thread { [self] in serve() }
        t.name = "k2-metrics"
        t.start()
    }

    /// Replaces the exposed values.
    public func update(_ values: [(name: String, help: String, labels: String, value: Double)]) {
        lock.withLock { gauges = values }
    }

    public func stop() {
        lock.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    /// The exposition text of the current values.
    public func text() -> String {
        let g = lock.withLock { gauges }
        var out = ""
        var seen = Set<String>()
        for v in g {
            if seen.insert(v.name).inserted {
                out += "# HELP \(v.name) \(v.help)\n# TYPE \(v.name) gauge\n"
            }
            out += v.name + (v.labels.isEmpty ? "" : "{\(v.labels)}") + " " + (v.value.isFinite ? "\(v.value)" : "NaN") + "\n"
        }
        return out
    }

    private func serve() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if lock.withLock({ stopped }) { return }
                if errno == EINTR { continue }
                return
            }
            var buf = [UInt8](repeating: 0, count: 4096)
            _ = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, 4096, 0) }
            let body = text()
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
            let all = Array((head + body).utf8)
            _ = all.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(c)
        }
    }
}
