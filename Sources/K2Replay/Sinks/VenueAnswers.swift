import K2Capture
import K2Core

/// The frames the `ws://` replay sink writes itself, as the venues write them (their public
/// WebSocket docs), and the per-client rewrites of replayed payloads.
enum VenueAnswers {
    // MARK: Binance

    /// `{"result":null,"id":1}`.
    static func binanceResult(id: String) -> [UInt8] { Array(#"{"result":null,"id":\#(id)}"#.utf8) }

    /// `{"result":["btcusdt@trade"],"id":3}`.
    static func binanceList(_ streams: [String], id: String) -> [UInt8] {
        var out = Array(#"{"result":["#.utf8)
        for (index, stream) in streams.enumerated() {
            if index > 0 { out.append(44) }
            JSONText.appendString(stream, to: &out)
        }
        out.append(contentsOf: #"],"id":\#(id)}"#.utf8)
        return out
    }

    /// `{"error":{"code":2,"msg":"Invalid request: unknown method"},"id":1}`.
    static func binanceError(_ message: String, id: String) -> [UInt8] {
        Array(#"{"error":{"code":2,"msg":\#(JSONText.quoted(message))},"id":\#(id)}"#.utf8)
    }

    /// `{"stream":"x","data":{…}}` → `{…}`, or nil when the payload is not in the wrapper.
    static func unwrapCombined(_ payload: [UInt8]) -> ArraySlice<UInt8>? {
        let key = Array(#","data":"#.utf8)
        guard payload.count > key.count + 2, payload.starts(with: Array(#"{"stream":"#.utf8)) else { return nil }
        for index in 0..<(payload.count - key.count) where payload[index] == key[0] && payload[index..<(index + key.count)].elementsEqual(key) {
            return payload[(index + key.count)..<(payload.count - 1)]
        }
        return nil
    }

    /// `{…}` → `{"stream":"btcusdt@trade","data":{…}}` (a raw capture replayed to a `/stream` client).
    static func wrapCombined(_ payload: [UInt8], stream: String) -> [UInt8] {
        var out = Array(#"{"stream":"#.utf8)
        JSONText.appendString(stream, to: &out)
        out.append(contentsOf: #","data":"#.utf8)
        out.append(contentsOf: payload)
        out.append(125)
        return out
    }

    // MARK: Kraken v1

    /// Sent on connect.
    static func krakenSystemStatus(connectionID: UInt64) -> [UInt8] {
        Array(#"{"connectionID":\#(connectionID),"event":"systemStatus","status":"online","version":"1.9.1"}"#.utf8)
    }

    static let krakenHeartbeat: [UInt8] = Array(#"{"event":"heartbeat"}"#.utf8)

    /// `{"event":"pong","reqid":42}` (reqid omitted when the ping had none).
    static func krakenPong(reqid: String?) -> [UInt8] {
        Array((reqid.map { #"{"event":"pong","reqid":\#($0)}"# } ?? #"{"event":"pong"}"#).utf8)
    }

    /// `{"channelID":100,"channelName":"trade","event":"subscriptionStatus","pair":"XBT/USD","status":"subscribed","subscription":{"name":"trade"}}`;
    /// book: `"channelName":"book-10"`, `"subscription":{"depth":10,"name":"book"}`.
    static func krakenStatus(channelID: Int, name: String, depth: Int?, pair: String, reqid: String?, subscribed: Bool) -> [UInt8] {
        let channelName = name == "book" ? "book-\(depth ?? 10)" : name
        let subscription = name == "book" ? #"{"depth":\#(depth ?? 10),"name":"book"}"# : #"{"name":\#(JSONText.quoted(name))}"#
        let reqidMember = reqid.map { #""reqid":\#($0),"# } ?? ""
        return Array((#"{"channelID":\#(channelID),"channelName":\#(JSONText.quoted(channelName)),"event":"subscriptionStatus","pair":\#(JSONText.quoted(pair)),"#
            + #"\#(reqidMember)"status":"\#(subscribed ? "subscribed" : "unsubscribed")","subscription":\#(subscription)}"#).utf8)
    }

    /// `{"errorMessage":"Subscription name invalid","event":"subscriptionStatus","pair":"XBT/USD","status":"error","subscription":{"name":"x"}}`.
    static func krakenError(_ message: String, name: String, pair: String?, reqid: String?) -> [UInt8] {
        let pairMember = pair.map { #""pair":\#(JSONText.quoted($0)),"# } ?? ""
        let reqidMember = reqid.map { #""reqid":\#($0),"# } ?? ""
        return Array(#"{"errorMessage":\#(JSONText.quoted(message)),"event":"subscriptionStatus",\#(pairMember)\#(reqidMember)"status":"error","subscription":{"name":\#(JSONText.quoted(name))}}"#.utf8)
    }

    /// `[123,…]` → `[channelID,…]`: the id the client's ack named instead of the recorded one.
    static func withKrakenChannelID(_ payload: [UInt8], _ channelID: Int) -> [UInt8] {
        guard payload.first == 91, let comma = payload.firstIndex(of: 44) else { return payload }
        return [91] + Array(String(channelID).utf8) + Array(payload[comma...])
    }

    // MARK: Coinbase Advanced Trade

    /// `{"channel":"subscriptions","timestamp":"…","sequence_num":N,"events":[{"subscriptions":{"market_trades":["BTC-USD"]}}]}`,
    /// listing every channel the client is subscribed to (`channel|PRODUCT` keys, `heartbeats`).
    static func coinbaseSubscriptions(keys: Set<String>, heartbeats: Bool, wallNanos: Int64, sequence: Int64) -> [UInt8] {
        var products: [String: [String]] = [:]
        for key in keys.sorted() {
            let parts = key.split(separator: "|", maxSplits: 1)
            guard parts.count == 2, parts[0] != "*" else { continue }
            products[String(parts[0]), default: []].append(String(parts[1]))
        }
        if heartbeats { products["heartbeats"] = ["heartbeats"] }
        var out = Array(#"{"channel":"subscriptions","timestamp":"\#(TimeText.iso8601(nanos: wallNanos))","sequence_num":\#(sequence),"events":[{"subscriptions":{"#.utf8)
        for (index, channel) in products.keys.sorted().enumerated() {
            if index > 0 { out.append(44) }
            JSONText.appendString(channel, to: &out)
            out.append(contentsOf: ":[".utf8)
            for (position, product) in (products[channel] ?? []).enumerated() {
                if position > 0 { out.append(44) }
                JSONText.appendString(product, to: &out)
            }
            out.append(93)
        }
        out.append(contentsOf: "}}]}".utf8)
        return out
    }

    /// `{"channel":"heartbeats","timestamp":"…","sequence_num":N,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":3049}]}`.
    static func coinbaseHeartbeat(counter: Int64, wallNanos: Int64, uptimeNanos: Int64, sequence: Int64) -> [UInt8] {
        let stamp = TimeText.iso8601(nanos: wallNanos)
        var spaced = Array(stamp.utf8.dropLast())   // "2023-06-23T20:31:56.121961769Z" → "2023-06-23 20:31:56.121961769"
        spaced[10] = 32
        let currentTime = String(decoding: spaced, as: UTF8.self) + " +0000 UTC m=+"
            + "\(uptimeNanos / 1_000_000_000)." + String(String(uptimeNanos % 1_000_000_000 + 1_000_000_000).dropFirst())
        return Array(#"{"channel":"heartbeats","timestamp":"\#(stamp)","sequence_num":\#(sequence),"events":[{"current_time":"\#(currentTime)","heartbeat_counter":\#(counter)}]}"#.utf8)
    }

    /// The payload with its `"sequence_num":N` replaced by `sequence`, or nil when it has none.
    static func withSequenceNumber(_ payload: [UInt8], _ sequence: Int64) -> [UInt8]? {
        let key = Array(#""sequence_num":"#.utf8)
        guard let valueStart = payload.withUnsafeBytes({ PayloadFields.find($0, key) }) else { return nil }
        var valueEnd = valueStart
        while valueEnd < payload.count, payload[valueEnd] >= 48, payload[valueEnd] <= 57 { valueEnd += 1 }
        guard valueEnd > valueStart else { return nil }
        return Array(payload[..<valueStart]) + Array(String(sequence).utf8) + Array(payload[valueEnd...])
    }
}
