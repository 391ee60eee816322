#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parsing and printing of times and durations as users type them on the command line.
package enum TimeText {
    /// Formats nanoseconds since the epoch as ISO-8601 UTC with nine fractional digits,
    /// e.g. `2023-11-14T22:13:20.123456789Z`.
    package static func iso8601(nanos: Int64, fractionDigits: Int = 9) -> String {
        var secs = nanos / 1_000_000_000
        var frac = nanos % 1_000_000_000
        if frac < 0 { frac += 1_000_000_000; secs -= 1 }
        let (y, m, d) = civilFromDays(Int64(floorDiv(secs, 86_400)))
        let sod = secs - floorDiv(secs, 86_400) * 86_400
        var out = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2))"
        if fractionDigits > 0 {
            var f = frac
            for _ in 0..<(9 - min(9, fractionDigits)) { f /= 10 }
            out += "." + pad(f, min(9, fractionDigits))
        }
        return out + "Z"
    }

    /// Parses ISO-8601 date-times: `2023-11-14T22:13:20Z`, fractional seconds up to 9 digits,
    /// `Z` or `±HH:MM`/`±HHMM` offsets, a space instead of `T`; a missing zone means UTC.
    /// Returns nil when the text is not such a time, or is outside the years 1678–2261.
    package static func parseISO8601(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func num(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let y = num(4), expect(45), let mo = num(2), expect(45), let d = num(2) else { return nil }
        guard (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var h: Int64 = 0, mi: Int64 = 0, s: Int64 = 0, frac: Int64 = 0
        if i < b.count {
            guard b[i] == 84 || b[i] == 32 || b[i] == 116 else { return nil }
            i += 1
            guard let hh = num(2), expect(58), let mm = num(2) else { return nil }
            h = hh; mi = mm
            if expect(58) {
                guard let ss = num(2) else { return nil }
                s = ss
                if i < b.count, b[i] == 46 || b[i] == 44 {
                    i += 1
                    var digits = 0
                    while i < b.count, b[i] >= 48, b[i] <= 57 {
                        if digits < 9 { frac = frac * 10 + Int64(b[i] - 48) }
                        digits += 1
                        i += 1
                    }
                    guard digits > 0 else { return nil }
                    if digits < 9 { for _ in digits..<9 { frac *= 10 } }    // more than 9 digits: truncated to ns
                }
            }
            guard h < 24, mi < 60, s < 61 else { return nil }
        }
        var offset: Int64 = 0
        if i < b.count {
            if b[i] == 90 || b[i] == 122 { i += 1 } else if b[i] == 43 || b[i] == 45 {
                let sign: Int64 = b[i] == 45 ? -1 : 1
                i += 1
                guard let oh = num(2) else { return nil }
                _ = expect(58)
                let om = num(2) ?? 0
                offset = sign * (oh * 3600 + om * 60)
            } else { return nil }
        }
        guard i == b.count else { return nil }
        // Int64 nanoseconds since 1970 reach from 1677 to 2262: nil outside them.
        guard (1678...2261).contains(y) else { return nil }
        let days = daysFromCivil(y, mo, d)
        let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset
        return secs * 1_000_000_000 + frac
    }

    /// Parses a duration such as `250ms`, `30s`, `1.5s`, `10m`, `2h`, `1h30m`, `1d`, `500us`, `100ns`.
    /// A bare number means seconds. Returns nil when the text is not a duration.
    package static func parseDuration(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard !b.isEmpty else { return nil }
        var i = 0
        var total: Double = 0
        var sawAny = false
        while i < b.count {
            let start = i
            while i < b.count, (b[i] >= 48 && b[i] <= 57) || b[i] == 46 { i += 1 }
            guard i > start, let value = Double(String(decoding: b[start..<i], as: UTF8.self)) else { return nil }
            let ustart = i
            while i < b.count, (b[i] >= 97 && b[i] <= 122) || b[i] == 181 || b[i] == 194 { i += 1 }
            let unit = String(decoding: b[ustart..<i], as: UTF8.self)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s", "": scale = 1e9
            case "m", "min": scale = 60e9
            case "h": scale = 3600e9
            case "d": scale = 86_400e9
            default: return nil
            }
            if unit.isEmpty && sawAny { return nil }
            total += value * scale
            sawAny = true
        }
        guard total.isFinite, total < 9.2e18 else { return nil }
        return Int64(total.rounded())
    }

    /// Formats a duration in nanoseconds for people: `850ns`, `12.3µs`, `4.56ms`, `1.23s`, `2m03s`, `1h02m`.
    package static func humanDuration(nanos: Int64) -> String {
        let n = Double(nanos)
        let a = abs(n)
        if a < 1e3 { return "\(nanos)ns" }
        if a < 1e6 { return fixed(n / 1e3, 1) + "µs" }
        if a < 1e9 { return fixed(n / 1e6, 2) + "ms" }
        if a < 60e9 { return fixed(n / 1e9, 2) + "s" }
        let secs = nanos / 1_000_000_000
        if secs < 3600 { return "\(secs / 60)m" + pad(secs % 60, 2) + "s" }
        return "\(secs / 3600)h" + pad(secs / 60 % 60, 2) + "m"
    }

    /// Fixed-point formatting without Foundation (`fixed(3.14159, 2) == "3.14"`).
    package static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let neg = value < 0 && scaled > 0
        let intPart = Int64(scaled / scale)
        var fracPart = Int64(scaled - Double(intPart) * scale)
        if fracPart < 0 { fracPart = 0 }
        var s = (neg ? "-" : "") + String(intPart)
        if digits > 0 { s += "." + pad(fracPart, digits) }
        return s
    }

    static func pad<T: BinaryInteger>(_ v: T, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    // Howard Hinnant's civil-from-days and days-from-civil algorithms.
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
    package static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

extension String {
    package func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
