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
    private var samples: [Sample] = []
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

    /// One exposed value: `name{labels} value`.
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var help: String
        /// `gauge` or `counter`.
        public var type: String
        /// Label pairs, in order; values are escaped when rendered.
        public var labels: [(String, String)]
        public var value: Double
        public init(_ name: String, _ value: Double, help: String, type: String = "gauge", labels: [(String, String)] = []) {
            self.name = name
            self.help = help
            self.type = type
            self.labels = labels
            self.value = value
        }
        public static func == (a: Sample, b: Sample) -> Bool {
            a.name == b.name && a.help == b.help && a.type == b.type && a.value == b.value
                && a.labels.map(\.0) == b.labels.map(\.0) && a.labels.map(\.1) == b.labels.map(\.1)
        }
    }

    /// Replaces the exposed values.
    public func update(_ values: [Sample]) {
        lock.withLock { samples = values }
    }

    public func stop() {
        lock.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    /// The exposition text of the current values.
    public func text() -> String {
        Self.render(lock.withLock { samples })
    }

    /// Prometheus text exposition: samples of one name grouped under one HELP/TYPE header.
    public static func render(_ samples: [Sample]) -> String {
        var order: [String] = []
        var byName: [String: [Sample]] = [:]
        for s in samples {
            if byName[s.name] == nil { order.append(s.name) }
            byName[s.name, default: []].append(s)
        }
        var out = ""
        for name in order {
            let group = byName[name]!
            out += "# HELP \(name) \(group[0].help)\n# TYPE \(name) \(group[0].type)\n"
            for v in group {
                let labels = v.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                out += name + (labels.isEmpty ? "" : "{\(labels)}") + " " + number(v.value) + "\n"
            }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
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
