import K2Core
import NIOCore

#if K2_TLS
import NIOSSL
import NIOTLS
#endif

/// The channel handler behind every WebSocket connection: the HTTP/1.1 upgrade handshake
/// (client or server side; the server side also answers plain HTTP GETs), then RFC 6455 framing.
///
/// Frames are parsed straight out of the socket's buffers and handed to the delegate as byte
/// views: no per-frame allocation, no hop off the event loop. Fragmented messages are joined,
/// pings answered, close frames echoed.
final class WebSocketHandler: ChannelInboundHandler, @unchecked Sendable {
    // unchecked: a NIO handler: every call on its channel's event loop.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State { case handshake, open, closing, closed }

    struct ClientSetup {
        let url: NetURL
        let key: String
        let extraHeaders: [(String, String)]
        var delegate: any WebSocketDelegate
        /// Fail if the TCP connect, TLS and WebSocket handshakes have not completed this long after starting.
        var handshakeTimeoutNanos: Int64 = 10_000_000_000
    }

    let role: WebSocketConnection.Role
    let maxMessageSize: Int
    let connectionId: Int
    var client: ClientSetup?
    weak var server: WebSocketServer?
    var delegate: (any WebSocketDelegate)?
    private(set) var connection: WebSocketConnection?
    var context: ChannelHandlerContext?
    var state = State.handshake
    /// The start of a frame (or, during the handshake, of the answer) that the last read cut
    /// short; empty otherwise. Its own buffer, so NIO can reuse its receive buffer for the next read.
    private var pending = ByteBufferAllocator().buffer(capacity: 0)
    /// The payload of the last masked frame, unmasked (reused).
    private var unmasked: [UInt8] = []
    var out: ByteBuffer
    private var fragments: [UInt8] = []
    private var fragmentOpcode: UInt8 = 0
    private var fragmenting = false
    private var closeReported = false
    var failureReason = ""
    private var openedOrFailed = false
    private var tlsDone = false
    private var handshakeTimer: Scheduled<Void>?
    private var rng = SplitMix64(seed: UInt64(truncatingIfNeeded: SystemClock().monotonicNanos()))

    init(client: ClientSetup, maxMessageSize: Int, connectionId: Int) {
        role = .client
        self.client = client
        self.delegate = client.delegate
        self.maxMessageSize = maxMessageSize
        self.connectionId = connectionId
        out = ByteBufferAllocator().buffer(capacity: 0)
    }

    init(server: WebSocketServer, maxMessageSize: Int, connectionId: Int) {
        role = .server
        self.server = server
        self.maxMessageSize = maxMessageSize
        self.connectionId = connectionId
        out = ByteBufferAllocator().buffer(capacity: 0)
    }

