import K2Core
import NIOCore

/// The HTTP/1.1 upgrade handshake of `WebSocketHandler`: the client's request and its check of
/// the 101 answer; the server's answer to an upgrade (accepted or rejected by its delegate) and
/// to a plain HTTP request.
extension WebSocketHandler {
    func sendClientHandshake() {
        guard role == .client, state == .handshake, let ctx = context, let setup = client, out.readableBytes == 0 else { return }
        var req = "GET \(setup.url.target) HTTP/1.1\r\nHost: \(setup.url.hostHeader)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        req += "Sec-WebSocket-Key: \(setup.key)\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in setup.extraHeaders { req += "\(name): \(value)\r\n" }
        req += "\r\n"
        var buffer = ctx.channel.allocator.buffer(capacity: req.utf8.count)
        buffer.writeString(req)
        ctx.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// Consumes one HTTP head from `buf` if complete. Returns false when more bytes are needed.
    func handshake(_ buf: inout ByteBuffer) -> Bool {
        guard let end = headEnd(buf) else {
            if buf.readableBytes > 64 * 1024 {
                failureReason = "HTTP head longer than 64 KiB"
                closeChannel()
            }
            return false
        }
        let head = buf.readString(length: end) ?? ""
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        var headers: [(String, String)] = []
        for line in lines.dropFirst() where !line.isEmpty {
            if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces()))
            }
        }
        let first = lines.first ?? ""
        if role == .client {
            clientResponse(first, headers, &buf)
        } else {
            serverRequest(first, headers, &buf)
        }
        return true
    }

    private func headEnd(_ buf: ByteBuffer) -> Int? {
        buf.withUnsafeReadableBytes { bytes -> Int? in
            guard bytes.count >= 4 else { return nil }
            for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
                return i + 4
            }
            return nil
        }
    }

    private func clientResponse(_ statusLine: String, _ headers: [(String, String)], _ buf: inout ByteBuffer) {
        guard let setup = client else { return }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        let status = parts.count >= 2 ? Int(parts[1]) ?? 0 : 0
        guard status == 101 else {
            let body = buf.readableBytes > 0 ? " " + String(decoding: buf.readableBytesView.prefix(200), as: UTF8.self) : ""
            fail(
                NetError(
                    .handshakeRejected, place: setup.url.description,
                    what: "the server answered the WebSocket upgrade with \(statusLine.isEmpty ? "nothing" : statusLine)\(body)",
                    remedy: status == 404 ? "check the URL path" : "check the URL and the subscription"))
            closeChannel()
            return
        }
        let accept = headers.first(where: { $0.0.lowercased() == "sec-websocket-accept" })?.1 ?? ""
        guard accept == WebSocketHandler.acceptValue(key: setup.key) else {
            fail(
                NetError(
                    .handshakeRejected, place: setup.url.description, what: "wrong Sec-WebSocket-Accept in the 101 response",
                    remedy: "the server is not a WebSocket server"))
            closeChannel()
            return
        }
        opened(target: setup.url.target, headers: headers, url: setup.url.description)
    }

    private func serverRequest(_ requestLine: String, _ headers: [(String, String)], _ buf: inout ByteBuffer) {
        guard let server else { closeChannel(); return }
        let parts = requestLine.split(separator: " ")
        let request = HTTPRequestInfo(
            method: parts.first.map(String.init) ?? "", target: parts.count > 1 ? String(parts[1]) : "/",
            headers: headers)
        let isUpgrade = request.header("upgrade")?.lowercased() == "websocket"
        if isUpgrade {
            guard let key = request.header("sec-websocket-key"), request.method == "GET" else {
                respond(HTTPResponseInfo(status: 400, body: "bad WebSocket upgrade request\n"), close: true)
                return
            }
            switch server.delegate.accept(request) {
            case let .reject(response):
                respond(response, close: true)
            case let .accept(acceptedDelegate):
                delegate = acceptedDelegate
                let resp =
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(WebSocketHandler.acceptValue(key: key))\r\n\r\n"
                if let ctx = context {
                    var buffer = ctx.channel.allocator.buffer(capacity: resp.utf8.count)
                    buffer.writeString(resp)
                    ctx.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
                }
                opened(target: request.target, headers: headers, url: "\(server.scheme)://\(server.address)\(request.target)")
            }
        } else {
            // Plain HTTP (no request bodies: skip any Content-Length bytes).
            if let length = request.header("content-length").flatMap({ Int($0) }), length > 0 {
                buf.moveReaderIndex(forwardBy: min(length, buf.readableBytes))
            }
            let response = server.delegate.respond(to: request)
            respond(response, close: request.header("connection")?.lowercased() == "close")
        }
    }

    private func respond(_ r: HTTPResponseInfo, close: Bool) {
        guard let ctx = context else { return }
        var head = "HTTP/1.1 \(r.status) \(r.reason)\r\nContent-Length: \(r.body.count)\r\n"
        for (name, value) in r.headers { head += "\(name): \(value)\r\n" }
        if close { head += "Connection: close\r\n" }
        head += "\r\n"
        var buffer = ctx.channel.allocator.buffer(capacity: head.utf8.count + r.body.count)
        buffer.writeString(head)
        buffer.writeBytes(r.body)
        if close {
            state = .closed
            let channel = ctx.channel
            ctx.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            ctx.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }

    static func acceptValue(key: String) -> String {
        Base64.encode(SHA1.hash(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)))
    }
}
