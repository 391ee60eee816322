import K2Core

/// The one error type of K2Net (a `K2Error`): what went wrong, where (URL or address) and what
/// to do about it, on one line.
public struct NetError: K2Error, Equatable {
    public enum Code: String, Sendable {
        /// The URL does not parse or has an unsupported scheme.
        case badURL = "bad-url"
        /// The host name does not resolve.
        case unresolvableHost = "unresolvable-host"
        /// TCP connect failed (refused, unreachable, timed out).
        case connectFailed = "connect-failed"
        /// The TLS handshake failed (certificate, SNI, protocol).
        case tls
        /// The server answered the upgrade request with something other than 101.
        case handshakeRejected = "handshake-rejected"
        /// The peer broke the WebSocket or HTTP protocol.
        case protocolError = "protocol-error"
        /// The address is already in use (server bind).
        case addressInUse = "address-in-use"
        /// An HTTP request failed or timed out.
        case http
        /// The connection closed before the operation finished.
        case closed
    }

    public let code: Code
    /// The URL or address concerned.
    public let place: String
    public let what: String
    public let remedy: String

    public init(_ code: Code, place: String, what: String, remedy: String) {
        self.code = code
        self.place = place
        self.what = what
        self.remedy = remedy
    }
}
