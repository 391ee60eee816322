#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the stream, symbol and event type a venue message names, by scanning its bytes for
/// the few keys the venues use, without parsing or allocating:
/// Binance (`stream`, `s`, `e`), Kraken v1 arrays (channel name and pair at the end),
/// Kraken v2 (`channel`, `symbol`), Coinbase (`channel`, `product_id`).
package struct PayloadFields {
    package var stream: UnsafeRawBufferPointer?
    package var symbol: UnsafeRawBufferPointer?
    package var event: UnsafeRawBufferPointer?

    package init(stream: UnsafeRawBufferPointer? = nil, symbol: UnsafeRawBufferPointer? = nil, event: UnsafeRawBufferPointer? = nil) {
        self.stream = stream
        self.symbol = symbol
        self.event = event
    }

    package var streamString: String? { stream.map { String(decoding: $0, as: UTF8.self) } }
    package var symbolString: String? { symbol.map { String(decoding: $0, as: UTF8.self) } }
    package var eventString: String? { event.map { String(decoding: $0, as: UTF8.self) } }

    package static func extract(_ p: UnsafeRawBufferPointer) -> PayloadFields {
        if let fields = binanceCombined(p) { return fields }
        return extractSearching(p)
    }

    /// Binance's combined stream in the venue's own layout, matched byte for byte without a
    /// search: `{"stream":"S","data":{"e":"E","E":<digits>,"s":"SYM"` (every trade, aggTrade and
    /// depth update Binance sends). Nil when the message is laid out in any other way; then
    /// `extractSearching` looks for the keys wherever they are.
    @inline(__always)
    static func binanceCombined(_ p: UnsafeRawBufferPointer) -> PayloadFields? {
        guard hasPrefix(p, 0, "{\"stream\":"), let stream = stringAt(p, 10) else { return nil }
        var pos = end(of: stream, in: p)
        guard hasPrefix(p, pos, ",\"data\":{\"e\":"), let event = stringAt(p, pos + 13) else { return nil }
        pos = end(of: event, in: p)
        guard hasPrefix(p, pos, ",\"E\":") else { return nil }
        pos = digitsEnd(p, from: pos + 5)
        guard hasPrefix(p, pos, ",\"s\":"), let symbol = stringAt(p, pos + 5) else { return nil }
        return PayloadFields(stream: stream, symbol: symbol, event: event)
    }

    /// Finds the keys wherever they are (any venue, any layout).
    static func extractSearching(_ p: UnsafeRawBufferPointer) -> PayloadFields {
        var fields = PayloadFields()
        guard let first = firstNonSpace(p) else { return fields }
        if p[first] == 91 {  // '[' — Kraken v1 data frame: [chanID, data..., "channelName", "PAIR"]
            if let (pair, before) = lastString(p, endingBefore: p.count) {
                fields.symbol = pair
                if let (chan, _) = lastString(p, endingBefore: before) { fields.stream = chan; fields.event = chan }
            }
            return fields
        }
        // Binance combined stream, the hot case: {"stream":"…","data":{"e":"…","E":…,"s":"…"
        // Keys are looked for in the venue's field order, each search starting where the last ended.
        if hasPrefix(p, first, Keys.streamPrefix) {
            let at = first + Keys.streamPrefix.count - 1
            if let stream = stringAt(p, at) {
                fields.stream = stream
                var pos = end(of: stream, in: p)
                if let event = stringValue(p, key: Keys.binanceEvent, from: pos) {
                    fields.event = event
                    pos = end(of: event, in: p)
                }
                fields.symbol = stringValue(p, key: Keys.binanceSymbol, from: pos) ?? stringValue(p, key: Keys.binanceSymbol)
                return fields
            }
        }
        if let stream = stringValue(p, key: Keys.stream) {  // Binance combined stream, other layouts
            fields.stream = stream
            fields.symbol = stringValue(p, key: Keys.binanceSymbol)
            fields.event = stringValue(p, key: Keys.binanceEvent)
            return fields
        }
        if let event = stringValue(p, key: Keys.binanceEvent) {  // Binance raw stream
            fields.event = event
            fields.symbol = stringValue(p, key: Keys.binanceSymbol, from: end(of: event, in: p)) ?? stringValue(p, key: Keys.binanceSymbol)
            return fields
        }
        if let channel = stringValue(p, key: Keys.channel) {  // Coinbase / Kraken v2
            fields.stream = channel
            fields.event = channel
            let pos = end(of: channel, in: p)
            fields.symbol = stringValue(p, key: Keys.productID, from: pos) ?? stringValue(p, key: Keys.symbol, from: pos)
            return fields
        }
        if let ev = stringValue(p, key: Keys.event) { fields.event = ev }  // Kraken v1 events
        fields.symbol = stringValue(p, key: Keys.productID) ?? stringValue(p, key: Keys.symbol)
        if let typeName = stringValue(p, key: Keys.type), fields.event == nil { fields.event = typeName }
        return fields
    }

    /// Whether `p` holds `prefix` at offset `at` (a literal: no global to initialise or retain).
    @inline(__always)
    static func hasPrefix(_ p: UnsafeRawBufferPointer, _ at: Int, _ prefix: StaticString) -> Bool {
        let length = prefix.utf8CodeUnitCount
        guard let base = p.baseAddress, at >= 0, p.count - at >= length else { return false }
        return memcmp(base + at, prefix.utf8Start, length) == 0
    }

    @inline(__always)
    static func hasPrefix(_ p: UnsafeRawBufferPointer, _ at: Int, _ prefix: [UInt8]) -> Bool {
        guard p.count - at >= prefix.count else { return false }
        return prefix.withUnsafeBytes { memcmp(p.baseAddress! + at, $0.baseAddress!, prefix.count) == 0 }
    }

    enum Keys {
        static let streamPrefix: [UInt8] = Array("{\"stream\":\"".utf8)
        static let stream: [UInt8] = Array("\"stream\":".utf8)
        static let binanceSymbol: [UInt8] = Array("\"s\":".utf8)
        static let binanceEvent: [UInt8] = Array("\"e\":".utf8)
        static let channel: [UInt8] = Array("\"channel\":".utf8)
        static let productID: [UInt8] = Array("\"product_id\":".utf8)
        static let symbol: [UInt8] = Array("\"symbol\":".utf8)
        static let event: [UInt8] = Array("\"event\":".utf8)
        static let type: [UInt8] = Array("\"type\":".utf8)
    }

    @inline(__always)
    static func firstNonSpace(_ p: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        while index < p.count, p[index] == 32 || p[index] == 10 || p[index] == 13 || p[index] == 9 { index += 1 }
        return index < p.count ? index : nil
    }

    /// Offset just after the first occurrence of `key` (which includes its quotes and colon),
    /// searching from `from`: `memchr` (vectorised in libc) for the first byte, then the second
    /// byte inline (keys start with a quote, which JSON has plenty of), `memcmp` for the rest.
    @inline(__always)
    package static func find(_ p: UnsafeRawBufferPointer, _ key: [UInt8], from: Int = 0) -> Int? {
        guard let base = p.baseAddress, from >= 0, p.count - from >= key.count, !key.isEmpty else { return nil }
        return key.withUnsafeBytes { keyBytes -> Int? in
            let keyLength = keyBytes.count
            let kb = keyBytes.baseAddress!
            let k0 = Int32(keyBytes[0])
            let k1 = keyLength > 1 ? keyBytes[1] : 0
            var index = from
            let last = p.count - keyLength
            while index <= last {
                guard let hit = memchr(base + index, k0, last - index + 1) else { return nil }
                let at = UnsafeRawPointer(hit) - base
                if keyLength == 1 || (base.load(fromByteOffset: at + 1, as: UInt8.self) == k1 && memcmp(base + at + 2, kb + 2, keyLength - 2) == 0) {
                    return at + keyLength
                }
                index = at + 1
            }
            return nil
        }
    }

    /// The string value of `key` (no escapes expected in venue identifiers), skipping spaces after the colon.
    package static func stringValue(_ p: UnsafeRawBufferPointer, key: [UInt8], from: Int = 0) -> UnsafeRawBufferPointer? {
        guard let valueStart = find(p, key, from: from) else { return nil }
        return stringAt(p, valueStart)
    }

    /// The string starting at offset `i` (after optional spaces), or nil (also when it holds a
    /// backslash: venue identifiers have no escapes).
    @inline(__always)
    static func stringAt(_ p: UnsafeRawBufferPointer, _ i0: Int) -> UnsafeRawBufferPointer? {
        var index = i0
        while index < p.count, p[index] == 32 { index += 1 }
        guard index < p.count, p[index] == 34 else { return nil }
        let start = index + 1
        guard let closing = closingQuote(p, from: start) else { return nil }
        return UnsafeRawBufferPointer(rebasing: p[start..<closing])
    }

    /// Offset of the first `"` at or after `from`, or nil when a `\` comes first or there is
    /// none. Eight bytes per step (a word compared against both bytes at once), the rest one by
    /// one: the byte loop cost ~8 instructions per byte of every stream, event and symbol name.
    @inline(__always)
    static func closingQuote(_ p: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = p.baseAddress, from >= 0 else { return nil }
        let count = p.count
        var cursor = from
        while count - cursor >= 8 {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: cursor, as: UInt64.self))
            let hits = zeroBytes(word ^ 0x2222_2222_2222_2222) | zeroBytes(word ^ 0x5c5c_5c5c_5c5c_5c5c)
            if hits != 0 {
                let at = cursor + hits.trailingZeroBitCount >> 3
                return base.load(fromByteOffset: at, as: UInt8.self) == 34 ? at : nil
            }
            cursor += 8
        }
        while cursor < count {
            let byte = base.load(fromByteOffset: cursor, as: UInt8.self)
            if byte == 34 { return cursor }
            if byte == 92 { return nil }
            cursor += 1
        }
        return nil
    }

    /// Offset of the first byte at or after `from` that is not an ASCII digit (`p.count` when
    /// all are), eight bytes per step.
    @inline(__always)
    package static func digitsEnd(_ p: UnsafeRawBufferPointer, from: Int) -> Int {
        guard let base = p.baseAddress, from >= 0 else { return from }
        let count = p.count
        var cursor = from
        while count - cursor >= 8 {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: cursor, as: UInt64.self))
            let nonDigits = nonDigitBytes(word)
            if nonDigits != 0 { return cursor + nonDigits.trailingZeroBitCount >> 3 }
            cursor += 8
        }
        while cursor < count {
            let byte = base.load(fromByteOffset: cursor, as: UInt8.self)
            guard byte >= 48, byte <= 57 else { return cursor }
            cursor += 1
        }
        return cursor
    }

    /// Nonzero bits in the bytes of `word` (little-endian) that are not ASCII digits, and the
    /// lowest of them in the first such byte: a digit is 0x30…0x39, so its high nibble is 3 and,
    /// plus 6, still 3. A byte's +6 carries into the next byte only from 0xFA…0xFF, which is
    /// itself a non-digit below it. Zero when all eight are digits (simdjson's test).
    @inline(__always)
    package static func nonDigitBytes(_ word: UInt64) -> UInt64 {
        let high = (word & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030
        let low = ((word &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030
        return high | low
    }

    /// The high bit of every zero byte of `word` set, and possibly of bytes above the lowest zero
    /// byte (a borrow), never below it: the lowest set bit marks the first zero byte exactly.
    @inline(__always)
    static func zeroBytes(_ word: UInt64) -> UInt64 {
        (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080
    }

    /// End offset of a string view inside `p`.
    @inline(__always)
    package static func end(of v: UnsafeRawBufferPointer, in p: UnsafeRawBufferPointer) -> Int {
        (v.baseAddress! - p.baseAddress!) + v.count + 1
    }

    /// The integer value of `key` (e.g. Binance `"u":160`), or nil.
    package static func intValue(_ p: UnsafeRawBufferPointer, key: [UInt8], from: Int = 0) -> Int64? {
        guard var index = find(p, key, from: from) else { return nil }
        while index < p.count, p[index] == 32 { index += 1 }
        var neg = false
        if index < p.count, p[index] == 45 { neg = true; index += 1 }
        var value: Int64 = 0
        var digits = 0
        while index < p.count, p[index] >= 48, p[index] <= 57, digits < 19 {
            value = value &* 10 &+ Int64(p[index] - 48)
            index += 1
            digits += 1
        }
        return digits > 0 ? (neg ? -value : value) : nil
    }

    /// Whether `p` is one whole JSON object or array, with nothing but white space around it:
    /// brackets balance outside strings, match in kind, and the outermost one closes at the end.
    /// A structural check (numbers and literals are not validated) that tells a frame cut short
    /// or spliced from a whole one, in one pass without allocating. The recorder reads no
    /// sequence number out of a frame that fails it.
    package static func isWholeJSON(_ p: UnsafeRawBufferPointer) -> Bool {
        guard let start = firstNonSpace(p), p[start] == 123 || p[start] == 91 else { return false }
        let count = p.count
        var depth = 0
        var kinds: UInt64 = 0  // one bit per open bracket of the 64 innermost levels: 1 = object
        var index = start
        while index < count {
            let byte = p[index]
            if byte == 34 {  // a string: skip to its closing quote
                index += 1
                while index < count, p[index] != 34 { index += p[index] == 92 ? 2 : 1 }
                guard index < count else { return false }
            } else if byte == 123 || byte == 91 {
                if depth < 64 { kinds = kinds << 1 | (byte == 123 ? 1 : 0) }
                depth += 1
            } else if byte == 125 || byte == 93 {
                guard depth > 0 else { return false }
                if depth <= 64 {
                    guard (kinds & 1 == 1) == (byte == 125) else { return false }
                    kinds >>= 1
                }
                depth -= 1
                if depth == 0 {
                    index += 1
                    while index < count, p[index] == 32 || p[index] == 10 || p[index] == 13 || p[index] == 9 { index += 1 }
                    return index == count
                }
            }
            index += 1
        }
        return false
    }

    /// The last JSON string that ends before `end`, and the offset of its opening quote.
    static func lastString(_ p: UnsafeRawBufferPointer, endingBefore end: Int) -> (UnsafeRawBufferPointer, Int)? {
        var closing = end - 1
        while closing >= 0, p[closing] != 34 { closing -= 1 }
        guard closing > 0 else { return nil }
        var opening = closing - 1
        while opening >= 0, p[opening] != 34 { opening -= 1 }
        guard opening >= 0 else { return nil }
        return (UnsafeRawBufferPointer(rebasing: p[(opening + 1)..<closing]), opening)
    }
}
