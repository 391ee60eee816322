/// The exchanges k2 knows by name: what `k2 record` subscribes to and what the simulator speaks.
/// It lives in K2Capture, below both K2Record and K2Sim, next to the payload field readers.
package enum Venue: String, Sendable, CaseIterable, Equatable {
    case binance, kraken, coinbase

    /// Parses `binance`, `kraken`, `coinbase` (any case). The error names the text only: callers
    /// add where it came from (a flag, `profile.yaml:12`) through their own error type.
    package init(parsing text: String) throws(CaptureError) {
        guard let venue = Venue(rawValue: text.lowercased()) else {
            throw CaptureError(.invalidArgument, path: nil, what: "unknown venue '\(text)'", remedy: "use binance, kraken or coinbase")
        }
        self = venue
    }

    /// The public production market-data endpoint (what a recorder connects to; the host part
    /// of generated `connect` records).
    package var defaultURL: String {
        switch self {
        case .binance: "wss://stream.binance.com:9443"
        case .kraken: "wss://ws.kraken.com"
        case .coinbase: "wss://advanced-trade-ws.coinbase.com"
        }
    }
}
