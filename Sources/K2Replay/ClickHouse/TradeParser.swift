import K2Capture
import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes of a text field: a view into the payload (no copy) or an owned string.
enum FieldText {
    case view(UnsafeRawBufferPointer)
    case string(String)

    /// Calls `body` with the bytes (a copy of an owned string's only when it is not contiguous).
    @inline(__always)
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        switch self {
        case .view(let bytes): return body(bytes)
        case .string(var string): return string.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        }
    }
    var text: String {
        switch self {
        case .view(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .string(let string): return string
        }
    }
}

/// One trade in the MarketDataV2 shape.
struct TradeRow {
    enum Side { case buy, sell, unknown }
    var symbol: FieldText
    var timestampMillis: UInt64
    var price: Double
    var quantity: Double
    var side: Side
    var tradeID: FieldText
}

/// Finds the trades in a venue message: Binance `trade`/`aggTrade` (raw or combined stream),
/// Kraken v1 `trade` arrays (several trades per frame), Coinbase Advanced Trade `market_trades`
/// events, Coinbase Exchange (`ws-feed`) `match` and `last_match` messages.
/// Binance (the bulk of traffic) is scanned in place without allocating.
enum TradeParser {
    /// Messages the venues send besides trades that hold no trade (books, tickers, candles,
    /// heartbeats, acks): `mode=trades` has nothing to write for them and counts them as
    /// skipped. Anything else it cannot read is reported by kind (`unreadableKind`).
    static let knownWithoutTrades: Set<String> = [
        // Binance
        "depthUpdate", "kline", "24hrTicker", "24hrMiniTicker", "bookTicker",
        // Kraken v1 events (channel names are matched by prefix below) and v2 channels
        "heartbeat", "systemStatus", "subscriptionStatus", "pong", "status", "book", "instrument",
        // Coinbase Advanced Trade
        "l2_data", "level2", "heartbeats", "subscriptions", "ticker", "ticker_batch", "candles",
        // Coinbase Exchange (ws-feed)
        "l2update", "snapshot", "received", "open", "done", "change", "activate",
    ]