    // MARK: channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        startHandshakeTimer(context)
        if context.channel.isActive { sendClientHandshake() }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendClientHandshake()
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        #if K2_TLS
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent { tlsDone = true }
        #endif
        context.fireUserInboundEventTriggered(event)
    }

    /// Client: a server that accepts the TCP connection but never finishes the TLS or WebSocket
    /// handshake (e.g. wss:// to a plain server) must not hang the client.
    private func startHandshakeTimer(_ context: ChannelHandlerContext) {
        guard role == .client, handshakeTimer == nil, let setup = client else { return }
        let nanos = setup.handshakeTimeoutNanos
        handshakeTimer = context.eventLoop.scheduleTask(in: .nanoseconds(nanos)) { [self] in
            guard self.state == .handshake else { return }
            let secs = TimeText.humanDuration(nanos: nanos)
            if setup.url.isTLS && !self.tlsDone {
                self.fail(
                    NetError(
                        .tls, place: setup.url.description, what: "the TLS handshake did not complete within \(secs)",
                        remedy: "check that the server speaks TLS on this port (use ws:// for a plain server)"))
            } else {
                self.fail(
                    NetError(
                        .handshakeRejected, place: setup.url.description, what: "no answer to the WebSocket upgrade within \(secs)",
                        remedy: "check that the server speaks WebSocket on this port"))
            }
            self.closeChannel()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard pending.readableBytes > 0 else {
            process(incoming)
            return
        }
        if state == .handshake {
            pending.writeBuffer(&incoming)
            let joined = pending
            pending.clear()
            process(joined)
            return
        }
        // Complete the frame the last read cut short with just the bytes it lacks; the rest of
        // this read is then parsed where it lies, not copied.
        while case let .incomplete(missing) = pending.withUnsafeReadableBytes({
            WebSocketFrameHeader.parse($0, at: 0, maxMessageSize: maxMessageSize)
        }) {
            guard var piece = incoming.readSlice(length: min(missing, incoming.readableBytes)), piece.readableBytes > 0 else { return }
            pending.writeBuffer(&piece)
        }
        let whole = pending
        pending = pending.capacity > 1 << 20 ? ByteBufferAllocator().buffer(capacity: 0) : pending
        pending.clear()
        process(whole)
        if incoming.readableBytes > 0, state != .closed { process(incoming) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, state == .open, let connection {
            delegate?.webSocketWritable(connection)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failureReason.isEmpty { failureReason = describe(error) }
        if state == .handshake, role == .client {
            fail(classify(error))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if state == .handshake && role == .client {
            fail(
                NetError(
                    .handshakeRejected, place: client.map { $0.url.description } ?? "",
                    what: failureReason.isEmpty ? "the server closed the connection during the handshake" : failureReason,
                    remedy: "check the URL and that the server speaks WebSocket"))
        }
        state = .closed
        reportClosed(code: CloseCode.abnormal, reason: failureReason.isEmpty ? "connection closed without a close frame" : failureReason)
        pending = ByteBufferAllocator().buffer(capacity: 0)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: processing

    /// Parses what `buffer` holds, reading it in place (never writing it: a write would make NIO
    /// copy the whole read); keeps an unfinished frame at its end in `pending`.
    private func process(_ buffer: ByteBuffer) {
        var buf = buffer
        while buf.readableBytes > 0 && state != .closed {
            if state == .handshake {
                guard handshake(&buf) else { break }
                continue
            }
            let consumed = buf.withUnsafeReadableBytes { parseFrames($0) }
            buf.moveReaderIndex(forwardBy: consumed)
            if consumed == 0 || state == .closed { break }
        }
        if state != .closed, buf.readableBytes > 0 {
            pending.writeBuffer(&buf)
        }
    }

    /// Parses complete frames from `p`; returns the bytes consumed.
    private func parseFrames(_ p: UnsafeRawBufferPointer) -> Int {
        var off = 0
        while state == .open || state == .closing {
            switch WebSocketFrameHeader.parse(p, at: off, maxMessageSize: maxMessageSize) {
            case .incomplete:
                return off
            case let .violation(code, reason):
                protocolFailure(code, reason)
                return off
            case let .frame(header):
                let frameStart = off
                let start = off + header.headerBytes
                off = start + header.payloadBytes
                if header.maskAt == nil {
                    frame(opcode: header.opcode, fin: header.fin, payload: UnsafeRawBufferPointer(rebasing: p[start..<off]))
                } else {
                    // A client's frame (RFC 6455 §5.3): unmasked into a reused array, then handed on.
                    if unmasked.count < header.payloadBytes { unmasked = [UInt8](repeating: 0, count: max(header.payloadBytes, 256)) }
                    var payload = unmasked
                    unmasked = []
                    payload.withUnsafeMutableBytes { destination in
                        header.unmask(p, frameAt: frameStart, into: destination)
                        frame(
                            opcode: header.opcode, fin: header.fin,
                            payload: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(destination)[0..<header.payloadBytes]))
                    }
                    unmasked = payload.count > 1 << 20 ? [] : payload
                }
            }
        }
        return off
    }

    private func frame(opcode: UInt8, fin: Bool, payload: UnsafeRawBufferPointer) {
        switch opcode {
        case 0x1, 0x2:
            if fragmenting {
                protocolFailure(CloseCode.protocolError, "new message started inside a fragmented one")
                return
            }
            if fin {
                // Also while closing: data the peer sent before it saw our close frame is real data.
                if let connection { delegate?.webSocket(connection, received: payload, binary: opcode == 0x2) }
            } else {
                fragmenting = true
                fragmentOpcode = opcode
                fragments.removeAll(keepingCapacity: true)
                fragments.append(contentsOf: payload)
            }
        case 0x0:
            guard fragmenting else {
                protocolFailure(CloseCode.protocolError, "continuation frame without a message to continue")
                return
            }
            if fragments.count + payload.count > maxMessageSize {
                protocolFailure(CloseCode.messageTooBig, "message exceeds the \(maxMessageSize)-byte limit")
                return
            }
            fragments.append(contentsOf: payload)
            if fin {
                fragmenting = false
                if let connection {
                    fragments.withUnsafeBytes { delegate?.webSocket(connection, received: $0, binary: fragmentOpcode == 0x2) }
                }
                if fragments.capacity > 1 << 20 { fragments = [] } else { fragments.removeAll(keepingCapacity: true) }
            }
        case 0x8:
            var code = CloseCode.noStatus
            var reason = ""
            if payload.count >= 2 {
                code = UInt16(payload[0]) << 8 | UInt16(payload[1])
                reason = String(decoding: UnsafeRawBufferPointer(rebasing: payload[2...]), as: UTF8.self)
            }
            var echoed = false
            if state == .open {
                // Echo the close frame, then end the TCP connection.
                var echo: [UInt8] = []
                if code != CloseCode.noStatus { echo = [UInt8(code >> 8), UInt8(code & 0xFF)] }
                echo.withUnsafeBytes { queue(opcode: 0x8, payload: $0) }
                echoed = true
            }
            state = .closing
            reportClosed(code: code, reason: reason)
            state = .closed
            if echoed, let ctx = context, out.readableBytes > 0 {
                // Close once everything written before (frames still queued in the channel, then
                // the echo) has reached the socket: closing now would drop them.
                let pending = out
                out = ctx.channel.allocator.buffer(capacity: 0)
                let channel = ctx.channel
                ctx.writeAndFlush(wrapOutboundOut(pending)).whenComplete { _ in channel.close(promise: nil) }
                ctx.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
            } else {
                closeChannel()
            }
        case 0x9:
            queue(opcode: 0xA, payload: payload)
            flushOut()
            if let connection { delegate?.webSocket(connection, control: .ping, payload: payload) }
        case 0xA:
            if let connection { delegate?.webSocket(connection, control: .pong, payload: payload) }
        default:
            protocolFailure(CloseCode.protocolError, "unknown opcode \(opcode)")
        }
    }

    private func protocolFailure(_ code: UInt16, _ what: String) {
        failureReason = what
        if state == .open {
            startClose(code: code, reason: String(what.prefix(120)))
        }
        state = .closing
        reportClosed(code: code, reason: what)
        state = .closed
        closeChannel()
    }

    // MARK: sending

    func queue(opcode: UInt8, payload: UnsafeRawBufferPointer, fin: Bool = true) {
        guard state == .open || (opcode >= 0x8 && state != .closed) else { return }
        if out.capacity == 0, let ctx = context { out = ctx.channel.allocator.buffer(capacity: max(4096, payload.count + 14)) }
        let len = payload.count
        out.writeInteger(UInt8((fin ? 0x80 : 0) | opcode))
        let maskBit: UInt8 = role == .client ? 0x80 : 0
        if len < 126 {
            out.writeInteger(maskBit | UInt8(len))
        } else if len <= 0xFFFF {
            out.writeInteger(maskBit | 126)
            out.writeInteger(UInt16(len))
        } else {
            out.writeInteger(maskBit | 127)
            out.writeInteger(UInt64(len))
        }
        if role == .client {
            let key = UInt32(truncatingIfNeeded: rng.next())
            out.writeInteger(key)
            let mask: [UInt8] = [UInt8(key >> 24), UInt8((key >> 16) & 0xFF), UInt8((key >> 8) & 0xFF), UInt8(key & 0xFF)]
            if len > 0 {
                out.writeWithUnsafeMutableBytes(minimumWritableBytes: len) { writable in
                    for i in 0..<len { writable[i] = payload[i] ^ mask[i & 3] }
                    return len
                }
            }
        } else {
            out.writeBytes(payload)
        }
    }

    func queue(opcode: UInt8, payload: [UInt8], fin: Bool) {
        payload.withUnsafeBytes { queue(opcode: opcode, payload: $0, fin: fin) }
    }

    /// Writes frames encoded elsewhere (`EncodedFrames`), after what is queued.
    func writeEncoded(_ b: ByteBuffer) {
        guard state == .open, let ctx = context else { return }
        if out.readableBytes > 0 {
            let pending = out
            out = ctx.channel.allocator.buffer(capacity: 0)
            ctx.write(wrapOutboundOut(pending), promise: nil)
        }
        ctx.writeAndFlush(wrapOutboundOut(b), promise: nil)
    }

    func flushOut() {
        guard let ctx = context, out.readableBytes > 0 else { return }
        let pending = out
        out = ctx.channel.allocator.buffer(capacity: 0)
        ctx.writeAndFlush(wrapOutboundOut(pending), promise: nil)
    }

    func startClose(code: UInt16, reason: String) {
        guard state == .open else { return }
        var payload: [UInt8] = [UInt8(code >> 8), UInt8(code & 0xFF)]
        payload.append(contentsOf: reason.utf8.prefix(123))
        payload.withUnsafeBytes { queue(opcode: 0x8, payload: $0) }
        flushOut()
        state = .closing
        // The peer answers with its close frame; give it a second, then drop the connection.
        if let ctx = context {
            ctx.eventLoop.scheduleTask(in: .seconds(1)) { [self] in
                self.closeChannel()
            }
        }
    }

    func abort() {
        failureReason = "connection dropped"
        closeChannel()
    }

    func closeChannel() {
        context?.close(promise: nil)
    }

    private func reportClosed(code: UInt16, reason: String) {
        guard !closeReported, let connection else { return }
        closeReported = true
        delegate?.webSocketClosed(connection, code: code, reason: reason)
    }

    func fail(_ error: NetError) {
        handshakeTimer?.cancel()
        guard !openedOrFailed else { return }
        openedOrFailed = true
        state = .closed
        client?.delegate.webSocketFailed(error)
    }

    func opened(target: String, headers: [(String, String)], url: String) {
        guard let ctx = context else { return }
        let newConnection = WebSocketConnection(
            role: role, url: url, target: target, headers: headers, id: connectionId,
            channel: ctx.channel, handler: self)
        connection = newConnection
        state = .open
        openedOrFailed = true
        handshakeTimer?.cancel()
        delegate?.webSocketOpened(newConnection)
    }

    private func classify(_ error: any Error) -> NetError {
        let place = client.map { $0.url.description } ?? ""
        let text = describe(error)
        if text.contains("SSL") || text.contains("TLS") || text.contains("certificate") || text.contains("handshake") {
            return NetError(
                .tls, place: place, what: "TLS failed: \(text)",
                remedy: "check the host name and its certificate (wss:// needs a host name, not an IP address)")
        }
        return NetError(.connectFailed, place: place, what: text, remedy: "check the URL and the network")
    }
}

func describe(_ error: any Error) -> String {
    "\(error)"
}
