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
        case .cryptofeed: return "a cryptofeed line (`<unix seconds>: <message>`, `<url> <-> <seconds>`, `<url> <- <seconds>: <data>` or `<url> -> <seconds>: <body>`)"
        case .cryptofeedV3: return "a cryptofeed JSON record ({\"t\":\"recv\",\"conn\":…,\"ts\":<seconds>,\"data\":…})"
        case .tardis: return "a Tardis line (`<ISO-8601 time> <message>`, e.g. `2024-03-01T12:00:00.1234567Z {…}`)"
        case .ndjson: return "a `k2 capture cat` line ({\"kind\":\"recv\",\"ts_ns\":…,\"conn\":…,\"data\":…})"
        }
    }

    /// A best guess at the format of a line, to suggest the right `--format`.
    static func guess(_ line: UnsafeRawBufferPointer) -> ImportFormat? {
        let s = String(decoding: line.prefix(200), as: UTF8.self)
        if s.hasPrefix("{\"kind\":") { return .ndjson }
        if s.hasPrefix("{") && (s.contains("\"t\":") || s.contains("\"t\": ")) && s.contains("\"ts\"") { return .cryptofeedV3 }
        if s.hasPrefix("{\"t\":\"header\"") || s.hasPrefix("{\"t\": \"header\"") { return .cryptofeedV3 }
        if s.hasPrefix("configuration: ") { return .cryptofeed }
        if let sp = s.firstIndex(of: " "), TimeText.parseISO8601(String(s[..<sp])) != nil { return .tardis }
        let b = Array(s.utf8)
        var i = 0
        while i < b.count, (b[i] >= 48 && b[i] <= 57) || b[i] == 46 { i += 1 }
        if i > 0, i + 1 < b.count, b[i] == 58, b[i + 1] == 32 { return .cryptofeed }
        if s.contains(" <-> ") || s.contains(" <- ") || s.contains(" -> ") { return .cryptofeed }
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
        var i = 0
        let n = b.count
        guard n > 0 else { return nil }
        var neg = false
        if b[0] == 45 || b[0] == 43 { neg = b[0] == 45; i = 1 }
        // Collect all significant digits and the position of the decimal point.
        var digits: [UInt8] = []
        digits.reserveCapacity(32)
        var pointAt: Int?
        var sawDigit = false
        while i < n {
            let c = b[i]
            if c >= 48 && c <= 57 {
                digits.append(c - 48)
                sawDigit = true
            } else if c == 46 && pointAt == nil {
                pointAt = digits.count
            } else {
                break
            }
            i += 1
        }
        guard sawDigit else { return nil }
        var exp = 0
        if i < n, b[i] == 101 || b[i] == 69 {
            i += 1
            var eneg = false
            if i < n, b[i] == 45 || b[i] == 43 { eneg = b[i] == 45; i += 1 }
            var e = 0
            var any = false
            while i < n, b[i] >= 48, b[i] <= 57, e < 10_000 {
                e = e * 10 + Int(b[i] - 48)
                i += 1
                any = true
            }
            guard any else { return nil }
            exp = eneg ? -e : e
        }
        guard i == n else { return nil }
        // value = 0.d1d2… × 10^(intDigits + exp) seconds; nanoseconds need 9 more places.
        let intDigits = (pointAt ?? digits.count) + exp + 9
        var v: Int64 = 0
        for k in 0..<max(intDigits, 0) {
            let d = k < digits.count ? Int64(digits[k]) : 0
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            v = a
        }
        return neg ? -v : v
    }

    package static func nanos(fromSeconds text: String) -> Int64? {
        var t = text
        return t.withUTF8 { nanos(fromSeconds: UnsafeRawBufferPointer($0)) }
    }
}
