/// The venues K2Sim speaks.
public enum Venue: String, Sendable, CaseIterable, Equatable {
    case binance, kraken, coinbase

    /// Parses `binance`, `kraken`, `coinbase` (any case).
    public static func parse(_ text: String, location: String = "--venue") throws(SimError) -> Venue {
        guard let v = Venue(rawValue: text.lowercased()) else {
            throw SimError(location: location, what: "unknown venue '\(text)'", remedy: "use binance, kraken or coinbase")
        }
        return v
    }

    /// The public market-data endpoint a recorder would connect to (host part of `connect` records).
    public var endpoint: String {
        switch self {
        case .binance: return "wss://stream.binance.com:9443"
        case .kraken: return "wss://ws.kraken.com"
        case .coinbase: return "wss://advanced-trade-ws.coinbase.com"
        }
    }
}

/// The kind of a message the simulator sends.
public enum MessageKind: UInt8, Sendable, Equatable {
    /// Binance `trade`; Kraken `trade` (one fill); Coinbase `market_trades` (one trade).
    case trade
    /// Binance `aggTrade`; Kraken `trade` / Coinbase `market_trades` with several fills.
    case aggTrade
    /// Binance `depthUpdate`; Kraken `book` update; Coinbase `l2_data` update.
    case depth
    /// Kraken `{"event":"heartbeat"}`, Coinbase `heartbeats`.
    case heartbeat
    /// Subscription acks and status messages.
    case control
}