    /// Nil when a message that gave no trade row is one of the venues' messages without trades
    /// (see `knownWithoutTrades`); otherwise the kind to report it under: its event or channel
    /// name, or `"no type"`.
    static func unreadableKind(_ payload: UnsafeRawBufferPointer, fields: PayloadFields) -> String? {
        // The common case first, on the bytes: a known event (a third of Binance's messages are
        // depth updates) costs a length check and a compare, no String and no hash.
        if let eventBytes = fields.event, isKnownWithoutTrades(eventBytes) { return nil }
        guard let event = fields.eventString else {
            // A Binance stream without "e" (bookTicker) or a request's response {"result":…,"id":…}.
            if let stream = fields.streamString, stream.hasSuffix("@bookTicker") { return nil }
            if payload.starts(with: #"{"result":"#.utf8) { return nil }
            if payload.starts(with: #"{"u":"#.utf8) { return nil }  // raw bookTicker: {"u":…,"s":…,"b":…}
            return "no type"
        }
        if knownWithoutTrades.contains(event) { return nil }
        // Kraken v1 channel names carry their parameters: book-25, ohlc-1, spread.
        if event.hasPrefix("book-") || event.hasPrefix("ohlc-") || event == "spread" { return nil }
        return event
    }

    /// `knownWithoutTrades` as bytes (compared by length, then content).
    private static let knownWithoutTradesBytes: [[UInt8]] = knownWithoutTrades.map { Array($0.utf8) }

    /// Whether `event` is one of `knownWithoutTrades`, without making a String.
    @inline(__always)
    static func isKnownWithoutTrades(_ event: UnsafeRawBufferPointer) -> Bool {
        guard let eventBase = event.baseAddress else { return false }
        for name in knownWithoutTradesBytes where name.count == event.count {
            if name.withUnsafeBytes({ memcmp($0.baseAddress!, eventBase, event.count) == 0 }) { return true }
        }
        return false
    }

    /// Calls `row` for each trade in the message; returns how many.
    @discardableResult
    static func parse(_ payload: UnsafeRawBufferPointer, fields: PayloadFields, row: (TradeRow) -> Void) -> Int {
        guard let event = fields.event else { return 0 }
        if bytesEqual(event, "trade") || bytesEqual(event, "aggTrade") {
            if let first = payload.first(where: { $0 != 32 }), first == UInt8(ascii: "[") {
                return parseKraken(payload, row: row)
            }
            return parseBinance(payload, fields: fields, aggregate: event.count == 8, row: row) ? 1 : 0
        }
        if bytesEqual(event, "market_trades") { return parseCoinbase(payload, row: row) }
        if bytesEqual(event, "match") || bytesEqual(event, "last_match") { return parseCoinbaseExchange(payload, row: row) }
        return 0
    }

    @inline(__always)
    static func bytesEqual(_ b: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        guard b.count == s.utf8CodeUnitCount else { return false }
        let expected = s.utf8Start
        for i in 0..<b.count where b[i] != expected[i] { return false }
        return true
    }

    /// One pass over the message: every single-letter key (`"p":`, `"q":`, `"T":` …) is looked
    /// at once, other keys and string values are skipped whole (a key search per field cost a
    /// `memcmp` per quote, most of the sink's time). Nested objects (`"data":{…}`) are walked into.
    ///
    /// The pass starts after the symbol's value (Binance sends `e`, `E`, `s` first, the trade's
    /// fields after), and quotes are found eight bytes at a time; when something is missing
    /// there (another field order, `E` needed for want of `T`), the whole message is scanned.
    static func parseBinance(_ p: UnsafeRawBufferPointer, fields: PayloadFields, aggregate: Bool, row: (TradeRow) -> Void) -> Bool {
        guard let symbol = fields.symbol, let base = p.baseAddress else { return false }
        var start = 0
        if let symbolStart = symbol.baseAddress {
            let end = base.distance(to: symbolStart) + symbol.count + 1  // just past the symbol's closing quote
            if symbolStart > base, end < p.count { start = end }
        }
        if start > 0, parseBinance(p, from: start, symbol: symbol, aggregate: aggregate, complete: true, row: row) { return true }
        return parseBinance(p, from: 0, symbol: symbol, aggregate: aggregate, complete: false, row: row)
    }

    /// Scans from `from`; with `complete`, returns false without a row unless every field
    /// (price, quantity, trade time, id, side) was found.
    @inline(__always)
    static func parseBinance(
        _ p: UnsafeRawBufferPointer, from: Int, symbol: UnsafeRawBufferPointer, aggregate: Bool,
        complete: Bool, row: (TradeRow) -> Void
    ) -> Bool {
        let base = p.baseAddress!
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let length = p.count
        var price: UnsafeRawBufferPointer?
        var qty: UnsafeRawBufferPointer?
        var tradeTime: Int64?
        var eventTime: Int64?
        var idView = UnsafeRawBufferPointer(start: nil, count: 0)
        var side = TradeRow.Side.unknown
        let idKey: UInt8 = aggregate ? 97 : 116  // "a" / "t"
        var position = from
        while true {
            position = nextQuote(bytes, position, length)  // '"'
            guard position < length else { break }
            if position + 3 < length, bytes[position + 2] == 34, bytes[position + 3] == 58 {  // "k":
                let key = bytes[position + 1]
                var valueStart = position + 4
                while valueStart < length, bytes[valueStart] == 32 { valueStart += 1 }
                guard valueStart < length else { break }
                if bytes[valueStart] == 34 {
                    // A string value: find its end, keep it if it is one we want.
                    let valueEnd = closingQuote(bytes, valueStart + 1, length)
                    guard valueEnd < length else { break }
                    let text = UnsafeRawBufferPointer(start: base + valueStart + 1, count: valueEnd - valueStart - 1)
                    if key == 112 { price = text } else if key == 113 { qty = text }  // p, q
                    position = valueEnd + 1
                    continue
                }
                switch key {
                case 84: tradeTime = integer(bytes, valueStart, length)  // T
                case 69: eventTime = integer(bytes, valueStart, length)  // E
                case idKey:
                    let idEnd = PayloadFields.digitsEnd(p, from: valueStart)
                    idView = UnsafeRawBufferPointer(start: base + valueStart, count: idEnd - valueStart)
                case 109: side = bytes[valueStart] == 116 ? .sell : .buy  // m: buyer is maker → taker sold
                case 112: price = unquoted(base, valueStart, length)  // a bare number
                case 113: qty = unquoted(base, valueStart, length)
                default: break
                }
                position = valueStart
                continue
            }
            // Any other key or string: skip to its closing quote.
            position = closingQuote(bytes, position + 1, length) + 1
        }
        if complete, tradeTime == nil || idView.count == 0 || side == .unknown { return false }
        guard let pv = price.flatMap(decimal), let qv = qty.flatMap(decimal), let ts = tradeTime ?? eventTime else { return false }
        row(
            TradeRow(
                symbol: .view(symbol), timestampMillis: UInt64(max(0, ts)), price: pv, quantity: qv,
                side: side, tradeID: .view(idView)))
        return true
    }

    /// The offset of the quote that closes a string whose content starts at `i` (escapes skipped), or `n`.
    @inline(__always)
    static func closingQuote(_ b: UnsafePointer<UInt8>, _ i0: Int, _ n: Int) -> Int {
        var position = i0
        while true {
            position = nextQuote(b, position, n, orBackslash: true)
            guard position < n else { return n }
            if b[position] == 34 { return position }
            position += 2  // an escaped character
        }
    }

    /// The offset of the first `"` (or `\` with `orBackslash`) at or after `i0`, or `n`: eight
    /// bytes per step (a byte equals c where `(x - 0x01…) & ~x & 0x80…` flags a zero in `x = w ^ c…`;
    /// the lowest flag is always a true match), the tail byte by byte.
    @inline(__always)
    static func nextQuote(_ b: UnsafePointer<UInt8>, _ i0: Int, _ n: Int, orBackslash: Bool = false) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var position = i0
        while position &+ 8 <= n {
            let word = UnsafeRawPointer(b + position).loadUnaligned(as: UInt64.self).littleEndian
            let quotes = word ^ 0x2222_2222_2222_2222
            var matches = (quotes &- ones) & ~quotes & highs
            if orBackslash {
                let backslashes = word ^ 0x5c5c_5c5c_5c5c_5c5c
                matches |= (backslashes &- ones) & ~backslashes & highs
            }
            if matches != 0 { return position &+ (matches.trailingZeroBitCount &>> 3) }
            position &+= 8
        }
        while position < n {
            let byte = b[position]
            if byte == 34 || (orBackslash && byte == 92) { return position }
            position &+= 1
        }
        return n
    }

    @inline(__always)
    static func integer(_ b: UnsafePointer<UInt8>, _ i0: Int, _ n: Int) -> Int64? {
        var position = i0
        var neg = false
        if position < n, b[position] == 45 { neg = true; position += 1 }
        var value: Int64 = 0
        var digits = 0
        // Eight digits per step while 19 are not reached (wrapping, as the digit steps are).
        while digits <= 11, position &+ 8 <= n {
            let word = UnsafeRawPointer(b + position).loadUnaligned(as: UInt64.self).littleEndian
            guard isEightDigits(word) else { break }
            value = value &* 100_000_000 &+ Int64(eightDigitsValue(word))
            position &+= 8
            digits &+= 8
        }
        while position < n, b[position] >= 48, b[position] <= 57, digits < 19 {
            value = value &* 10 &+ Int64(b[position] - 48)
            position += 1
            digits += 1
        }
        return digits > 0 ? (neg ? -value : value) : nil
    }

    /// Whether all eight bytes of `word` (little-endian) are ASCII digits.
    @inline(__always)
    static func isEightDigits(_ word: UInt64) -> Bool { PayloadFields.nonDigitBytes(word) == 0 }

    /// The value of eight ASCII digits (`isEightDigits(word)`), first digit in the lowest byte:
    /// pairs, then quads, then the eight, in three multiplications (simdjson's).
    @inline(__always)
    static func eightDigitsValue(_ word: UInt64) -> UInt64 {
        var value = word &- 0x3030_3030_3030_3030
        value = (value &* 10) &+ (value >> 8)
        let mask: UInt64 = 0x0000_00FF_0000_00FF
        return ((value & mask) &* 0x000F_4240_0000_0064 &+ ((value >> 16) & mask) &* 0x0000_2710_0000_0001) >> 32
    }

    @inline(__always)
    static func unquoted(_ base: UnsafeRawPointer, _ v: Int, _ n: Int) -> UnsafeRawBufferPointer {
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var end = v
        while end < n, bytes[end] != 44, bytes[end] != 125, bytes[end] != 93 { end += 1 }
        return UnsafeRawBufferPointer(start: base + v, count: end - v)
    }

    /// `[chanID, [["price","volume","time","side","orderType","misc"], …], "trade", "PAIR"]`
    static func parseKraken(_ p: UnsafeRawBufferPointer, row: (TradeRow) -> Void) -> Int {
        guard let message = try? JSONParser.parse(p), let elements = message.arrayValue, elements.count >= 4,
            let trades = elements[1].arrayValue, let pair = elements[elements.count - 1].stringValue
        else { return 0 }
        var rows = 0
        for (i, trade) in trades.enumerated() {
            guard let fields = trade.arrayValue, fields.count >= 4, let price = fields[0].doubleValue, let qty = fields[1].doubleValue,
                let timeText = fields[2].stringValue ?? fields[2].numberText, let secs = Double(timeText)
            else { continue }
            let side: TradeRow.Side = fields[3].stringValue == "b" ? .buy : fields[3].stringValue == "s" ? .sell : .unknown
            let micros = timeText.filter { $0 != "." }
            row(
                TradeRow(
                    symbol: .string(pair), timestampMillis: UInt64((secs * 1000).rounded(.down)), price: price,
                    quantity: qty, side: side, tradeID: .string(trades.count > 1 ? "\(micros)-\(i)" : micros)))
            rows += 1
        }
        return rows
    }

    /// `{"channel":"market_trades","events":[{"trades":[{"trade_id","product_id","price","size","side","time"}]}]}`
    static func parseCoinbase(_ p: UnsafeRawBufferPointer, row: (TradeRow) -> Void) -> Int {
        guard let message = try? JSONParser.parse(p), let events = message["events"]?.arrayValue else { return 0 }
        var rows = 0
        for event in events {
            for trade in event["trades"]?.arrayValue ?? [] {
                guard let sym = trade["product_id"]?.stringValue, let price = trade["price"]?.doubleValue,
                    let qty = trade["size"]?.doubleValue, let time = trade["time"]?.stringValue,
                    let nanos = TimeText.parseISO8601(time)
                else { continue }
                let takerSide = trade["side"]?.stringValue?.lowercased()
                row(
                    TradeRow(
                        symbol: .string(sym), timestampMillis: UInt64(max(0, nanos / 1_000_000)), price: price,
                        quantity: qty, side: takerSide == "buy" ? .buy : takerSide == "sell" ? .sell : .unknown,
                        tradeID: .string(trade["trade_id"]?.stringValue ?? trade["trade_id"]?.numberText ?? "")))
                rows += 1
            }
        }
        return rows
    }

    /// Coinbase Exchange (`ws-feed`): `{"type":"match","trade_id":10,"sequence":50,
    /// "maker_order_id":"…","taker_order_id":"…","time":"2014-11-07T08:19:27.028459Z",
    /// "product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}`, and the same
    /// fields in the `last_match` sent after subscribing. `side` is the maker's order side (the
    /// venue's docs: "sell" means the maker sold, an up-tick), so the taker's side is the other.
    static func parseCoinbaseExchange(_ p: UnsafeRawBufferPointer, row: (TradeRow) -> Void) -> Int {
        guard let message = try? JSONParser.parse(p), let sym = message["product_id"]?.stringValue,
            let price = message["price"]?.doubleValue, let qty = message["size"]?.doubleValue,
            let time = message["time"]?.stringValue, let nanos = TimeText.parseISO8601(time)
        else { return 0 }
        let maker = message["side"]?.stringValue?.lowercased()
        row(
            TradeRow(
                symbol: .string(sym), timestampMillis: UInt64(max(0, nanos / 1_000_000)), price: price,
                quantity: qty, side: maker == "sell" ? .buy : maker == "buy" ? .sell : .unknown,
                tradeID: .string(message["trade_id"]?.numberText ?? message["trade_id"]?.stringValue ?? "")))
        return 1
    }

    /// Parses `123.456` exactly as strtod would when it has ≤ 15 significant digits and a small
    /// exponent (the fast path of correctly rounded decimal conversion); falls back to Double(String).
    @inline(__always)
    static func decimal(_ b: UnsafeRawBufferPointer) -> Double? {
        var mant: UInt64 = 0
        var digits = 0
        var frac = 0
        var seenDot = false
        var neg = false
        var position = 0
        if position < b.count, b[position] == 45 { neg = true; position += 1 }
        guard position < b.count else { return nil }
        while position < b.count {
            let byte = b[position]
            if byte >= 48, byte <= 57 {
                if mant == 0, byte == 48 { if seenDot { frac += 1 }; position += 1; continue }
                if digits >= 15 { return Double(String(decoding: b, as: UTF8.self)) }
                mant = mant * 10 + UInt64(byte - 48)
                digits += 1
                if seenDot { frac += 1 }
            } else if byte == 46, !seenDot {
                seenDot = true
            } else {
                return Double(String(decoding: b, as: UTF8.self))
            }
            position += 1
        }
        // Trailing zeros after the dot add no precision.
        while frac > 0, mant != 0, mant % 10 == 0 { mant /= 10; frac -= 1 }
        guard frac <= 22 else { return Double(String(decoding: b, as: UTF8.self)) }
        let value = Double(mant) / pow10[frac]
        return neg ? -value : value
    }

    static let pow10: [Double] = (0...22).map { e in
        var power = 1.0; for _ in 0..<e { power *= 10 }; return power
    }
}
