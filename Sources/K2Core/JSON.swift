/// Writing JSON into byte buffers without Foundation, fast enough for per-record output.
package enum JSONText {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `bytes` as a JSON string (with quotes). Returns false, appending nothing,
    /// when the bytes are not valid UTF-8 (the caller then uses base64).
    @discardableResult
    package static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Bool {
        guard isValidUTF8(bytes) else { return false }
        out.append(34)
        var runStart = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            if c == 34 || c == 92 || c < 0x20 {
                if i > runStart { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])) }
                switch c {
                case 34: out.append(92); out.append(34)
                case 92: out.append(92); out.append(92)
                case 10: out.append(92); out.append(110)
                case 13: out.append(92); out.append(114)
                case 9: out.append(92); out.append(116)
                case 8: out.append(92); out.append(98)
                case 12: out.append(92); out.append(102)
                default:
                    out.append(contentsOf: [92, 117, 48, 48, hex[Int(c >> 4)], hex[Int(c & 15)]])
                }
                runStart = i + 1
            }
            i += 1
        }
        if n > runStart { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<n])) }
        out.append(34)
        return true
    }

    package static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        _ = s.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// A JSON string literal for `s`, quotes included.
    package static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        appendString(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    package static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        if v == 0 { out.append(48); return }
        var x = v.magnitude
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { buf in
            while x > 0 {
                buf[n] = UInt8(48 + x % 10)
                x /= 10
                n += 1
            }
            if v < 0 { out.append(45) }
            while n > 0 {
                n -= 1
                out.append(buf[n])
            }
        }
    }

    /// Validates UTF-8 (no overlongs, no surrogates), with an ASCII fast path.
    package static func isValidUTF8(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = b.count
        while i < n {
            // ASCII fast path, 8 bytes at a time.
            while i + 8 <= n {
                let w = b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if w & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            if i >= n { break }
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            var need = 0
            var minCode: UInt32 = 0
            var code: UInt32
            if c & 0xE0 == 0xC0 { need = 1; code = UInt32(c & 0x1F); minCode = 0x80 }
            else if c & 0xF0 == 0xE0 { need = 2; code = UInt32(c & 0x0F); minCode = 0x800 }
            else if c & 0xF8 == 0xF0 { need = 3; code = UInt32(c & 0x07); minCode = 0x10000 }
            else { return false }
            guard i + need < n else { return false }
            for k in 1...need {
                let cc = b[i + k]
                guard cc & 0xC0 == 0x80 else { return false }
                code = (code << 6) | UInt32(cc & 0x3F)
            }
            if code < minCode || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF) { return false }
            i += need + 1
        }
        return true
    }
}

/// A parsed JSON value. Numbers keep their source text so that no precision is lost
/// (nanosecond timestamps, exchange ids); object keys keep their order.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    package subscript(key: String) -> JSONValue? {
        if case let .object(pairs) = self { return pairs.first(where: { $0.0 == key })?.1 }
        return nil
    }

    package var stringValue: String? { if case let .string(s) = self { return s }; return nil }
    package var numberText: String? { if case let .number(s) = self { return s }; return nil }
    package var int64Value: Int64? {
        switch self {
        case let .number(s): return Int64(s)
        case let .string(s): return Int64(s)
        default: return nil
        }
    }
    package var doubleValue: Double? {
        switch self {
        case let .number(s): return Double(s)
        case let .string(s): return Double(s)
        default: return nil
        }
    }
    package var arrayValue: [JSONValue]? { if case let .array(a) = self { return a }; return nil }

    /// Serialises back to compact JSON text.
    package func serialized() -> String {
        var out: [UInt8] = []
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    package func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: Array("null".utf8))
        case let .bool(b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case let .number(s): out.append(contentsOf: Array(s.utf8))
        case let .string(s): JSONText.appendString(s, to: &out)
        case let .array(a):
            out.append(91)
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(44) }
                v.write(to: &out)
            }
            out.append(93)
        case let .object(pairs):
            out.append(123)
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out.append(44) }
                JSONText.appendString(k, to: &out)
                out.append(58)
                v.write(to: &out)
            }
            out.append(125)
        }
    }
}

