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
        var offset = 0
        let count = bytes.count
        while offset < count {
            let byte = bytes[offset]
            if byte == 34 || byte == 92 || byte < 0x20 {
                if offset > runStart { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<offset])) }
                switch byte {
                case 34: out.append(92); out.append(34)
                case 92: out.append(92); out.append(92)
                case 10: out.append(92); out.append(110)
                case 13: out.append(92); out.append(114)
                case 9: out.append(92); out.append(116)
                case 8: out.append(92); out.append(98)
                case 12: out.append(92); out.append(102)
                default:
                    out.append(contentsOf: [92, 117, 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
                }
                runStart = offset + 1
            }
            offset += 1
        }
        if count > runStart { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<count])) }
        out.append(34)
        return true
    }

    package static func appendString(_ s: String, to out: inout [UInt8]) {
        var text = s
        _ = text.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// A JSON string literal for `s`, quotes included.
    package static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        appendString(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    package static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        if v == 0 { out.append(48); return }
        var remaining = v.magnitude
        var tmp:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var digitCount = 0
        withUnsafeMutableBytes(of: &tmp) { buf in
            while remaining > 0 {
                buf[digitCount] = UInt8(48 + remaining % 10)
                remaining /= 10
                digitCount += 1
            }
            if v < 0 { out.append(45) }
            while digitCount > 0 {
                digitCount -= 1
                out.append(buf[digitCount])
            }
        }
    }

    /// Validates UTF-8 (no overlongs, no surrogates), with an ASCII fast path.
    package static func isValidUTF8(_ b: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        let count = b.count
        while offset < count {
            // ASCII fast path, 8 bytes at a time.
            while offset + 8 <= count {
                let word = b.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                offset += 8
            }
            if offset >= count { break }
            let lead = b[offset]
            if lead < 0x80 { offset += 1; continue }
            var need = 0
            var minCode: UInt32 = 0
            var code: UInt32
            if lead & 0xE0 == 0xC0 {
                need = 1; code = UInt32(lead & 0x1F); minCode = 0x80
            } else if lead & 0xF0 == 0xE0 {
                need = 2; code = UInt32(lead & 0x0F); minCode = 0x800
            } else if lead & 0xF8 == 0xF0 {
                need = 3; code = UInt32(lead & 0x07); minCode = 0x10000
            } else {
                return false
            }
            guard offset + need < count else { return false }
            for k in 1...need {
                let cc = b[offset + k]
                guard cc & 0xC0 == 0x80 else { return false }
                code = (code << 6) | UInt32(cc & 0x3F)
            }
            if code < minCode || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF) { return false }
            offset += need + 1
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
        case let (.bool(lhs), .bool(rhs)): return lhs == rhs
        case let (.number(lhs), .number(rhs)): return lhs == rhs
        case let (.string(lhs), .string(rhs)): return lhs == rhs
        case let (.array(lhs), .array(rhs)): return lhs == rhs
        case let (.object(lhsPairs), .object(rhsPairs)):
            return lhsPairs.count == rhsPairs.count && zip(lhsPairs, rhsPairs).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    package subscript(key: String) -> JSONValue? {
        if case let .object(pairs) = self { return pairs.first(where: { $0.0 == key })?.1 }
        return nil
    }

    package var stringValue: String? { if case let .string(text) = self { return text }; return nil }
    package var numberText: String? { if case let .number(text) = self { return text }; return nil }
    package var int64Value: Int64? {
        switch self {
        case let .number(text): return Int64(text)
        case let .string(text): return Int64(text)
        default: return nil
        }
    }
    package var doubleValue: Double? {
        switch self {
        case let .number(text): return Double(text)
        case let .string(text): return Double(text)
        default: return nil
        }
    }
    package var arrayValue: [JSONValue]? { if case let .array(elements) = self { return elements }; return nil }

    /// Serialises back to compact JSON text.
    package func serialized() -> String {
        var out: [UInt8] = []
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    package func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: Array("null".utf8))
        case let .bool(flag): out.append(contentsOf: Array((flag ? "true" : "false").utf8))
        case let .number(text): out.append(contentsOf: Array(text.utf8))
        case let .string(text): JSONText.appendString(text, to: &out)
        case let .array(elements):
            out.append(91)
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(44) }
                element.write(to: &out)
            }
            out.append(93)
        case let .object(pairs):
            out.append(123)
            for (i, (key, value)) in pairs.enumerated() {
                if i > 0 { out.append(44) }
                JSONText.appendString(key, to: &out)
                out.append(58)
                value.write(to: &out)
            }
            out.append(125)
        }
    }
}

