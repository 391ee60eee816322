import K2Core
import NIOCore
import NIOHTTP1
import NIOPosix

/// Plain HTTP GET over SwiftNIO (http:// and https://): for REST snapshots next to a stream.
package enum HTTPFetch {
    /// Fetches `url` on `loop`; `completion` runs on the loop with the response (any status) or
    /// a `NetError` (connect, TLS, timeout, protocol).
    package static func get(_ url: NetURL, loop: NetLoop, timeoutNanos: Int64 = 10_000_000_000, tls: TLSOptions = TLSOptions(),
                           headers: [(String, String)] = [], completion: @escaping @Sendable (Result<HTTPResponseInfo, NetError>) -> Void) {
        guard url.scheme == "http" || url.scheme == "https" else {
            loop.execute { completion(.failure(NetError(.badURL, place: url.description, what: "not an HTTP URL", remedy: "use http:// or https://"))) }
            return
        }
        let collector = ResponseCollector(url: url, completion: completion)
        ClientBootstrap(group: loop.loop)
            .connectTimeout(.nanoseconds(timeoutNanos))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if url.isTLS { try channel.pipeline.syncOperations.addHandler(try tls.handler(for: url)) }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: url.host, port: url.port)
            .whenComplete { result in
                switch result {
                case let .failure(e):
                    collector.finish(.failure((e as? NetError) ?? connectError(e, url: url)))
                case let .success(ch):
                    var h = HTTPHeaders()
                    h.add(name: "Host", value: url.hostHeader)
                    h.add(name: "User-Agent", value: "k2/\(K2Version.number)")
                    h.add(name: "Accept", value: "application/json")
                    h.add(name: "Connection", value: "close")
                    for (k, v) in headers { h.add(name: k, value: v) }
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.target, headers: h)
                    ch.write(HTTPClientRequestPart.head(head), promise: nil)
                    ch.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                    ch.eventLoop.scheduleTask(in: .nanoseconds(timeoutNanos)) {
                        collector.finish(.failure(NetError(.http, place: url.description, what: "no complete response within \(timeoutNanos / 1_000_000) ms",
                                                           remedy: "check the server")))
                        ch.close(promise: nil)
                    }
                }
            }
    }

    /// Blocking variant for command-line code and tests (not on a loop thread).
    package static func get(_ url: NetURL, loop: NetLoop, timeoutNanos: Int64 = 10_000_000_000, tls: TLSOptions = TLSOptions()) throws(NetError) -> HTTPResponseInfo {
        let p = loop.loop.makePromise(of: HTTPResponseInfo.self)
        get(url, loop: loop, timeoutNanos: timeoutNanos, tls: tls) { r in
            switch r {
            case let .success(v): p.succeed(v)
            case let .failure(e): p.fail(e)
            }
        }
        do {
            return try p.futureResult.wait()
        } catch let e as NetError {
            throw e
        } catch {
            throw NetError(.http, place: url.description, what: "\(error)", remedy: "check the server")
        }
    }
}

private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    // unchecked: a NIO handler: every call on its channel's event loop.
    typealias InboundIn = HTTPClientResponsePart
    let url: NetURL
    var completion: (@Sendable (Result<HTTPResponseInfo, NetError>) -> Void)?
    var head: HTTPResponseHead?
    var body: [UInt8] = []

    init(url: NetURL, completion: @escaping @Sendable (Result<HTTPResponseInfo, NetError>) -> Void) {
        self.url = url
        self.completion = completion
    }

    func finish(_ r: Result<HTTPResponseInfo, NetError>) {
        guard let c = completion else { return }
        completion = nil
        c(r)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(h): head = h
        case let .body(b): body.append(contentsOf: b.readableBytesView)
        case .end:
            let h = head
            finish(.success(HTTPResponseInfo(status: Int(h?.status.code ?? 0), headers: h?.headers.map { ($0.name, $0.value) } ?? [], body: body)))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let text = "\(error)"
        let tls = text.contains("SSL") || text.contains("TLS") || text.contains("certificate")
        finish(.failure(NetError(tls ? .tls : .http, place: url.description, what: "\(tls ? "TLS failed: " : "")\(text)",
                                 remedy: tls ? "check the host name and its certificate" : "check the server")))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(NetError(.http, place: url.description, what: "the connection closed before a complete response", remedy: "check the server")))
        context.fireChannelInactive()
    }
}