/// Why a JSON text could not be parsed, with the byte offset.
package struct JSONParseError: Error, CustomStringConvertible, Sendable {
    package let offset: Int
    package let reason: String
    package init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
    package var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// A small strict JSON parser (RFC 8259) over bytes.
package struct JSONParser {
    private let b: UnsafeRawBufferPointer
    private var i = 0
    private var depth = 0

    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var p = JSONParser(b: bytes)
        p.skipWS()
        let v = try p.value()
        p.skipWS()
        guard p.i == bytes.count else { throw JSONParseError(offset: p.i, reason: "unexpected text after the value") }
        return v
    }

    package static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var t = text
        let result: Result<JSONValue, JSONParseError> = t.withUTF8 { buf in
            do throws(JSONParseError) { return .success(try parse(UnsafeRawBufferPointer(buf))) } catch { return .failure(error) }
        }
        return try result.get()
    }

    package static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { buf in
            do throws(JSONParseError) { return .success(try parse(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private init(b: UnsafeRawBufferPointer) { self.b = b }

    private mutating func skipWS() {
        while i < b.count, b[i] == 32 || b[i] == 9 || b[i] == 10 || b[i] == 13 { i += 1 }
    }

    private func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: i, reason: reason) }

    private mutating func value() throws(JSONParseError) -> JSONValue {
        guard i < b.count else { throw fail("unexpected end of input") }
        switch b[i] {
        case 123: return try object()
        case 91: return try array()
        case 34: return .string(try string())
        case 116: try literal("true"); return .bool(true)
        case 102: try literal("false"); return .bool(false)
        case 110: try literal("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw fail("unexpected end of input") }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { throw fail("unexpected character") }
        i += n
    }

    private mutating func object() throws(JSONParseError) -> JSONValue {
        depth += 1
        guard depth < 512 else { throw fail("nesting too deep") }
        defer { depth -= 1 }
        i += 1
        var pairs: [(String, JSONValue)] = []
        skipWS()
        if i < b.count, b[i] == 125 { i += 1; return .object(pairs) }
        while true {
            skipWS()
            guard i < b.count, b[i] == 34 else { throw fail("expected a string key") }
            let k = try string()
            skipWS()
            guard i < b.count, b[i] == 58 else { throw fail("expected ':'") }
            i += 1
            skipWS()
            let v = try value()
            pairs.append((k, v))
            skipWS()
            guard i < b.count else { throw fail("unexpected end of input in object") }
            if b[i] == 44 { i += 1; continue }
            if b[i] == 125 { i += 1; return .object(pairs) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array() throws(JSONParseError) -> JSONValue {
        depth += 1
        guard depth < 512 else { throw fail("nesting too deep") }
        defer { depth -= 1 }
        i += 1
        var items: [JSONValue] = []
        skipWS()
        if i < b.count, b[i] == 93 { i += 1; return .array(items) }
        while true {
            skipWS()
            items.append(try value())
            skipWS()
            guard i < b.count else { throw fail("unexpected end of input in array") }
            if b[i] == 44 { i += 1; continue }
            if b[i] == 93 { i += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func number() throws(JSONParseError) -> String {
        let start = i
        if i < b.count, b[i] == 45 { i += 1 }
        var digits = 0
        while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1; digits += 1 }
        guard digits > 0 else { throw fail("unexpected character") }
        if i < b.count, b[i] == 46 {
            i += 1
            var f = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1; f += 1 }
            guard f > 0 else { throw fail("digits expected after '.'") }
        }
        if i < b.count, b[i] == 101 || b[i] == 69 {
            i += 1
            if i < b.count, b[i] == 43 || b[i] == 45 { i += 1 }
            var e = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1; e += 1 }
            guard e > 0 else { throw fail("digits expected in exponent") }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= b.count else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 97...102: d = UInt32(c - 87)
            case 65...70: d = UInt32(c - 55)
            default: throw fail("bad \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    private mutating func string() throws(JSONParseError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < b.count, b[i] != 34, b[i] != 92, b[i] >= 0x20 { i += 1 }
        guard i < b.count else { throw fail("unterminated string") }
        if b[i] == 34 {
            let s = UnsafeRawBufferPointer(rebasing: b[start..<i])
            guard JSONText.isValidUTF8(s) else { throw fail("string is not valid UTF-8") }
            i += 1
            return String(decoding: s, as: UTF8.self)
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: b[start..<i]))
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            if c == 34 { i += 1; break }
            if c < 0x20 { throw fail("control character in string") }
            if c != 92 { out.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw fail("unterminated escape") }
            let e = b[i]
            i += 1
            switch e {
            case 34: out.append(34)
            case 92: out.append(92)
            case 47: out.append(47)
            case 98: out.append(8)
            case 102: out.append(12)
            case 110: out.append(10)
            case 114: out.append(13)
            case 116: out.append(9)
            case 117:
                var cp = try hex4()
                if cp >= 0xD800 && cp < 0xDC00 {
                    guard i + 6 <= b.count, b[i] == 92, b[i + 1] == 117 else { throw fail("lone surrogate") }
                    i += 2
                    let lo = try hex4()
                    guard lo >= 0xDC00 && lo < 0xE000 else { throw fail("bad surrogate pair") }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                } else if cp >= 0xDC00 && cp < 0xE000 {
                    throw fail("lone surrogate")
                }
                appendUTF8(cp, &out)
            default: throw fail("bad escape")
            }
        }
        guard out.withUnsafeBytes({ JSONText.isValidUTF8($0) }) else { throw fail("string is not valid UTF-8") }
        return String(decoding: out, as: UTF8.self)
    }

    private func appendUTF8(_ cp: UInt32, _ out: inout [UInt8]) {
        switch cp {
        case 0..<0x80: out.append(UInt8(cp))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (cp >> 6))); out.append(UInt8(0x80 | (cp & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (cp >> 12))); out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (cp >> 18))); out.append(UInt8(0x80 | ((cp >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F))); out.append(UInt8(0x80 | (cp & 0x3F)))
        }
    }
}
