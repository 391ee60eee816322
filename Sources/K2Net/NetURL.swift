/// A parsed `ws://`, `wss://`, `http://` or `https://` URL: what a connection needs.
public struct NetURL: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int
    /// Path and query, starting with `/` (`/stream?streams=btcusdt@trade`).
    public var target: String

    /// True for `wss` and `https`.
    public var isTLS: Bool { scheme == "wss" || scheme == "https" }

    public init(scheme: String, host: String, port: Int, target: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target
    }

    public init(_ text: String) throws(NetError) {
        let chars = Array(text.utf8)
        var sepAt: Int?
        if chars.count >= 3 {
            for i in 0...(chars.count - 3) where chars[i] == 58 && chars[i + 1] == 47 && chars[i + 2] == 47 {
                sepAt = i
                break
            }
        }
        guard let sepAt else {
            throw NetError(.badURL, place: text, what: "not a URL", remedy: "give ws://HOST[:PORT]/PATH or wss://…")
        }
        let scheme = String(decoding: chars[..<sepAt], as: UTF8.self).lowercased()
        let defaultPort: Int
        switch scheme {
        case "ws", "http": defaultPort = 80
        case "wss", "https": defaultPort = 443
        default:
            throw NetError(.badURL, place: text, what: "unsupported scheme \(scheme)", remedy: "use ws://, wss://, http:// or https://")
        }
        let restText = String(decoding: chars[(sepAt + 3)...], as: UTF8.self)
        let rest = restText[...]
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<slash]
        var target = String(rest[slash...])
        if target.isEmpty { target = "/" }
        if target.first == "?" { target = "/" + target }
        var host = String(authority)
        var port = defaultPort
        if host.hasPrefix("[") {
            // IPv6 literal: [::1]:8080
            guard let close = host.firstIndex(of: "]") else {
                throw NetError(.badURL, place: text, what: "unterminated IPv6 address", remedy: "write [ADDR]:PORT")
            }
            let after = host[host.index(after: close)...]
            let inner = String(host[host.index(after: host.startIndex)..<close])
            if after.hasPrefix(":") {
                guard let parsedPort = Int(after.dropFirst()), (1...65535).contains(parsedPort) else {
                    throw NetError(.badURL, place: text, what: "bad port", remedy: "give a port between 1 and 65535")
                }
                port = parsedPort
            }
            host = inner
        } else if let colon = host.lastIndex(of: ":") {
            guard let parsedPort = Int(host[host.index(after: colon)...]), (1...65535).contains(parsedPort) else {
                throw NetError(.badURL, place: text, what: "bad port", remedy: "give a port between 1 and 65535")
            }
            port = parsedPort
            host = String(host[..<colon])
        }
        guard !host.isEmpty else {
            throw NetError(.badURL, place: text, what: "no host", remedy: "give ws://HOST[:PORT]/PATH")
        }
        self.init(scheme: scheme, host: host, port: port, target: target)
    }

    /// True when the host is an IPv4 or IPv6 literal (TLS SNI cannot carry those).
    public var hostIsIPAddress: Bool {
        if host.contains(":") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }

    /// `Host:` header value.
    var hostHeader: String {
        let def = isTLS ? 443 : 80
        let hostText = host.contains(":") ? "[\(host)]" : host
        return port == def ? hostText : "\(hostText):\(port)"
    }

    public var description: String { "\(scheme)://\(hostHeader)\(target)" }

    /// The same host and port with another scheme and target (e.g. the REST endpoint next to a WebSocket).
    public func with(scheme: String, target: String) -> NetURL {
        NetURL(scheme: scheme, host: host, port: port, target: target)
    }
}
