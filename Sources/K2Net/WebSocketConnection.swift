import K2Core
import NIOCore

/// One open WebSocket connection (client or server side): sends frames and closes.
///
/// Methods may be called from any thread; called on the connection's loop they act at once,
/// elsewhere they hop to it. Sending is batched: `send` appends an encoded frame to an outgoing
/// buffer, `flush` hands the buffer to the socket in one write (`sendNow` does both).
public final class WebSocketConnection: @unchecked Sendable {
    // unchecked: loop-confined state; calls from elsewhere hop to the channel's event loop.
    public enum Role: Sendable { case client, server }

    public let role: Role
    /// Client: the URL connected to. Server: `ws://HOST:PORT` plus the request target.
    public let url: String
    /// The request target (`/stream?streams=…`).
    public let target: String
    /// The upgrade request's headers (server) or the 101 response's headers (client).
    public let headers: [(String, String)]
    /// Connection number within its client loop or server, from 0.
    public let id: Int
    /// Free slot for the owner (e.g. the simulator's per-connection state); loop-confined.
    public nonisolated(unsafe) var userInfo: AnyObject?

    let channel: any Channel
    weak var handler: WebSocketHandler?

    init(role: Role, url: String, target: String, headers: [(String, String)], id: Int, channel: any Channel, handler: WebSocketHandler) {
        self.role = role
        self.url = url
        self.target = target
        self.headers = headers
        self.id = id
        self.channel = channel
        self.handler = handler
    }

    /// The loop this connection's callbacks run on.
    public var inLoop: Bool { channel.eventLoop.inEventLoop }

    /// False when the socket's outgoing buffer is above its high-water mark: stop producing
    /// until `webSocketWritable`.
    public var isWritable: Bool { channel.isWritable }

    /// Bytes queued by `send` and not yet flushed.
    public var pendingBytes: Int { handler?.out.readableBytes ?? 0 }

    /// Queues one text (or binary) frame. Call `flush()` to write the queued frames.
    public func send(_ payload: UnsafeRawBufferPointer, binary: Bool = false) {
        if channel.eventLoop.inEventLoop {
            handler?.queue(opcode: binary ? 0x2 : 0x1, payload: payload)
        } else {
            let copy = [UInt8](payload)
            channel.eventLoop.execute { [self] in copy.withUnsafeBytes { self.handler?.queue(opcode: binary ? 0x2 : 0x1, payload: $0) } }
        }
    }

    public func send(_ payload: [UInt8], binary: Bool = false) {
        payload.withUnsafeBytes { send($0, binary: binary) }
    }

    public func send(text: String) {
        send(Array(text.utf8))
    }

    /// Queues a frame with any opcode and FIN bit (tests: fragments, raw control frames).
    public func sendRaw(opcode: UInt8, fin: Bool, payload: [UInt8]) {
        run { $0.queue(opcode: opcode, payload: payload, fin: fin) }
    }

    /// Writes everything queued.
    public func flush() {
        run { $0.flushOut() }
    }

    /// `send` then `flush`.
    public func sendNow(text: String) {
        send(text: text)
        flush()
    }

    public func ping(_ payload: [UInt8] = []) {
        run { handler in
            payload.withUnsafeBytes { handler.queue(opcode: 0x9, payload: $0) }
            handler.flushOut()
        }
    }

    /// Starts the closing handshake with `code` and `reason`; the channel closes when the peer
    /// answers (or after a second).
    public func close(code: UInt16 = CloseCode.normal, reason: String = "") {
        run { $0.startClose(code: code, reason: reason) }
    }

    /// Drops the TCP connection without a close frame (fault injection, tests).
    public func abort() {
        run { $0.abort() }
    }

    /// Runs `body` on the connection's loop after `nanos`.
    public func schedule(afterNanos nanos: Int64, _ body: @escaping @Sendable () -> Void) {
        _ = channel.eventLoop.scheduleTask(in: .nanoseconds(nanos), body)
    }

    /// Runs `body` on the connection's loop.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        channel.eventLoop.execute(body)
    }

    private func run(_ body: @escaping @Sendable (WebSocketHandler) -> Void) {
        if channel.eventLoop.inEventLoop {
            if let handler { body(handler) }
        } else {
            channel.eventLoop.execute { [self] in if let handler = self.handler { body(handler) } }
        }
    }
}
