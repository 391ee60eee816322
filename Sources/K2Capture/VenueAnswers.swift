import K2Core

/// The frames a venue's market-data WebSocket writes itself (acks, errors, status, heartbeats),
/// as the venues' package WebSocket docs show them, and the per-connection rewrites a venue
/// applies to data messages. The one place this knowledge lives: the simulated exchanges
/// (K2Sim's `BinanceProtocol`, `KrakenProtocol`, `CoinbaseProtocol`) and the `ws://` replay sink
/// (K2Replay's `WebSocketSink`) both answer through it; the requests they answer are parsed by
/// `VenueRequest`.
package enum VenueAnswers {
    /// What `venue` answers a frame that is no request it understands (not JSON, or none of its
    /// request shapes): Binance `{"error":{"code":3,"msg":"Invalid JSON"},"id":null}`, Kraken
    /// `{"errorMessage":"Malformed request","event":"error"}`, Coinbase `{"type":"error","message":"malformed request: …"}`.
    package static func malformedRequest(_ venue: Venue) -> [UInt8] {
        switch venue {
        case .binance: binanceError(code: 3, "Invalid JSON", id: "null")
        case .kraken: krakenEventError("Malformed request")
        case .coinbase: coinbaseError(#"malformed request: expected {"type":"subscribe","product_ids":[…],"channel":…}"#)
        }
    }

    // MARK: Binance

    /// `{"result":null,"id":1}`: SUBSCRIBE and UNSUBSCRIBE went through.
    package static func binanceResult(id: String) -> [UInt8] { Array(#"{"result":null,"id":\#(id)}"#.utf8) }

    /// `{"result":["btcusdt@trade"],"id":3}`: the answer to LIST_SUBSCRIPTIONS.
    package static func binanceList(_ streams: [String], id: String) -> [UInt8] {
        var out = Array(#"{"result":["#.utf8)
        appendList(streams, to: &out)
        out.append(contentsOf: #"],"id":\#(id)}"#.utf8)
        return out
    }

    /// `{"error":{"code":2,"msg":"Invalid request: unknown method"},"id":1}`; code 3 with
    /// `"id":null` for a frame that is not JSON.
    package static func binanceError(code: Int = 2, _ message: String, id: String) -> [UInt8] {
        Array(#"{"error":{"code":\#(code),"msg":\#(JSONText.quoted(message))},"id":\#(id)}"#.utf8)
    }

    /// `{"stream":"x","data":{…}}` → `{…}`, or nil when the payload is not in the combined-stream wrapper.
    package static func unwrapCombined(_ payload: [UInt8]) -> ArraySlice<UInt8>? {
        let key = Array(#","data":"#.utf8)
        guard payload.count > key.count + 2, payload.starts(with: Array(#"{"stream":"#.utf8)) else { return nil }
        guard let dataStart = payload.withUnsafeBytes({ PayloadFields.find($0, key) }) else { return nil }
        return payload[dataStart..<(payload.count - 1)]
    }

    /// `{…}` → `{"stream":"btcusdt@trade","data":{…}}`: a raw payload as a `/stream` connection gets it.
    package static func wrapCombined(_ payload: [UInt8], stream: String) -> [UInt8] {
        var out = Array(#"{"stream":"#.utf8)
        JSONText.appendString(stream, to: &out)
        out.append(contentsOf: #","data":"#.utf8)
        out.append(contentsOf: payload)
        out.append(UInt8(ascii: "}"))
        return out
    }

    // MARK: Kraken v1

    /// Sent on connect: `{"connectionID":…,"event":"systemStatus","status":"online","version":"1.9.1"}`.
    package static func krakenSystemStatus(connectionID: UInt64) -> [UInt8] {
        Array(#"{"connectionID":\#(connectionID),"event":"systemStatus","status":"online","version":"1.9.1"}"#.utf8)
    }

    /// `{"event":"heartbeat"}`, sent after about 1 s without other messages on a subscribed connection.
    package static let krakenHeartbeat: [UInt8] = Array(#"{"event":"heartbeat"}"#.utf8)

    /// The book depths Kraken v1 offers (`"subscription":{"name":"book","depth":N}`; 10 when omitted).
    package static let krakenBookDepths: Set<Int> = [10, 25, 100, 500, 1000]

    /// `{"event":"pong","reqid":42}` (reqid omitted when the ping had none).
    package static func krakenPong(reqid: String?) -> [UInt8] {
        Array((reqid.map { #"{"event":"pong","reqid":\#($0)}"# } ?? #"{"event":"pong"}"#).utf8)
    }

    /// `{"channelID":100,"channelName":"trade","event":"subscriptionStatus","pair":"XBT/USD","status":"subscribed","subscription":{"name":"trade"}}`;
    /// book: `"channelName":"book-10"`, `"subscription":{"depth":10,"name":"book"}` (depth 10 when the request named none).
    package static func krakenStatus(channelID: Int64, name: String, depth: Int?, pair: String, reqid: String?, subscribed: Bool) -> [UInt8] {
        let isBook = name == "book"
        let channelName = isBook ? "book-\(depth ?? 10)" : name
        return Array(
            (#"{"channelID":\#(channelID),"channelName":\#(JSONText.quoted(channelName)),"event":"subscriptionStatus","pair":\#(JSONText.quoted(pair)),"#
                + #"\#(reqidMember(reqid))"status":"\#(subscribed ? "subscribed" : "unsubscribed")","subscription":\#(krakenSubscription(name: name, depth: isBook ? depth ?? 10 : nil))}"#)
                .utf8)
    }

    /// A refused subscription: `{"errorMessage":"Subscription name invalid","event":"subscriptionStatus","pair":"XBT/USD","status":"error","subscription":{"name":"x"}}`
    /// (`"depth":N` in `subscription` when the refusal is about the depth).
    package static func krakenError(_ message: String, name: String, depth: Int? = nil, pair: String?, reqid: String?) -> [UInt8] {
        let pairMember = pair.map { #""pair":\#(JSONText.quoted($0)),"# } ?? ""
        return Array(
            (#"{"errorMessage":\#(JSONText.quoted(message)),"event":"subscriptionStatus",\#(pairMember)\#(reqidMember(reqid))"#
                + #""status":"error","subscription":\#(krakenSubscription(name: name, depth: depth))}"#).utf8)
    }

    /// A request that is no subscription: `{"errorMessage":"Unsupported event","event":"error"}`
    /// (`"reqid"` echoed when the request had one).
    package static func krakenEventError(_ message: String, reqid: String? = nil) -> [UInt8] {
        Array(#"{"errorMessage":\#(JSONText.quoted(message)),"event":"error"\#(reqid.map { #","reqid":\#($0)"# } ?? "")}"#.utf8)
    }

    /// `[123,…]` → `[channelID,…]`: a data message with the channel id this connection's ack named.
    package static func withKrakenChannelID(_ payload: [UInt8], _ channelID: Int64) -> [UInt8] {
        guard payload.first == UInt8(ascii: "["), let comma = payload.firstIndex(of: UInt8(ascii: ",")) else { return payload }
        return [UInt8(ascii: "[")] + Array(String(channelID).utf8) + Array(payload[comma...])
    }

    private static func reqidMember(_ reqid: String?) -> String { reqid.map { #""reqid":\#($0),"# } ?? "" }

    /// `{"depth":10,"name":"book"}` or `{"name":"trade"}`.
    private static func krakenSubscription(name: String, depth: Int?) -> String {
        (depth.map { #"{"depth":\#($0),"# } ?? "{") + #""name":\#(JSONText.quoted(name))}"#
    }

    // MARK: Coinbase Advanced Trade

    /// The ack Coinbase sends after every (un)subscribe, listing everything the connection is
    /// subscribed to, channels in name order, products in the order given (`heartbeats` lists
    /// `["heartbeats"]`):
    /// `{"channel":"subscriptions","client_id":"","timestamp":"…","sequence_num":N,"events":[{"subscriptions":{"market_trades":["BTC-USD"]}}]}`.
    package static func coinbaseSubscriptions(_ products: [String: [String]], nanos: Int64, sequence: Int64) -> [UInt8] {
        var out = coinbaseHead("subscriptions", nanos: nanos, sequence: sequence)
        out.append(contentsOf: #"[{"subscriptions":{"#.utf8)
        for (index, channel) in products.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(channel, to: &out)
            out.append(contentsOf: ":[".utf8)
            appendList(products[channel] ?? [], to: &out)
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: "}}]}".utf8)
        return out
    }

    /// Once a second on a connection subscribed to `heartbeats`:
    /// `{"channel":"heartbeats","client_id":"","timestamp":"…","sequence_num":N,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":3049}]}`
    /// (`m=+` is the server's uptime; the docs' example quotes the counter, the venue sends a number).
    package static func coinbaseHeartbeat(counter: Int64, nanos: Int64, uptimeNanos: Int64, sequence: Int64) -> [UInt8] {
        var out = coinbaseHead("heartbeats", nanos: nanos, sequence: sequence)
        // "2023-06-23T20:31:56.121961769Z" → "2023-06-23 20:31:56.121961769 +0000 UTC"
        var currentTime = Array(TimeText.iso8601(nanos: nanos).utf8.dropLast())
        currentTime[10] = UInt8(ascii: " ")
        out.append(contentsOf: #"[{"current_time":""#.utf8)
        out.append(contentsOf: currentTime)
        let uptimeFraction = String(String(uptimeNanos % 1_000_000_000 + 1_000_000_000).dropFirst())
        out.append(contentsOf: #" +0000 UTC m=+\#(uptimeNanos / 1_000_000_000).\#(uptimeFraction)","heartbeat_counter":\#(counter)}]}"#.utf8)
        return out
    }

    /// `{"type":"error","message":"…"}`: a request Coinbase refuses.
    package static func coinbaseError(_ message: String) -> [UInt8] {
        Array(#"{"type":"error","message":\#(JSONText.quoted(message))}"#.utf8)
    }

    /// Rewrites the `"sequence_num":N` of a Coinbase message to `sequence` (Coinbase numbers the
    /// messages of each connection 0, 1, 2, …, so a connection that gets a subset of a stream,
    /// or a control message in between, is renumbered). Returns false when `message` has none.
    @discardableResult
    package static func setCoinbaseSequence(_ sequence: Int64, in message: inout [UInt8]) -> Bool {
        guard let valueStart = message.withUnsafeBytes({ PayloadFields.find($0, coinbaseSequenceKey) }) else { return false }
        var valueEnd = valueStart
        while valueEnd < message.count, message[valueEnd] >= UInt8(ascii: "0"), message[valueEnd] <= UInt8(ascii: "9") { valueEnd += 1 }
        guard valueEnd > valueStart else { return false }
        message.replaceSubrange(valueStart..<valueEnd, with: Array(String(sequence).utf8))
        return true
    }

    private static let coinbaseSequenceKey = Array(#""sequence_num":"#.utf8)

    /// `{"channel":"…","client_id":"","timestamp":"…","sequence_num":N,"events":` (timestamps
    /// as Go's RFC3339Nano: trailing zeros of the fraction dropped).
    private static func coinbaseHead(_ channel: String, nanos: Int64, sequence: Int64) -> [UInt8] {
        Array(
            #"{"channel":\#(JSONText.quoted(channel)),"client_id":"","timestamp":"\#(TimeText.iso8601(nanos: nanos, trimZeros: true))","sequence_num":\#(sequence),"events":"#
                .utf8)
    }

    /// `"a","b"`.
    private static func appendList(_ items: [String], to out: inout [UInt8]) {
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(item, to: &out)
        }
    }
}
