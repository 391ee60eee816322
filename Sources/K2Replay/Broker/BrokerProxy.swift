import Foundation
import K2Core

/// The embedded broker on an address of the caller's choosing (`k2 broker --host ADDR --port P`):
/// librdkafka's mock brokers listen and advertise on 127.0.0.1 with ephemeral ports only, so
/// one TCP proxy per broker listens on `host` (broker 1 on `firstPort`, the others on free ports)
/// and forwards to it, rewriting the broker addresses in Metadata and FindCoordinator responses
/// to the proxies' (`KafkaAddressRewrite`). Clients on other hosts — or network namespaces —
/// bootstrap through `bootstrap` and then reach every broker, and the group coordinator,
/// through the proxies, never through 127.0.0.1.
package final class BrokerProxy: @unchecked Sendable {
    // unchecked: `running` only under `lock`; listeners and addresses are set in init, then read.
    /// The address the proxies listen on and advertise.
    package let host: String
    /// Proxy ports, in the order of the mock cluster's bootstrap list (broker 1 first).
    package let ports: [Int]
    /// `host:port,…` — the bootstrap servers to give clients.
    package var bootstrap: String { ports.map { "\(host):\($0)" }.joined(separator: ",") }

    private let listeners: [Int32]
    private let lock = Lock()
    private var running = true

    /// `brokers`: the mock brokers' `host:port` list (`EmbeddedBroker.bootstrap`).
    package init(brokers: String, host: String, firstPort: Int) throws {
        var probe = in_addr()
        guard inet_pton(AF_INET, host, &probe) == 1, host != "0.0.0.0" else {
            throw ReplayError(
                .invalidArgument, place: "k2 broker", what: "--host '\(host)' is not an IPv4 address",
                remedy: "give an address of this machine that clients can reach, e.g. 10.0.0.5 (it is also the address advertised)")
        }
        guard (0...65535).contains(firstPort) else {
            throw ReplayError(
                .invalidArgument, place: "k2 broker", what: "--port \(firstPort) is not a port", remedy: "give 1-65535, or 0 for a free port")
        }
        var targets: [KafkaAddressRewrite.Address] = []
        for part in brokers.split(separator: ",") {
            let hostPort = part.split(separator: ":")
            guard hostPort.count == 2, let port = Int32(hostPort[1]) else {
                throw ReplayError(.invalidArgument, place: "k2 broker", what: "bad broker address '\(part)'")
            }
            targets.append(.init(host: String(hostPort[0]), port: port))
        }
        var fds: [Int32] = []
        var ports: [Int] = []
        for index in targets.indices {
            do {
                let (fd, port) = try Self.listen(host: host, port: index == 0 ? firstPort : 0)
                fds.append(fd)
                ports.append(port)
            } catch {
                for fd in fds { close(fd) }
                throw error
            }
        }
        self.host = host
        self.ports = ports
        listeners = fds
        var addresses: [KafkaAddressRewrite.Address: KafkaAddressRewrite.Address] = [:]
        for (target, port) in zip(targets, ports) { addresses[target] = .init(host: host, port: Int32(port)) }
        let map = addresses
        for (fd, target) in zip(fds, targets) {
            let thread = Thread { [self] in acceptLoop(listener: fd, target: target, map: map) }
            thread.name = "k2-broker-proxy"
            thread.start()
        }
    }

    package func stop() {
        lock.withLock { running = false }
        for fd in listeners {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    deinit { if lock.withLock({ running }) { stop() } }

    static func socketAddress(_ host: String, _ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }

    /// A listening socket on host:port (0 = a free port) and its port.
    static func listen(host: String, port: Int, place: String = "k2 broker") throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = socketAddress(host, port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, Glibc.listen(fd, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            throw ReplayError(
                .unreachable, place: place, what: "cannot listen on \(host):\(port): \(reason)",
                remedy: "give an address of this machine with --host and a free port with --port (0 = any)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: actual.sin_port)))
    }

    private func acceptLoop(
        listener: Int32, target: KafkaAddressRewrite.Address,
        map: [KafkaAddressRewrite.Address: KafkaAddressRewrite.Address]
    ) {
        while lock.withLock({ running }) {
            let client = accept(listener, nil, nil)
            if client < 0 { if errno == EINTR { continue } else { return } }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.socketAddress(target.host, Int(target.port))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected != 0 { close(client); close(upstream); continue }
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(upstream, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let thread = Thread { Connection(client: client, upstream: upstream, map: map).run() }
            thread.name = "k2-broker-proxy-conn"
            thread.start()
        }
    }

    /// One client connection: requests go up as they are (their API key and version noted by
    /// correlation id), responses come back frame by frame, the address-carrying ones rewritten.
    struct Connection {
        let client: Int32
        let upstream: Int32
        let map: [KafkaAddressRewrite.Address: KafkaAddressRewrite.Address]

        func run() {
            var requests = FrameBuffer()
            var responses = FrameBuffer()
            var pending: [Int32: (apiKey: Int16, version: Int16)] = [:]
            var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
            var chunk = [UInt8](repeating: 0, count: 256 * 1024)
            loop: while true {
                let ready = poll(&fds, 2, 1000)
                if ready < 0 && errno != EINTR { break }
                for side in 0..<2 where fds[side].revents != 0 {
                    let count = chunk.withUnsafeMutableBytes { read(fds[side].fd, $0.baseAddress, $0.count) }
                    if count <= 0 { break loop }
                    if side == 0 {
                        requests.append(chunk, count: count)
                        while let wire = requests.nextFrame() {
                            // Request header after the size: api_key int16, api_version int16, correlation_id int32.
                            var reader = KafkaAddressRewrite.Reader(bytes: wire, offset: 4)
                            if let key = reader.int16(), let version = reader.int16(), let id = reader.int32(),
                                KafkaAddressRewrite.rewrites(apiKey: key, version: version)
                            {
                                pending[id] = (key, version)
                            }
                            guard write(all: wire, to: upstream) else { break loop }
                        }
                    } else {
                        responses.append(chunk, count: count)
                        while let wire = responses.nextFrame() {
                            var reader = KafkaAddressRewrite.Reader(bytes: wire, offset: 4)
                            var out = wire
                            if let id = reader.int32(), let request = pending.removeValue(forKey: id),
                                let rewritten = KafkaAddressRewrite.rewrite(
                                    response: Array(wire[4...]), apiKey: request.apiKey,
                                    version: request.version, map: map)
                            {
                                out = []
                                KafkaAddressRewrite.Writer.int32(Int32(rewritten.count), to: &out)
                                out.append(contentsOf: rewritten)
                            }
                            guard write(all: out, to: client) else { break loop }
                        }
                    }
                }
            }
            close(client)
            close(upstream)
        }

        func write(all bytes: [UInt8], to fd: Int32) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return false }
                offset += written
            }
            return true
        }
    }

    /// Bytes read from a socket, cut into Kafka frames (int32 size, then the frame).
    struct FrameBuffer {
        private var bytes: [UInt8] = []
        private var start = 0

        mutating func append(_ chunk: [UInt8], count: Int) {
            if start > 0 && start >= bytes.count / 2 {
                bytes.removeFirst(start)
                start = 0
            }
            bytes.append(contentsOf: chunk[0..<count])
        }

        /// The next whole frame as it came (its size first), or nil until one has arrived.
        mutating func nextFrame() -> [UInt8]? {
            guard bytes.count - start >= 4 else { return nil }
            var size = 0
            for index in 0..<4 { size = size << 8 | Int(bytes[start + index]) }
            guard bytes.count - start - 4 >= size else { return nil }
            let frame = Array(bytes[start..<(start + 4 + size)])
            start += 4 + size
            return frame
        }
    }
}
