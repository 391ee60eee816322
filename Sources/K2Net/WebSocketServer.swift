import K2Core
import NIOCore
import NIOPosix

/// Decides what the server does with each request.
package protocol WebSocketServerDelegate: AnyObject, Sendable {
    /// A client asks to upgrade to WebSocket at `request.target`: accept it with the delegate
    /// that will handle the connection, or reject it with an HTTP response.
    func accept(_ request: HTTPRequestInfo) -> WebSocketAcceptance
    /// A plain HTTP request (e.g. a REST depth snapshot).
    func respond(to request: HTTPRequestInfo) -> HTTPResponseInfo
}

extension WebSocketServerDelegate {
    package func respond(to request: HTTPRequestInfo) -> HTTPResponseInfo {
        HTTPResponseInfo(status: 404, body: "not found\n")
    }
}

package enum WebSocketAcceptance {
    case accept(any WebSocketDelegate)
    case reject(HTTPResponseInfo)
}

/// A WebSocket server (and plain HTTP GET server on the same port) on SwiftNIO.
package final class WebSocketServer: @unchecked Sendable {
    // unchecked: mutable state set in init or under `counter`; the channel is closed by its owner.
    package struct Configuration: Sendable {
        /// Address to bind: 127.0.0.1 by default (never exposed beyond the machine unless asked).
        package var host: String = "127.0.0.1"
        /// Port; 0 picks a free one (see `port` after start).
        package var port: Int = 0
        /// Largest message accepted from a client.
        package var maxMessageSize: Int = 16 << 20
        /// Socket send buffer high-water mark: above it `isWritable` turns false.
        package var writeHighWaterMark: Int = 1 << 20
        /// Serve `wss://` (and `https://`) with this certificate; nil serves plain `ws://`.
        package var tls: TLSServerOptions?

        package init(host: String = "127.0.0.1", port: Int = 0, maxMessageSize: Int = 16 << 20, writeHighWaterMark: Int = 1 << 20) {
            self.host = host
            self.port = port
            self.maxMessageSize = maxMessageSize
            self.writeHighWaterMark = writeHighWaterMark
        }
    }

    package let configuration: Configuration
    let delegate: any WebSocketServerDelegate
    package let loop: NetLoop
    private let ownsLoop: Bool
    private var channel: (any Channel)?
    private let counter = Lock()
    private var nextId = 0
    /// The bound port.
    package private(set) var port: Int = 0
    /// `host:port`.
    package var address: String { "\(configuration.host):\(port)" }
    /// `ws` or `wss`.
    package var scheme: String { configuration.tls == nil ? "ws" : "wss" }

    /// Binds and starts accepting. Throws `.addressInUse` with one actionable line when the port is taken.
    package init(_ configuration: Configuration = Configuration(), delegate: any WebSocketServerDelegate, loop: NetLoop? = nil) throws(NetError) {
        self.configuration = configuration
        self.delegate = delegate
        self.loop = loop ?? NetLoop(threads: 1)
        ownsLoop = loop == nil
        let high = configuration.writeHighWaterMark
        let tls = try configuration.tls.map { (o) throws(NetError) in try TLSServerContext(o) }
        let bootstrap = ServerBootstrap(group: self.loop.group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: high / 2, high: high))
            .childChannelInitializer { [weak self] channel in
                guard let self else { return channel.eventLoop.makeSucceededVoidFuture() }
                let id = self.counter.withLock { () -> Int in
                    defer { self.nextId += 1 }
                    return self.nextId
                }
                let handler = WebSocketHandler(server: self, maxMessageSize: configuration.maxMessageSize, connectionId: id)
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.handler()) }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        do {
            let ch = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
            channel = ch
            port = ch.localAddress?.port ?? configuration.port
        } catch {
            if ownsLoop { self.loop.shutdown() }
            let text = "\(error)"
            if text.contains("in use") || text.contains("EADDRINUSE") || text.contains("errno: 98") {
                throw NetError(
                    .addressInUse, place: "\(configuration.host):\(configuration.port)", what: "port \(configuration.port) is already in use",
                    remedy: "pick another --port or stop the process using it")
            }
            throw NetError(
                .connectFailed, place: "\(configuration.host):\(configuration.port)", what: "cannot listen: \(text)",
                remedy: "check the address and port")
        }
    }

    /// Stops listening and closes the loop if the server created it. Open connections are dropped.
    package func close() {
        try? channel?.close().wait()
        channel = nil
        if ownsLoop { loop.shutdown() }
    }

    deinit { if channel != nil { close() } }
}
