import K2Core

@testable import K2Net

#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every millisecond until it holds or `seconds` pass (a bound, not a timing assertion).
func waitUntil(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = SystemClock().monotonicNanos() + Int64(seconds * 1e9)
    while SystemClock().monotonicNanos() < deadline {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

/// Records every event of a connection, thread-safely.
final class Collector: WebSocketDelegate, @unchecked Sendable {
    // unchecked: events under its lock.
    enum Event: Equatable {
        case opened
        case failed(NetError.Code)
        case message([UInt8], binary: Bool)
        case ping([UInt8])
        case pong([UInt8])
        case closed(UInt16, String)
    }

    private let lock = Lock()
    private var _events: [Event] = []
    private var _connection: WebSocketConnection?
    private(set) var error: NetError?
    var messageCount = 0
    /// Called on the loop when the connection opens.
    var onOpen: (@Sendable (WebSocketConnection) -> Void)?
    /// Called on the loop for each message (after recording it).
    var onMessage: (@Sendable (WebSocketConnection, [UInt8], Bool) -> Void)?
    var keepMessages = true

    init(onOpen: (@Sendable (WebSocketConnection) -> Void)? = nil, onMessage: (@Sendable (WebSocketConnection, [UInt8], Bool) -> Void)? = nil) {
        self.onOpen = onOpen
        self.onMessage = onMessage
    }

    var events: [Event] { lock.withLock { _events } }
    var connection: WebSocketConnection? { lock.withLock { _connection } }
    var messages: [[UInt8]] {
        events.compactMap {
            if case let .message(message, _) = $0 { return message }; return nil
        }
    }
    var count: Int { lock.withLock { messageCount } }
    var closedEvent: Event? {
        events.first(where: {
            if case .closed = $0 { return true }; return false
        })
    }

    func webSocketOpened(_ connection: WebSocketConnection) {
        lock.withLock {
            _connection = connection; _events.append(.opened)
        }
        onOpen?(connection)
    }
    func webSocketFailed(_ error: NetError) {
        lock.withLock {
            self.error = error; _events.append(.failed(error.code))
        }
    }
    func webSocket(_ connection: WebSocketConnection, received payload: UnsafeRawBufferPointer, binary: Bool) {
        let bytes = [UInt8](payload)
        lock.withLock {
            messageCount += 1
            if keepMessages { _events.append(.message(bytes, binary: binary)) }
        }
        onMessage?(connection, bytes, binary)
    }
    func webSocket(_ connection: WebSocketConnection, control: WebSocketControl, payload: UnsafeRawBufferPointer) {
        lock.withLock { _events.append(control == .ping ? .ping([UInt8](payload)) : .pong([UInt8](payload))) }
    }
    func webSocketClosed(_ connection: WebSocketConnection, code: UInt16, reason: String) {
        lock.withLock { _events.append(.closed(code, reason)) }
    }
}

/// A server whose connections are handled by a fresh `Collector` from `make`.
final class TestServer: WebSocketServerDelegate, @unchecked Sendable {
    // unchecked: collectors under `lock`.
    private let lock = Lock()
    private var _collectors: [Collector] = []
    let make: @Sendable (HTTPRequestInfo) -> Collector?
    var http: @Sendable (HTTPRequestInfo) -> HTTPResponseInfo = { _ in HTTPResponseInfo(status: 404, body: "nope\n") }

    init(make: @escaping @Sendable (HTTPRequestInfo) -> Collector? = { _ in Collector() }) {
        self.make = make
    }

    var collectors: [Collector] { lock.withLock { _collectors } }

    func accept(_ request: HTTPRequestInfo) -> WebSocketAcceptance {
        guard let collector = make(request) else { return .reject(HTTPResponseInfo(status: 404, body: "no such stream\n")) }
        lock.withLock { _collectors.append(collector) }
        return .accept(collector)
    }

    func respond(to request: HTTPRequestInfo) -> HTTPResponseInfo { http(request) }
}
