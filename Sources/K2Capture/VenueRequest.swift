import K2Core

/// The subscription requests the venues' market-data WebSockets accept, parsed. Shared by the
/// simulated exchanges (K2Sim's `BinanceProtocol`, `KrakenProtocol`, `CoinbaseProtocol`, which
/// add the venues' answers) and the `ws://` replay sink (K2Replay's `WebSocketSink`).
package enum VenueRequest: Sendable, Equatable {
    case binance(BinanceRequest)
    case kraken(KrakenRequest)
    case coinbase(CoinbaseRequest)

    /// Recognises a request by its shape: `method` (Binance), `event` (Kraken v1), `type`
    /// (Coinbase Advanced Trade). Nil for anything else (not JSON, none of the keys).
    package init?(parsing bytes: [UInt8]) {
        if let request = BinanceRequest(parsing: bytes) {
            self = .binance(request)
        } else if let request = KrakenRequest(parsing: bytes) {
            self = .kraken(request)
        } else if let request = CoinbaseRequest(parsing: bytes) {
            self = .coinbase(request)
        } else {
            return nil
        }
    }
}

/// Binance: `{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1}` (also UNSUBSCRIBE, LIST_SUBSCRIPTIONS).
package struct BinanceRequest: Sendable, Equatable {
    package var method: String
    package var params: [String]
    /// The id exactly as sent (number text or quoted string), echoed in the response.
    package var idJSON: String

    package init?(parsing bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes), let method = value["method"]?.stringValue else { return nil }
        self.method = method
        params = value["params"]?.arrayValue?.compactMap(\.stringValue) ?? []
        idJSON = value["id"].map { $0.serialized() } ?? "null"
    }
}

/// Kraken v1: `{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"trade"}}`, also
/// `unsubscribe` and `{"event":"ping","reqid":42}`.
package struct KrakenRequest: Sendable, Equatable {
    package var event: String
    package var pairs: [String]
    /// `subscription.name`: `trade`, `book`, `ticker`, `spread`, `ohlc` …
    package var name: String
    package var depth: Int?
    /// The reqid exactly as sent, echoed in the answers; nil when the request had none.
    package var reqid: String?

    package init?(parsing bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes), let event = value["event"]?.stringValue else { return nil }
        self.event = event
        pairs = value["pair"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let subscription = value["subscription"]
        name = subscription?["name"]?.stringValue ?? ""
        depth = subscription?["depth"]?.int64Value.map { Int($0) }
        reqid = value["reqid"]?.serialized()
    }
}

/// Coinbase Advanced Trade: `{"type":"subscribe","product_ids":["BTC-USD"],"channel":"market_trades"}` (or unsubscribe).
package struct CoinbaseRequest: Sendable, Equatable {
    package var type: String
    package var productIDs: [String]
    package var channel: String

    package init?(parsing bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes), let type = value["type"]?.stringValue else { return nil }
        self.type = type
        productIDs = value["product_ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
        channel = value["channel"]?.stringValue ?? ""
    }
}
