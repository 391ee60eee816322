import K2Core

/// The foreign formats `k2 capture import` reads (see docs/capture-tools.md for each line format).
package enum ImportFormat: String, CaseIterable, Sendable {
    /// cryptofeed's text raw-data format (`AsyncFileCallback`): `URL <-> ts`, `URL <- ts: data`,
    /// `ts: data`, `URL -> ts: body`, after a `configuration: …` first line.
    case cryptofeed
    /// cryptofeed's JSON-lines recording (`capture.py`, header `{"t":"header","format":2,…}`).
    case cryptofeedV3 = "cryptofeed-v3"
    /// Tardis.dev raw replay files: `<ISO-8601 local time, 100 ns> <message>`; an empty line is a disconnect.
    case tardis
    /// What `k2 capture cat` prints.
    case ndjson

    /// What a line of this format looks like, for error messages.
    var expectation: String {
        switch self {
        case .cryptofeed:
            return
                "a cryptofeed line (`<unix seconds>: <message>`, `<url> <-> <seconds>`, `<url> <- <seconds>: <data>` or `<url> -> <seconds>: <body>`)"
        case .cryptofeedV3: return "a cryptofeed JSON record ({\"t\":\"recv\",\"conn\":…,\"ts\":<seconds>,\"data\":…})"
        case .tardis: return "a Tardis line (`<ISO-8601 time> <message>`, e.g. `2024-03-01T12:00:00.1234567Z {…}`)"
        case .ndjson: return "a `k2 capture cat` line ({\"kind\":\"recv\",\"ts_ns\":…,\"conn\":…,\"data\":…})"
        }
    }

    /// A best guess at the format of a line, to suggest the right `--format`.
    static func guess(_ line: UnsafeRawBufferPointer) -> ImportFormat? {
        let text = String(decoding: line.prefix(200), as: UTF8.self)
        if text.hasPrefix("{\"kind\":") { return .ndjson }
        if text.hasPrefix("{") && (text.contains("\"t\":") || text.contains("\"t\": ")) && text.contains("\"ts\"") { return .cryptofeedV3 }
        if text.hasPrefix("{\"t\":\"header\"") || text.hasPrefix("{\"t\": \"header\"") { return .cryptofeedV3 }
        if text.hasPrefix("configuration: ") { return .cryptofeed }
        if let sp = text.firstIndex(of: " "), TimeText.parseISO8601(String(text[..<sp])) != nil { return .tardis }
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count, (bytes[index] >= 48 && bytes[index] <= 57) || bytes[index] == 46 { index += 1 }
        if index > 0, index + 1 < bytes.count, bytes[index] == 58, bytes[index + 1] == 32 { return .cryptofeed }
        if text.contains(" <-> ") || text.contains(" <- ") || text.contains(" -> ") { return .cryptofeed }
        return nil
    }
}

/// Exact decimal time parsing: no `Double` on the way, so `1618678132.3681234` is
/// 1618678132368123400 ns exactly.
package enum DecimalTime {
    /// Parses decimal seconds (`1618678132.368`, `-1.5`, `1.618678132368e9`) into nanoseconds.
    /// Digits past the ninth decimal are dropped (truncated). Nil when it is not a number or
    /// does not fit.
    package static func nanos(fromSeconds b: UnsafeRawBufferPointer) -> Int64? {
        var index = 0
        let count = b.count
        guard count > 0 else { return nil }
        var neg = false
        if b[0] == 45 || b[0] == 43 { neg = b[0] == 45; index = 1 }
        // Collect all significant digits and the position of the decimal point.
        var digits: [UInt8] = []
        digits.reserveCapacity(32)
        var pointAt: Int?
        var sawDigit = false
        while index < count {
            let byte = b[index]
            if byte >= 48 && byte <= 57 {
                digits.append(byte - 48)
                sawDigit = true
            } else if byte == 46 && pointAt == nil {
                pointAt = digits.count
            } else {
                break
            }
            index += 1
        }
        guard sawDigit else { return nil }
        var exp = 0
        if index < count, b[index] == 101 || b[index] == 69 {
            index += 1
            var eneg = false
            if index < count, b[index] == 45 || b[index] == 43 { eneg = b[index] == 45; index += 1 }
            var exponentValue = 0
            var any = false
            while index < count, b[index] >= 48, b[index] <= 57, exponentValue < 10_000 {
                exponentValue = exponentValue * 10 + Int(b[index] - 48)
                index += 1
                any = true
            }
            guard any else { return nil }
            exp = eneg ? -exponentValue : exponentValue
        }
        guard index == count else { return nil }
        // value = 0.d1d2… × 10^(intDigits + exp) seconds; nanoseconds need 9 more places.
        let intDigits = (pointAt ?? digits.count) + exp + 9
        var result: Int64 = 0
        for k in 0..<max(intDigits, 0) {
            let digit = k < digits.count ? Int64(digits[k]) : 0
            let (shifted, o1) = result.multipliedReportingOverflow(by: 10)
            let (sum, o2) = shifted.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            result = sum
        }
        return neg ? -result : result
    }

    package static func nanos(fromSeconds text: String) -> Int64? {
        var utf8Text = text
        return utf8Text.withUTF8 { nanos(fromSeconds: UnsafeRawBufferPointer($0)) }
    }
}
