import K2Core

/// `--metrics-port`: serves a live text exposition (Prometheus text format 0.0.4, rendered by
/// the caller) at `http://127.0.0.1:PORT/metrics` on K2Net's server, so a Grafana dashboard
/// can watch a soak. Every GET gets the current text; WebSocket upgrades are refused.
package final class MetricsServer: Sendable {
    private let server: WebSocketServer
    private let endpoint: Endpoint
    /// The bound port (the one asked for, or the free one picked for 0).
    package var port: Int { server.port }

    /// Binds 127.0.0.1:`port` (0 = any free port).
    package init(port: Int) throws(NetError) {
        endpoint = Endpoint()
        do {
            server = try WebSocketServer(WebSocketServer.Configuration(port: port), delegate: endpoint)
        } catch {
            throw NetError(error.code, place: error.place, what: error.what, remedy: "choose another --metrics-port, or 0 for any free port")
        }
    }

    /// Replaces what scrapes get: `render` runs at each scrape, on the server's thread.
    package func update(_ render: @escaping @Sendable () -> String) {
        endpoint.set(render)
    }

    package func stop() {
        server.close()
    }

    /// The server delegate holding the current renderer.
    private final class Endpoint: WebSocketServerDelegate, @unchecked Sendable {
        // unchecked: `render` is only read and written under `lock`.
        private let lock = Lock()
        private var render: @Sendable () -> String = { "" }

        func set(_ render: @escaping @Sendable () -> String) {
            lock.withLock { self.render = render }
        }

        func accept(_ request: HTTPRequestInfo) -> WebSocketAcceptance {
            .reject(HTTPResponseInfo(status: 404, body: "not found\n"))
        }

        func respond(to request: HTTPRequestInfo) -> HTTPResponseInfo {
            let text = lock.withLock { render }()
            return HTTPResponseInfo(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: text)
        }
    }
}
