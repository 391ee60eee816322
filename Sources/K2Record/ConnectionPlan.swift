import K2Capture
import K2Net

/// What `k2 record` subscribes to on each venue (the venue itself is K2Capture's `Venue`).
extension Venue {
    /// Channels this venue accepts (`trade`, `depth` are the common names; venue names also work).
    package var channels: [String] {
        switch self {
        case .binance: ["trade", "depth", "aggTrade", "bookTicker"]
        case .kraken: ["trade", "depth", "book", "ticker", "spread", "ohlc"]
        case .coinbase: ["trade", "depth", "market_trades", "level2", "ticker", "heartbeats"]
        }
    }
}

/// One connection to record: where to connect, what to send after connecting, and which REST
/// snapshots to fetch after each (re)connect.
package struct ConnectionPlan: Sendable, Equatable {
    package var venue: Venue?
    package var url: String
    /// Text frames sent after each connect (subscriptions).
    package var sends: [String]
    /// HTTP GETs stored as `http` records after each connect (Binance depth snapshots).
    package var snapshotURLs: [String]
    /// Stream names subscribed (for the capture header).
    package var subscriptions: [String]

    package init(venue: Venue?, url: String, sends: [String] = [], snapshotURLs: [String] = [], subscriptions: [String] = []) {
        self.venue = venue
        self.url = url
        self.sends = sends
        self.snapshotURLs = snapshotURLs
        self.subscriptions = subscriptions
    }

    /// Any WebSocket URL, with text frames to send after each connect.
    package static func raw(url: String, sends: [String]) throws(RecordError) -> ConnectionPlan {
        do { _ = try NetURL(url) } catch { throw RecordError(.invalidArgument, place: url, what: error.what, remedy: error.remedy) }
        return ConnectionPlan(venue: nil, url: url, sends: sends)
    }

    /// Builds the venue's real URL and subscription messages for `symbols` and `channels`.
    /// `url` overrides the endpoint (e.g. the local simulator): for Binance a bare `ws://HOST:PORT`
    /// gets the `/stream?streams=…` path added; `restBase` overrides where depth snapshots come from
    /// (default: the venue's REST host, or the same host and port as `url` when given).
    package static func venue(
        _ venue: Venue, symbols: [String], channels: [String], url: String? = nil,
        restBase: String? = nil
    ) throws(RecordError) -> ConnectionPlan {
        guard !symbols.isEmpty else {
            throw RecordError(.invalidArgument, what: "no symbols for \(venue.rawValue)", remedy: "give --symbols, e.g. BTCUSDT,ETHUSDT")
        }
        guard !channels.isEmpty else {
            throw RecordError(.invalidArgument, what: "no channels for \(venue.rawValue)", remedy: "give --channels, e.g. trade,depth")
        }
        for channel in channels where !venue.channels.contains(channel) {
            throw RecordError(
                .invalidArgument, what: "unknown channel \(channel) for \(venue.rawValue)",
                remedy: "use one of \(venue.channels.joined(separator: ", "))")
        }
        var base = url ?? venue.defaultURL
        let parsed: NetURL
        do { parsed = try NetURL(base) } catch { throw RecordError(.invalidArgument, place: base, what: error.what, remedy: error.remedy) }
        let hasPath = parsed.target != "/"
        switch venue {
        case .binance:
            var streams: [String] = []
            for symbol in symbols {
                let lowered = symbol.lowercased()
                for channel in channels {
                    switch channel {
                    case "trade": streams.append("\(lowered)@trade")
                    case "depth": streams.append("\(lowered)@depth@100ms")
                    case "aggTrade": streams.append("\(lowered)@aggTrade")
                    default: streams.append("\(lowered)@bookTicker")
                    }
                }
            }
            if !hasPath { base = parsed.with(scheme: parsed.scheme, target: "/stream?streams=" + streams.joined(separator: "/")).description }
            var snaps: [String] = []
            if channels.contains("depth") {
                let rest: String
                if let restBase {
                    rest = restBase
                } else if url != nil {
                    rest = parsed.with(scheme: parsed.isTLS ? "https" : "http", target: "").description
                } else {
                    rest = "https://api.binance.com"
                }
                let trimmed = rest.hasSuffix("/") ? String(rest.dropLast()) : rest
                snaps = symbols.map { "\(trimmed)/api/v3/depth?symbol=\($0.uppercased())&limit=1000" }
            }
            return ConnectionPlan(venue: venue, url: base, sends: [], snapshotURLs: snaps, subscriptions: streams)
        case .kraken:
            let pairs = symbols.map { JSONQuote.quote($0) }.joined(separator: ",")
            var sends: [String] = []
            var subs: [String] = []
            for channel in channels {
                let sub: String
                switch channel {
                case "trade": sub = #"{"name":"trade"}"#; subs.append("trade")
                case "depth", "book": sub = #"{"name":"book","depth":10}"#; subs.append("book-10")
                case "ohlc": sub = #"{"name":"ohlc","interval":1}"#; subs.append("ohlc-1")
                default: sub = #"{"name":"\#(channel)"}"#; subs.append(channel)
                }
                sends.append(#"{"event":"subscribe","pair":[\#(pairs)],"subscription":\#(sub)}"#)
            }
            return ConnectionPlan(venue: venue, url: base, sends: sends, subscriptions: subs.flatMap { s in symbols.map { "\(s):\($0)" } })
        case .coinbase:
            let ids = symbols.map { JSONQuote.quote($0) }.joined(separator: ",")
            var sends: [String] = []
            var subs: [String] = []
            for channel in channels {
                let name: String
                switch channel {
                case "trade": name = "market_trades"
                case "depth": name = "level2"
                default: name = channel
                }
                subs.append(name)
                sends.append(#"{"type":"subscribe","product_ids":[\#(ids)],"channel":"\#(name)"}"#)
            }
            return ConnectionPlan(venue: venue, url: base, sends: sends, subscriptions: subs.flatMap { s in symbols.map { "\(s):\($0)" } })
        }
    }
}

enum JSONQuote {
    static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }
}
