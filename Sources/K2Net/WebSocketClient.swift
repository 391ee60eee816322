import K2Core
import NIOCore
import NIOPosix

/// Opens WebSocket client connections on a `NetLoop`.
package enum WebSocketClient {
    package struct Configuration: Sendable {
        var connectTimeoutNanos: Int64 = 10_000_000_000
        /// Longest wait for the whole opening (TCP, TLS, HTTP upgrade); a server that accepts the
        /// connection but never answers (e.g. wss:// to a plain server) fails after it.
        package var handshakeTimeoutNanos: Int64 = 15_000_000_000
        /// Largest message accepted (frames and joined fragments).
        package var maxMessageSize: Int = 64 << 20
        package var tls = TLSOptions()
        /// Extra request headers (`Origin`, `User-Agent` …).
        package var headers: [(String, String)] = [("User-Agent", "k2/\(K2Version.number)")]
        /// Socket receive buffer size (0 = the system's).
        var receiveBufferSize: Int = 4 << 20

        package init() {}
    }

    /// Connects to `url` (ws:// or wss://). The delegate gets `webSocketOpened` or
    /// `webSocketFailed`, on the loop.
    package static func connect(
        _ url: NetURL, configuration: Configuration = Configuration(), loop: NetLoop,
        connectionId: Int = 0, delegate: any WebSocketDelegate
    ) {
        guard url.scheme == "ws" || url.scheme == "wss" else {
            let failedDelegate = delegate
            loop.execute {
                failedDelegate.webSocketFailed(NetError(.badURL, place: url.description, what: "not a WebSocket URL", remedy: "use ws:// or wss://"))
            }
            return
        }
        var keyBytes = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<16 { keyBytes[i] = UInt8.random(in: 0...255, using: &rng) }
        let setup = WebSocketHandler.ClientSetup(
            url: url, key: Base64.encode(keyBytes), extraHeaders: configuration.headers, delegate: delegate,
            handshakeTimeoutNanos: configuration.handshakeTimeoutNanos)
        let tls = configuration.tls
        let maxSize = configuration.maxMessageSize
        var bootstrap = ClientBootstrap(group: loop.loop)
            .connectTimeout(.nanoseconds(configuration.connectTimeoutNanos))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if url.isTLS { try channel.pipeline.syncOperations.addHandler(try tls.handler(for: url)) }
                    try channel.pipeline.syncOperations.addHandler(
                        WebSocketHandler(client: setup, maxMessageSize: maxSize, connectionId: connectionId))
                }
            }
        if configuration.receiveBufferSize > 0 {
            bootstrap = bootstrap.channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(configuration.receiveBufferSize))
            // Read in large chunks: fewer reads, more frames per read.
            bootstrap = bootstrap.channelOption(
                ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536, maximum: 1 << 20))
        }
        bootstrap.connect(host: url.host, port: url.port).whenFailure { error in
            if let netError = error as? NetError { delegate.webSocketFailed(netError); return }
            delegate.webSocketFailed(connectError(error, url: url))
        }
    }
}

/// Turns a NIO connect error into one actionable `NetError`.
func connectError(_ error: any Error, url: NetURL) -> NetError {
    let text = "\(error)"
    if let connectionError = error as? NIOConnectionError {
        let dnsFailed = connectionError.dnsAError != nil || connectionError.dnsAAAAError != nil
        if dnsFailed && connectionError.connectionErrors.isEmpty {
            return NetError(
                .unresolvableHost, place: url.description, what: "cannot resolve host \(url.host)",
                remedy: "check the host name and DNS (no internet here? point --url at `k2 sim exchange`)")
        }
        if let first = connectionError.connectionErrors.first {
            return NetError(
                .connectFailed, place: url.description, what: "cannot connect to \(first.target): \(first.error)",
                remedy: "check that the server is running and the port is right")
        }
    }
    if text.contains("connectTimeout") || text.contains("timeout") {
        return NetError(.connectFailed, place: url.description, what: "connect timed out", remedy: "check the host, port and network")
    }
    return NetError(.connectFailed, place: url.description, what: "cannot connect: \(text)", remedy: "check the URL and the network")
}