/// A small strict JSON parser (RFC 8259) over bytes.
package struct JSONParser {
    private let input: UnsafeRawBufferPointer
    private var position = 0
    private var depth = 0

    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(CoreError) -> JSONValue {
        var parser = JSONParser(input: bytes)
        parser.skipWS()
        let parsed = try parser.value()
        parser.skipWS()
        guard parser.position == bytes.count else { throw CoreError.invalidJSON(offset: parser.position, reason: "unexpected text after the value") }
        return parsed
    }

    package static func parse(_ text: String) throws(CoreError) -> JSONValue {
        var utf8Text = text
        let result: Result<JSONValue, CoreError> = utf8Text.withUTF8 { buf in
            do throws(CoreError) { return .success(try parse(UnsafeRawBufferPointer(buf))) } catch { return .failure(error) }
        }
        return try result.get()
    }

    package static func parse(_ bytes: [UInt8]) throws(CoreError) -> JSONValue {
        let result: Result<JSONValue, CoreError> = bytes.withUnsafeBytes { buf in
            do throws(CoreError) { return .success(try parse(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private init(input: UnsafeRawBufferPointer) { self.input = input }

    private mutating func skipWS() {
        while position < input.count, input[position] == 32 || input[position] == 9 || input[position] == 10 || input[position] == 13 {
            position += 1
        }
    }

    private func fail(_ reason: String) -> CoreError { CoreError.invalidJSON(offset: position, reason: reason) }

    private mutating func value() throws(CoreError) -> JSONValue {
        guard position < input.count else { throw fail("unexpected end of input") }
        switch input[position] {
        case 123: return try object()
        case 91: return try array()
        case 34: return .string(try string())
        case 116: try literal("true"); return .bool(true)
        case 102: try literal("false"); return .bool(false)
        case 110: try literal("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func literal(_ word: StaticString) throws(CoreError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= input.count else { throw fail("unexpected end of input") }
        for k in 0..<count where input[position + k] != word.utf8Start[k] { throw fail("unexpected character") }
        position += count
    }

    private mutating func object() throws(CoreError) -> JSONValue {
        depth += 1
        guard depth < 512 else { throw fail("nesting too deep") }
        defer { depth -= 1 }
        position += 1
        var pairs: [(String, JSONValue)] = []
        skipWS()
        if position < input.count, input[position] == 125 { position += 1; return .object(pairs) }
        while true {
            skipWS()
            guard position < input.count, input[position] == 34 else { throw fail("expected a string key") }
            let key = try string()
            skipWS()
            guard position < input.count, input[position] == 58 else { throw fail("expected ':'") }
            position += 1
            skipWS()
            let member = try value()
            pairs.append((key, member))
            skipWS()
            guard position < input.count else { throw fail("unexpected end of input in object") }
            if input[position] == 44 { position += 1; continue }
            if input[position] == 125 { position += 1; return .object(pairs) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array() throws(CoreError) -> JSONValue {
        depth += 1
        guard depth < 512 else { throw fail("nesting too deep") }
        defer { depth -= 1 }
        position += 1
        var items: [JSONValue] = []
        skipWS()
        if position < input.count, input[position] == 93 { position += 1; return .array(items) }
        while true {
            skipWS()
            items.append(try value())
            skipWS()
            guard position < input.count else { throw fail("unexpected end of input in array") }
            if input[position] == 44 { position += 1; continue }
            if input[position] == 93 { position += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func number() throws(CoreError) -> String {
        let start = position
        if position < input.count, input[position] == 45 { position += 1 }
        var digits = 0
        while position < input.count, input[position] >= 48, input[position] <= 57 { position += 1; digits += 1 }
        guard digits > 0 else { throw fail("unexpected character") }
        if position < input.count, input[position] == 46 {
            position += 1
            var fractionDigits = 0
            while position < input.count, input[position] >= 48, input[position] <= 57 { position += 1; fractionDigits += 1 }
            guard fractionDigits > 0 else { throw fail("digits expected after '.'") }
        }
        if position < input.count, input[position] == 101 || input[position] == 69 {
            position += 1
            if position < input.count, input[position] == 43 || input[position] == 45 { position += 1 }
            var exponentDigits = 0
            while position < input.count, input[position] >= 48, input[position] <= 57 { position += 1; exponentDigits += 1 }
            guard exponentDigits > 0 else { throw fail("digits expected in exponent") }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: input[start..<position]), as: UTF8.self)
    }

    private mutating func hex4() throws(CoreError) -> UInt32 {
        guard position + 4 <= input.count else { throw fail("short \\u escape") }
        var scalar: UInt32 = 0
        for _ in 0..<4 {
            let byte = input[position]
            let digit: UInt32
            switch byte {
            case 48...57: digit = UInt32(byte - 48)
            case 97...102: digit = UInt32(byte - 87)
            case 65...70: digit = UInt32(byte - 55)
            default: throw fail("bad \\u escape")
            }
            scalar = scalar << 4 | digit
            position += 1
        }
        return scalar
    }

    private mutating func string() throws(CoreError) -> String {
        position += 1
        let start = position
        // Fast path: no escapes.
        while position < input.count, input[position] != 34, input[position] != 92, input[position] >= 0x20 { position += 1 }
        guard position < input.count else { throw fail("unterminated string") }
        if input[position] == 34 {
            let raw = UnsafeRawBufferPointer(rebasing: input[start..<position])
            guard JSONText.isValidUTF8(raw) else { throw fail("string is not valid UTF-8") }
            position += 1
            return String(decoding: raw, as: UTF8.self)
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: input[start..<position]))
        while true {
            guard position < input.count else { throw fail("unterminated string") }
            let byte = input[position]
            if byte == 34 { position += 1; break }
            if byte < 0x20 { throw fail("control character in string") }
            if byte != 92 { out.append(byte); position += 1; continue }
            position += 1
            guard position < input.count else { throw fail("unterminated escape") }
            let escaped = input[position]
            position += 1
            switch escaped {
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
                    guard position + 6 <= input.count, input[position] == 92, input[position + 1] == 117 else { throw fail("lone surrogate") }
                    position += 2
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
