#if canImport(Glibc)
import Glibc
#endif
/// Expands a Kafka topic template with `{exchange}`, `{stream}` and `{type}` per message, with
/// a cache so that a message whose topic was seen before costs a hash and a compare, no allocation.
///
/// `{type}` is the data type of the K2 topic naming scheme (`market.{asset_class}.{data_type}.{exchange}`):
/// Binance `trade`/`aggTrade`, Kraken `trade`, Coinbase `market_trades` → `trades`;
/// Binance `depthUpdate`, Kraken `book…`, Coinbase `l2_data`/`level2` → `orderbook`;
/// anything with `ticker` → `ticker`; otherwise the event name itself (or `unknown`).
/// Characters Kafka does not allow in topic names become `_` (`btcusdt@trade` → `btcusdt_trade`).
package struct TopicTemplate: Sendable, Equatable {
    static let defaultTemplate = "market.crypto.{type}.{exchange}"

    enum Part: Sendable, Equatable {
        case text(String)
        case exchange, stream, type
    }
    let parts: [Part]
    let usesStream: Bool

    let template: String

    init(_ template: String = TopicTemplate.defaultTemplate) throws {
        self.template = template
        var parts: [Part] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { parts.append(.text(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw ReplayError(
                    .invalidArgument, place: "topic=\(template)", what: "unclosed '{' in the topic template",
                    remedy: "use {exchange}, {stream} or {type}")
            }
            switch rest[rest.index(after: open)..<close] {
            case "exchange": parts.append(.exchange)
            case "stream": parts.append(.stream)
            case "type": parts.append(.type)
            case let other:
                throw ReplayError(
                    .invalidArgument, place: "topic=\(template)", what: "unknown placeholder {\(other)} in the topic template",
                    remedy: "use {exchange}, {stream} or {type}")
            }
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        guard !template.isEmpty else {
            throw ReplayError(.invalidArgument, place: "topic=", what: "empty topic template", remedy: "e.g. topic=market.crypto.{type}.{exchange}")
        }
        self.parts = parts
        usesStream = parts.contains(.stream)
    }

    /// The `{type}` value for an event name.
    static func dataType(event: UnsafeRawBufferPointer?) -> String {
        guard let event, !event.isEmpty else { return "unknown" }
        let eventName = String(decoding: event, as: UTF8.self).lowercased()
        if eventName.contains("trade") { return "trades" }
        if eventName.contains("depth") || eventName.contains("book") || eventName.contains("level2") || eventName == "l2_data"
            || eventName == "l2update"
        {
            return "orderbook"
        }
        if eventName.contains("ticker") { return "ticker" }
        return eventName
    }

    /// The topic for one message.
    func expand(exchange: String, stream: UnsafeRawBufferPointer?, event: UnsafeRawBufferPointer?) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let text): out += text
            case .exchange: out += Self.sanitize(exchange)
            case .stream: out += Self.sanitize(stream.map { String(decoding: $0, as: UTF8.self) } ?? "unknown")
            case .type: out += Self.sanitize(Self.dataType(event: event))
            }
        }
        return out
    }

    static func sanitize(_ s: String) -> String {
        String(
            String.UnicodeScalarView(
                s.unicodeScalars.map { scalar in
                    ((scalar >= "0" && scalar <= "9") || (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "."
                        || scalar == "_" || scalar == "-") ? scalar : "_"
                }))
    }
}

/// Per-message topic lookup: hashes the bytes the template depends on and finds the cached
/// topic; expands (allocating) only for a combination not seen before. A template without
/// `{stream}` has a handful of topics (exchange × event): those are first looked for in a short
/// list by comparing the event bytes, without hashing (the hash and the dictionary were ~3% of a
/// Kafka replay's instructions).
struct TopicCache<Value> {
    struct Entry { var key: [UInt8]; var value: Value }
    private var table: [UInt64: [Entry]] = [:]
    let template: TopicTemplate
    /// Without `{stream}`: (exchange, event bytes, value) of up to `recentLimit` topics.
    private var recent: [(exchange: String, event: [UInt8], value: Value)] = []
    private static var recentLimit: Int { 8 }

    init(template: TopicTemplate) { self.template = template }

    mutating func lookup(
        exchange: String, stream: UnsafeRawBufferPointer?, event: UnsafeRawBufferPointer?,
        make: (String) -> Value?
    ) -> Value? {
        if !template.usesStream {
            if let value = recentValue(exchange: exchange, event: event) { return value }
            let value = hashedLookup(exchange: exchange, stream: nil, event: event, make: make)
            if let value, recent.count < Self.recentLimit { recent.append((exchange, event.map { Array($0) } ?? [], value)) }
            return value
        }
        return hashedLookup(exchange: exchange, stream: stream, event: event, make: make)
    }

    /// Without `{stream}`: the value of one of the recent topics, nil when none matches (then
    /// `lookup`). Lets a caller try the common case before making the `make` closure.
    @inline(__always)
    func recentValue(exchange: String, event: UnsafeRawBufferPointer?) -> Value? {
        guard !template.usesStream else { return nil }
        let eventLength = event?.count ?? 0
        for i in recent.indices where recent[i].event.count == eventLength && recent[i].exchange == exchange {
            if eventLength == 0 || recent[i].event.withUnsafeBytes({ memcmp($0.baseAddress!, event!.baseAddress!, eventLength) == 0 }) {
                return recent[i].value
            }
        }
        return nil
    }

    private mutating func hashedLookup(
        exchange: String, stream: UnsafeRawBufferPointer?, event: UnsafeRawBufferPointer?,
        make: (String) -> Value?
    ) -> Value? {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ b: UInt8) { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        for b in exchange.utf8 { mix(b) }
        mix(0)
        if template.usesStream, let stream { for b in stream { mix(b) } }
        mix(0)
        if let event { for b in event { mix(b) } }
        if let bucket = table[hash] {
            for e in bucket where Self.matches(e.key, exchange, template.usesStream ? stream : nil, event) { return e.value }
        }
        let name = template.expand(exchange: exchange, stream: stream, event: event)
        guard let value = make(name) else { return nil }
        var key = Array(exchange.utf8)
        key.append(0)
        if template.usesStream, let stream { key += stream }
        key.append(0)
        if let event { key += event }
        table[hash, default: []].append(Entry(key: key, value: value))
        return value
    }

    private static func matches(_ key: [UInt8], _ exchange: String, _ stream: UnsafeRawBufferPointer?, _ event: UnsafeRawBufferPointer?) -> Bool {
        var position = 0
        for b in exchange.utf8 { guard position < key.count, key[position] == b else { return false }; position += 1 }
        guard position < key.count, key[position] == 0 else { return false }
        position += 1
        if let stream { for b in stream { guard position < key.count, key[position] == b else { return false }; position += 1 } }
        guard position < key.count, key[position] == 0 else { return false }
        position += 1
        if let event { for b in event { guard position < key.count, key[position] == b else { return false }; position += 1 } }
        return position == key.count
    }
}
