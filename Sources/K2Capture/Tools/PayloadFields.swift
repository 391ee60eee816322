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
        if let f = binanceCombined(p) { return f }
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
        pos += 5
        while pos < p.count, p[pos] >= 48, p[pos] <= 57 { pos += 1 }
        guard hasPrefix(p, pos, ",\"s\":"), let symbol = stringAt(p, pos + 5) else { return nil }
        return PayloadFields(stream: stream, symbol: symbol, event: event)
    }

    /// Finds the keys wherever they are (any venue, any layout).
    static func extractSearching(_ p: UnsafeRawBufferPointer) -> PayloadFields {
        var f = PayloadFields()
        guard let first = firstNonSpace(p) else { return f }
        if p[first] == 91 {   // '[' — Kraken v1 data frame: [chanID, data..., "channelName", "PAIR"]
            if let (pair, before) = lastString(p, endingBefore: p.count) {
                f.symbol = pair
                if let (chan, _) = lastString(p, endingBefore: before) { f.stream = chan; f.event = chan }
            }
            return f
        }
        // Binance combined stream, the hot case: {"stream":"…","data":{"e":"…","E":…,"s":"…"
        // Keys are looked for in the venue's field order, each search starting where the last ended.
        if hasPrefix(p, first, Keys.streamPrefix) {
            let at = first + Keys.streamPrefix.count - 1
            if let s = stringAt(p, at) {
                f.stream = s
                var pos = end(of: s, in: p)
                if let e = stringValue(p, key: Keys.e, from: pos) {
                    f.event = e
                    pos = end(of: e, in: p)
                }
                f.symbol = stringValue(p, key: Keys.s, from: pos) ?? stringValue(p, key: Keys.s)
                return f
            }
        }
        if let s = stringValue(p, key: Keys.stream) {           // Binance combined stream, other layouts
            f.stream = s
            f.symbol = stringValue(p, key: Keys.s)
            f.event = stringValue(p, key: Keys.e)
            return f
        }
        if let e = stringValue(p, key: Keys.e) {                // Binance raw stream
            f.event = e
            f.symbol = stringValue(p, key: Keys.s, from: end(of: e, in: p)) ?? stringValue(p, key: Keys.s)
            return f
        }
        if let c = stringValue(p, key: Keys.channel) {          // Coinbase / Kraken v2
            f.stream = c
            f.event = c
            let pos = end(of: c, in: p)
            f.symbol = stringValue(p, key: Keys.productID, from: pos) ?? stringValue(p, key: Keys.symbol, from: pos)
            return f
        }
        if let ev = stringValue(p, key: Keys.event) { f.event = ev }  // Kraken v1 events
        f.symbol = stringValue(p, key: Keys.productID) ?? stringValue(p, key: Keys.symbol)
        if let t = stringValue(p, key: Keys.type), f.event == nil { f.event = t }
        return f
    }

    /// Whether `p` holds `prefix` at offset `at` (a literal: no global to initialise or retain).
    @inline(__always)
    static func hasPrefix(_ p: UnsafeRawBufferPointer, _ at: Int, _ prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard let base = p.baseAddress, at >= 0, p.count - at >= n else { return false }
        return memcmp(base + at, prefix.utf8Start, n) == 0
    }

    @inline(__always)
    static func hasPrefix(_ p: UnsafeRawBufferPointer, _ at: Int, _ prefix: [UInt8]) -> Bool {
        guard p.count - at >= prefix.count else { return false }
        return prefix.withUnsafeBytes { memcmp(p.baseAddress! + at, $0.baseAddress!, prefix.count) == 0 }
    }

    enum Keys {
        static let streamPrefix: [UInt8] = Array("{\"stream\":\"".utf8)
        static let stream: [UInt8] = Array("\"stream\":".utf8)
        static let s: [UInt8] = Array("\"s\":".utf8)
        static let e: [UInt8] = Array("\"e\":".utf8)
        static let channel: [UInt8] = Array("\"channel\":".utf8)
        static let productID: [UInt8] = Array("\"product_id\":".utf8)
        static let symbol: [UInt8] = Array("\"symbol\":".utf8)
        static let event: [UInt8] = Array("\"event\":".utf8)
        static let type: [UInt8] = Array("\"type\":".utf8)
    }

    @inline(__always)
    static func firstNonSpace(_ p: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        while i < p.count, p[i] == 32 || p[i] == 10 || p[i] == 13 || p[i] == 9 { i += 1 }
        return i < p.count ? i : nil
    }

    /// Offset just after the first occurrence of `key` (which includes its quotes and colon),
    /// searching from `from`: `memchr` (vectorised in libc) for the first byte, then the second
    /// byte inline (keys start with a quote, which JSON has plenty of), `memcmp` for the rest.
    @inline(__always)
    package static func find(_ p: UnsafeRawBufferPointer, _ key: [UInt8], from: Int = 0) -> Int? {
        guard let base = p.baseAddress, from >= 0, p.count - from >= key.count, !key.isEmpty else { return nil }
        return key.withUnsafeBytes { k -> Int? in
            let n = k.count
            let kb = k.baseAddress!
            let k0 = Int32(k[0])
            let k1 = n > 1 ? k[1] : 0
            var i = from
            let last = p.count - n
            while i <= last {
                guard let hit = memchr(base + i, k0, last - i + 1) else { return nil }
                let at = UnsafeRawPointer(hit) - base
                if n == 1 || (base.load(fromByteOffset: at + 1, as: UInt8.self) == k1 && memcmp(base + at + 2, kb + 2, n - 2) == 0) {
                    return at + n
                }
                i = at + 1
            }
            return nil
        }
    }

    /// The string value of `key` (no escapes expected in venue identifiers), skipping spaces after the colon.
    package static func stringValue(_ p: UnsafeRawBufferPointer, key: [UInt8], from: Int = 0) -> UnsafeRawBufferPointer? {
        guard let i = find(p, key, from: from) else { return nil }
        return stringAt(p, i)
    }

    /// The string starting at offset `i` (after optional spaces), or nil.
    @inline(__always)
    static func stringAt(_ p: UnsafeRawBufferPointer, _ i0: Int) -> UnsafeRawBufferPointer? {
        var i = i0
        while i < p.count, p[i] == 32 { i += 1 }
        guard i < p.count, p[i] == 34 else { return nil }
        let start = i + 1
        var j = start
        while j < p.count, p[j] != 34 {
            if p[j] == 92 { return nil }
            j += 1
        }
        guard j < p.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: p[start..<j])
    }

    /// End offset of a string view inside `p`.
    @inline(__always)
    static func end(of v: UnsafeRawBufferPointer, in p: UnsafeRawBufferPointer) -> Int {
        (v.baseAddress! - p.baseAddress!) + v.count + 1
    }

    /// The integer value of `key` (e.g. Binance `"u":160`), or nil.
    package static func intValue(_ p: UnsafeRawBufferPointer, key: [UInt8], from: Int = 0) -> Int64? {
        guard var i = find(p, key, from: from) else { return nil }
        while i < p.count, p[i] == 32 { i += 1 }
        var neg = false
        if i < p.count, p[i] == 45 { neg = true; i += 1 }
        var v: Int64 = 0
        var digits = 0
        while i < p.count, p[i] >= 48, p[i] <= 57, digits < 19 {
            v = v &* 10 &+ Int64(p[i] - 48)
            i += 1
            digits += 1
        }
        return digits > 0 ? (neg ? -v : v) : nil
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
        var kinds: UInt64 = 0    // one bit per open bracket of the 64 innermost levels: 1 = object
        var i = start
        while i < count {
            let byte = p[i]
            if byte == 34 {                                  // a string: skip to its closing quote
                i += 1
                while i < count, p[i] != 34 { i += p[i] == 92 ? 2 : 1 }
                guard i < count else { return false }
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
                    i += 1
                    while i < count, p[i] == 32 || p[i] == 10 || p[i] == 13 || p[i] == 9 { i += 1 }
                    return i == count
                }
            }
            i += 1
        }
        return false
    }

    /// The last JSON string that ends before `end`, and the offset of its opening quote.
    static func lastString(_ p: UnsafeRawBufferPointer, endingBefore end: Int) -> (UnsafeRawBufferPointer, Int)? {
        var j = end - 1
        while j >= 0, p[j] != 34 { j -= 1 }
        guard j > 0 else { return nil }
        var i = j - 1
        while i >= 0, p[i] != 34 { i -= 1 }
        guard i >= 0 else { return nil }
        return (UnsafeRawBufferPointer(rebasing: p[(i + 1)..<j]), i)
    }
}
