import K2Capture
import K2Core
import K2Net

extension WebSocketSink {
    /// One client connection and what it asked for. Every field is read and written under the
    /// sink's `lock`; the WebSocket callbacks arrive on the server's single loop thread.
    final class Client: WebSocketDelegate, @unchecked Sendable {
        // unchecked: state under `sink.lock` (see above).
        weak var sink: WebSocketSink?
        /// The connection number (from 0, in connection order), as the summary names the client.
        let number: Int
        let path: String
        var connection: WebSocketConnection?
        /// The client closed or lost the connection; its subscriptions still count: messages
        /// for them are dropped, not unrouted.
        var gone = false
        /// Dropped by an exchange fault (`disconnect`): the venue cut it off on purpose, so its
        /// subscriptions no longer count (a client that reconnects is a new `Client`).
        var retired = false
        /// `VenueRoute` keys.
        var subscriptions: Set<String> = []
        /// Binance streams as the client named them, for LIST_SUBSCRIPTIONS.
        var binanceStreams: [String] = []
        /// Binance `/ws…`: payloads go raw, without the combined-stream wrapper.
        var raw = false
        /// Binance `/stream…`: payloads go in the combined-stream wrapper.
        var combined = false
        /// Coinbase `heartbeats` subscription, and the counter of the heartbeats sent.
        var coinbaseHeartbeats = false
        var heartbeatCounter: Int64 = 0
        /// Coinbase numbers the messages of each connection from 0: the next `sequence_num`.
        var coinbaseSequence: Int64 = 0
        var lastHeartbeatNanos: Int64 = 0
        /// The client subscribed in Kraken's grammar (it then gets Kraken heartbeats).
        var kraken = false
        /// Monotonic time of the last frame written to it (Kraken heartbeats go after 1 s of silence).
        var lastFrameNanos: Int64 = 0
        var delivered: UInt64 = 0
        var droppedLeft: UInt64 = 0
        var droppedOverflow: UInt64 = 0

        init(sink: WebSocketSink, request: HTTPRequestInfo, number: Int) {
            self.sink = sink
            self.number = number
            path = request.target
            if request.target.hasPrefix("/stream") {
                combined = true
                for stream in (request.queryValue("streams") ?? "").split(separator: "/") {
                    subscriptions.insert(VenueRoute.binanceKey(String(stream)))
                    binanceStreams.append(String(stream))
                }
            } else if request.target.hasPrefix("/ws") {
                raw = true
                for stream in request.target.dropFirst(3).split(separator: "/") {
                    subscriptions.insert(VenueRoute.binanceKey(String(stream)))
                    binanceStreams.append(String(stream))
                }
            }
        }

        func webSocketOpened(_ connection: WebSocketConnection) {
            sink?.opened(self, connection: connection)
        }

        func webSocket(_ connection: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool) {
            guard let request = VenueRequest(parsing: [UInt8](payload)) else {
                sink?.refuse(self)
                return
            }
            sink?.handle(request, from: self)
        }

        func webSocketClosed(_ connection: WebSocketConnection, code: UInt16, reason: String) {
            // Later on the loop: a write under the sink's lock can close the channel (peer reset)
            // and call this in the same stack.
            connection.execute { [self] in self.sink?.closed(self) }
        }

        /// The `sequence_num` of the next Coinbase frame to this client.
        func nextCoinbaseSequence() -> Int64 {
            defer { coinbaseSequence += 1 }
            return coinbaseSequence
        }

        /// Writes one frame now (on the loop) and notes the time. Call under the sink's lock.
        func write(_ bytes: UnsafeRawBufferPointer, now: Int64) {
            guard let connection else { return }
            connection.send(bytes)
            connection.flush()
            lastFrameNanos = now
        }

        func write(_ bytes: [UInt8], now: Int64) { bytes.withUnsafeBytes { write($0, now: now) } }

        /// The figures of this client in the summary's `clients` list.
        var summary: JSONValue {
            .object([
                ("client", .number(String(number))), ("path", .string(path)),
                ("subscriptions", .array(subscriptions.sorted().map { .string($0) })),
                ("delivered", .number(String(delivered))),
                ("dropped_left", .number(String(droppedLeft))),
                ("dropped_overflow", .number(String(droppedOverflow))),
                ("left", .bool(gone)), ("disconnected_by_fault", .bool(retired)),
            ])
        }
    }
}
