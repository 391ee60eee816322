/// Receives the events of one WebSocket connection. Every call happens on the connection's
/// event loop thread, one at a time; implementations keep their state confined to that thread
/// (hence `@unchecked Sendable` on implementers is the usual pattern).
///
/// Order: exactly one of `webSocketOpened` or `webSocketFailed`; after `webSocketOpened`,
/// any number of frames, then exactly one `webSocketClosed`.
package protocol WebSocketDelegate: AnyObject, Sendable {
    /// The handshake finished; the connection can send.
    func webSocketOpened(_ connection: WebSocketConnection)
    /// The connection never opened (DNS, TCP, TLS or handshake failure). Client side only.
    func webSocketFailed(_ error: NetError)
    /// A complete text or binary message (fragments already joined). `payload` is valid only
    /// during the call: copy what you keep.
    func webSocket(_ connection: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool)
    /// A ping or pong arrived (pings are answered automatically before this call).
    func webSocket(_ connection: WebSocketConnection, control: WebSocketControl, payload: UnsafeRawBufferPointer)
    /// The channel became writable again after `isWritable` was false.
    func webSocketWritable(_ connection: WebSocketConnection)
    /// The connection ended. `code` is the peer's close code (1005 if its close frame carried
    /// none), or 1006 when the TCP connection ended without a close frame (then `reason` says why).
    func webSocketClosed(_ connection: WebSocketConnection, code: UInt16, reason: String)
}

extension WebSocketDelegate {
    package func webSocketFailed(_ error: NetError) {}
    package func webSocket(_ connection: WebSocketConnection, control: WebSocketControl, payload: UnsafeRawBufferPointer) {}
    package func webSocketWritable(_ connection: WebSocketConnection) {}
}

package enum WebSocketControl: Sendable, Equatable {
    case ping
    case pong
}
