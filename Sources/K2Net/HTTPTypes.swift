/// A plain HTTP request as the server saw it (method, target, headers; no body).
package struct HTTPRequestInfo: Sendable {
    package var method: String
    /// Path and query (`/api/v3/depth?symbol=BTCUSDT&limit=1000`).
    package var target: String
    package var headers: [(String, String)]

    package init(method: String, target: String, headers: [(String, String)] = []) {
        self.method = method
        self.target = target
        self.headers = headers
    }

    /// The first header named `name` (case-insensitive).
    package func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first(where: { $0.0.lowercased() == lowered })?.1
    }

    /// The path without the query.
    package var path: String { String(target.prefix(while: { $0 != "?" })) }

    /// Query parameters in order (no percent-decoding beyond `%2F`/`%40`, which stream names use).
    package var query: [(String, String)] {
        guard let questionMark = target.firstIndex(of: "?") else { return [] }
        return target[target.index(after: questionMark)...].split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1)
            let value = kv.count > 1 ? String(kv[1]) : ""
            return (String(kv[0]), value.replacingPercentEscapes())
        }
    }

    package func queryValue(_ key: String) -> String? { query.first(where: { $0.0 == key })?.1 }
}

/// A plain HTTP response (server side) or a fetched one (client side).
package struct HTTPResponseInfo: Sendable {
    package var status: Int
    package var headers: [(String, String)]
    package var body: [UInt8]

    package init(status: Int, headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    package init(status: Int, headers: [(String, String)] = [("Content-Type", "text/plain")], body: String) {
        self.init(status: status, headers: headers, body: Array(body.utf8))
    }

    package var reason: String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }

    package var bodyText: String { String(decoding: body, as: UTF8.self) }
}

extension String {
    func replacingPercentEscapes() -> String {
        guard contains("%") else { return self }
        var out: [UInt8] = []
        var bytes = Array(utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%"), bytes.count >= 2,
                let decoded = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(decoded)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
