import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A WebSocket client written from RFC 6455 on a blocking POSIX socket, independent of K2Net:
/// tests use it to check k2's servers against a client that shares none of their code.
/// Text frames only (what the venues send), masked as §5.3 requires of clients; reads time out.
package final class RawWebSocketClient {
    enum Failure: Error, CustomStringConvertible {
        case connect(String)
        case handshake(String)
        case closed

        package var description: String {
            switch self {
            case let .connect(why): "connect: \(why)"
            case let .handshake(response): "handshake refused: \(response)"
            case .closed: "connection closed"
            }
        }
    }

    private let fd: Int32
    private var buffer: [UInt8] = []
    /// The close frame's code when the server closed, else nil.
    package private(set) var closeCode: UInt16?

    /// Connects to `127.0.0.1:port`, sends the upgrade request for `target` and checks the 101.
    package init(port: Int, target: String = "/", readTimeoutMillis: Int = 3000) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // No close here: a class whose init throws after its properties are set runs deinit,
        // which closes `fd`; closing it here too would close whatever reused the number.
        guard connected == 0 else {
            throw Failure.connect("errno \(errno)")
        }
        var timeout = timeval(tv_sec: readTimeoutMillis / 1000, tv_usec: (readTimeoutMillis % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var noDelay: Int32 = 1  // each write its own segment (`send(texts:cuttingAt:)`)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        let request =
            "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try writeAll(Array(request.utf8))
        while !buffer.containsHeaderEnd {
            guard try readMore() else { throw Failure.handshake(String(decoding: buffer, as: UTF8.self)) }
        }
        let end = buffer.headerEnd!
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        buffer.removeFirst(end + 4)
        guard head.hasPrefix("HTTP/1.1 101") else { throw Failure.handshake(head) }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Sends one masked text frame.
    package func send(text: String) throws {
        try writeAll(Self.frame(text))
    }

    /// Sends the frames of `texts` back to back, cut at the byte offsets `cuts` (ascending) of
    /// the whole, pausing 2 ms after each piece so that each reaches the server on its own read:
    /// how a server's parser is tested on frames and headers split anywhere.
    package func send(texts: [String], cuttingAt cuts: [Int]) throws {
        let bytes = texts.flatMap(Self.frame)
        var start = 0
        for cut in cuts + [bytes.count] where cut > start && cut <= bytes.count {
            try writeAll(Array(bytes[start..<cut]))
            usleep(2000)
            start = cut
        }
    }

    /// One masked text frame.
    static func frame(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65536 {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        frame += mask
        for (index, byte) in payload.enumerated() { frame.append(byte ^ mask[index % 4]) }
        return frame
    }

    /// The next text message, or nil when none arrives within the read timeout or the server
    /// closed (then `closeCode` is set). Pings are answered; fragments are joined.
    package func receive() throws -> String? {
        var message: [UInt8] = []
        while true {
            guard let (opcode, fin, payload) = try readFrame() else { return nil }
            switch opcode {
            case 0x8:
                closeCode = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : 1005
                return nil
            case 0x9:
                try writeAll([0x8A, 0x80 | UInt8(payload.count), 0, 0, 0, 0] + payload)
            case 0xA:
                continue
            default:
                message += payload
                if fin { return String(decoding: message, as: UTF8.self) }
            }
        }
    }

    /// Every text message until `count` arrived or a read times out.
    package func receive(upTo count: Int) throws -> [String] {
        var out: [String] = []
        while out.count < count, let message = try receive() { out.append(message) }
        return out
    }

    /// Drops the TCP connection without a close frame.
    package func abort() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private func readFrame() throws -> (UInt8, Bool, [UInt8])? {
        guard try fill(2) else { return nil }
        let fin = buffer[0] & 0x80 != 0
        let opcode = buffer[0] & 0x0F
        var length = Int(buffer[1] & 0x7F)
        var headerLength = 2
        if length == 126 {
            guard try fill(4) else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            headerLength = 4
        } else if length == 127 {
            guard try fill(10) else { return nil }
            length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
            headerLength = 10
        }
        guard try fill(headerLength + length) else { return nil }
        let payload = Array(buffer[headerLength..<(headerLength + length)])
        buffer.removeFirst(headerLength + length)
        return (opcode, fin, payload)
    }

    private func fill(_ count: Int) throws -> Bool {
        while buffer.count < count {
            guard try readMore() else { return false }
        }
        return true
    }

    /// Reads what the socket has; false on timeout or end of stream.
    private func readMore() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard got > 0 else { return false }
        buffer += chunk[..<got]
        return true
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let wrote = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard wrote > 0 else { throw Failure.closed }
            offset += wrote
        }
    }
}

extension [UInt8] {
    fileprivate var headerEnd: Int? {
        guard count >= 4 else { return nil }
        for index in 0...(count - 4) where self[index] == 13 && self[index + 1] == 10 && self[index + 2] == 13 && self[index + 3] == 10 {
            return index
        }
        return nil
    }

    fileprivate var containsHeaderEnd: Bool { headerEnd != nil }
}
