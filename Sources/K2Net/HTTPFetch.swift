import K2Core
import NIOCore
import NIOHTTP1
import NIOPosix

/// Plain HTTP GET over SwiftNIO (http:// and https://): for REST snapshots next to a stream.
package enum HTTPFetch {
    /// Fetches `url` on `loop`; `completion` runs on the loop with the response (any status) or
    /// a `NetError` (connect, TLS, timeout, protocol).
    package static func get(
        _ url: NetURL, loop: NetLoop, timeoutNanos: Int64 = 10_000_000_000, tls: TLSOptions = TLSOptions(),
        headers: [(String, String)] = [], completion: @escaping @Sendable (Result<HTTPResponseInfo, NetError>) -> Void
    ) {
        guard url.scheme == "http" || url.scheme == "https" else {
            loop.execute {
                completion(.failure(NetError(.badURL, place: url.description, what: "not an HTTP URL", remedy: "use http:// or https://")))
            }
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
                case let .failure(error):
                    collector.finish(.failure((error as? NetError) ?? connectError(error, url: url)))
                case let .success(ch):
                    var requestHeaders = HTTPHeaders()
                    requestHeaders.add(name: "Host", value: url.hostHeader)
                    requestHeaders.add(name: "User-Agent", value: "k2/\(K2Version.number)")
                    requestHeaders.add(name: "Accept", value: "application/json")
                    requestHeaders.add(name: "Connection", value: "close")
                    for (name, value) in headers { requestHeaders.add(name: name, value: value) }
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.target, headers: requestHeaders)
                    ch.write(HTTPClientRequestPart.head(head), promise: nil)
                    ch.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                    ch.eventLoop.scheduleTask(in: .nanoseconds(timeoutNanos)) {
                        collector.finish(
                            .failure(
                                NetError(
                                    .http, place: url.description, what: "no complete response within \(timeoutNanos / 1_000_000) ms",
                                    remedy: "check the server")))
                        ch.close(promise: nil)
                    }
                }
            }
    }

    /// Blocking variant for command-line code and tests (not on a loop thread).
    package static func get(_ url: NetURL, loop: NetLoop, timeoutNanos: Int64 = 10_000_000_000, tls: TLSOptions = TLSOptions()) throws(NetError)
        -> HTTPResponseInfo
    {
        let promise = loop.loop.makePromise(of: HTTPResponseInfo.self)
        get(url, loop: loop, timeoutNanos: timeoutNanos, tls: tls) { result in
            switch result {
            case let .success(response): promise.succeed(response)
            case let .failure(error): promise.fail(error)
            }
        }
        do {
            return try promise.futureResult.wait()
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
        guard let callback = completion else { return }
        completion = nil
        callback(r)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(responseHead): head = responseHead
        case let .body(buffer): body.append(contentsOf: buffer.readableBytesView)
        case .end:
            let responseHead = head
            finish(
                .success(
                    HTTPResponseInfo(
                        status: Int(responseHead?.status.code ?? 0), headers: responseHead?.headers.map { ($0.name, $0.value) } ?? [], body: body)))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let text = "\(error)"
        let tls = text.contains("SSL") || text.contains("TLS") || text.contains("certificate")
        finish(
            .failure(
                NetError(
                    tls ? .tls : .http, place: url.description, what: "\(tls ? "TLS failed: " : "")\(text)",
                    remedy: tls ? "check the host name and its certificate" : "check the server")))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(
            .failure(NetError(.http, place: url.description, what: "the connection closed before a complete response", remedy: "check the server")))
        context.fireChannelInactive()
    }
}
