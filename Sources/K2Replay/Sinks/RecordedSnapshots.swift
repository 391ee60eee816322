import K2Capture

/// The REST responses a capture recorded (`http` records: the recorder's depth snapshots), for
/// the `ws://` sink to serve on its port as the venue would: `GET /api/v3/depth?symbol=BTCUSDT`
/// answers the snapshot of that path and symbol recorded last before the replay's current capture
/// time (the first one before the replay reaches it).
struct RecordedSnapshots: Sendable {
    /// By request path (`/api/v3/depth`) and upper-cased `symbol` parameter: (receive time, body), in time order.
    private var bodies: [String: [(Int64, [UInt8])]] = [:]

    var isEmpty: Bool { bodies.isEmpty }
    var count: Int { bodies.values.reduce(0) { $0 + $1.count } }

    init() {}

    /// Reads the `http` records of `paths`. Bodies that are not a JSON object (an error page the
    /// recorder stored) are left out.
    init(paths: [String]) throws {
        for path in paths {
            try CaptureReader(path: path).forEach { record in
                guard record.kind == .http, let url = record.url, record.payload.first == UInt8(ascii: "{") else { return true }
                bodies[Self.key(target: Self.target(of: url)), default: []].append((record.timestamp, [UInt8](record.payload)))
                return true
            }
        }
        for key in bodies.keys { bodies[key]?.sort { $0.0 < $1.0 } }
    }

    /// The body for a request target at capture time `nanos`, or nil when none was recorded.
    func body(target: String, at nanos: Int64) -> [UInt8]? {
        guard let recorded = bodies[Self.key(target: target)], let first = recorded.first else { return nil }
        return recorded.last { $0.0 <= nanos }?.1 ?? first.1
    }

    /// `https://api.binance.com/api/v3/depth?symbol=X` → `/api/v3/depth?symbol=X`.
    static func target(of url: String) -> String {
        guard let scheme = url.firstRange(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        return rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
    }

    /// `path|SYMBOL` (other parameters, e.g. `limit`, do not matter).
    static func key(target: String) -> String {
        let parts = target.split(separator: "?", maxSplits: 1)
        var symbol = ""
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") where pair.hasPrefix("symbol=") { symbol = pair.dropFirst(7).uppercased() }
        }
        return "\(parts.first ?? "")|\(symbol)"
    }
}
