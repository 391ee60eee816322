#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parsing and printing of times and durations as users type them on the command line.
package enum TimeText {
    /// Formats nanoseconds since the epoch as ISO-8601 UTC with nine fractional digits,
    /// e.g. `2023-11-14T22:13:20.123456789Z`. `trimZeros` drops the fraction's trailing zeros
    /// (and the dot when none are left), as Go's RFC3339Nano does: `2023-02-09T20:19:35.39625135Z`.
    package static func iso8601(nanos: Int64, fractionDigits: Int = 9, trimZeros: Bool = false) -> String {
        var secs = nanos / 1_000_000_000
        var frac = nanos % 1_000_000_000
        if frac < 0 { frac += 1_000_000_000; secs -= 1 }
        let (year, month, day) = civilFromDays(Int64(floorDiv(secs, 86_400)))
        let sod = secs - floorDiv(secs, 86_400) * 86_400
        var out = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2))"
        if fractionDigits > 0 {
            var fraction = frac
            var digits = min(9, fractionDigits)
            for _ in 0..<(9 - digits) { fraction /= 10 }
            if trimZeros { while digits > 0 && fraction % 10 == 0 { fraction /= 10; digits -= 1 } }
            if digits > 0 { out += "." + pad(fraction, digits) }
        }
        return out + "Z"
    }

    /// Parses ISO-8601 date-times: `2023-11-14T22:13:20Z`, fractional seconds up to 9 digits,
    /// `Z` or `±HH:MM`/`±HHMM` offsets, a space instead of `T`; a missing zone means UTC.
    /// Returns nil when the text is not such a time, or is outside the years 1678–2261.
    package static func parseISO8601(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        var index = 0
        func num(_ n: Int) -> Int64? {
            guard index + n <= bytes.count else { return nil }
            var value: Int64 = 0
            for k in 0..<n {
                let byte = bytes[index + k]
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            index += n
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == c else { return false }
            index += 1
            return true
        }
        guard let year = num(4), expect(45), let mo = num(2), expect(45), let day = num(2) else { return nil }
        guard (1...12).contains(mo), (1...31).contains(day) else { return nil }
        var hour: Int64 = 0, mi: Int64 = 0, second: Int64 = 0, frac: Int64 = 0
        if index < bytes.count {
            guard bytes[index] == 84 || bytes[index] == 32 || bytes[index] == 116 else { return nil }
            index += 1
            guard let hh = num(2), expect(58), let mm = num(2) else { return nil }
            hour = hh; mi = mm
            if expect(58) {
                guard let ss = num(2) else { return nil }
                second = ss
                if index < bytes.count, bytes[index] == 46 || bytes[index] == 44 {
                    index += 1
                    var digits = 0
                    while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                        if digits < 9 { frac = frac * 10 + Int64(bytes[index] - 48) }
                        digits += 1
                        index += 1
                    }
                    guard digits > 0 else { return nil }
                    if digits < 9 { for _ in digits..<9 { frac *= 10 } }  // more than 9 digits: truncated to ns
                }
            }
            guard hour < 24, mi < 60, second < 61 else { return nil }
        }
        var offset: Int64 = 0
        if index < bytes.count {
            if bytes[index] == 90 || bytes[index] == 122 {
                index += 1
            } else if bytes[index] == 43 || bytes[index] == 45 {
                let sign: Int64 = bytes[index] == 45 ? -1 : 1
                index += 1
                guard let oh = num(2) else { return nil }
                _ = expect(58)
                let om = num(2) ?? 0
                offset = sign * (oh * 3600 + om * 60)
            } else {
                return nil
            }
        }
        guard index == bytes.count else { return nil }
        // Int64 nanoseconds since 1970 reach from 1677 to 2262: nil outside them.
        guard (1678...2261).contains(year) else { return nil }
        let days = daysFromCivil(year, mo, day)
        let secs = days * 86_400 + hour * 3600 + mi * 60 + second - offset
        return secs * 1_000_000_000 + frac
    }

    /// Parses a duration such as `250ms`, `30s`, `1.5s`, `10m`, `2h`, `1h30m`, `1d`, `500us`, `100ns`.
    /// A bare number means seconds. Returns nil when the text is not a duration.
    package static func parseDuration(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var index = 0
        var total: Double = 0
        var sawAny = false
        while index < bytes.count {
            let start = index
            while index < bytes.count, (bytes[index] >= 48 && bytes[index] <= 57) || bytes[index] == 46 { index += 1 }
            guard index > start, let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else { return nil }
            let ustart = index
            while index < bytes.count, (bytes[index] >= 97 && bytes[index] <= 122) || bytes[index] == 181 || bytes[index] == 194 { index += 1 }
            let unit = String(decoding: bytes[ustart..<index], as: UTF8.self)
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
        let value = Double(nanos)
        let magnitude = abs(value)
        if magnitude < 1e3 { return "\(nanos)ns" }
        if magnitude < 1e6 { return fixed(value / 1e3, 1) + "µs" }
        if magnitude < 1e9 { return fixed(value / 1e6, 2) + "ms" }
        if magnitude < 60e9 { return fixed(value / 1e9, 2) + "s" }
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
        var text = (neg ? "-" : "") + String(intPart)
        if digits > 0 { text += "." + pad(fracPart, digits) }
        return text
    }

    static func pad<T: BinaryInteger>(_ v: T, _ width: Int) -> String {
        let digits = String(v)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    // Howard Hinnant's civil-from-days and days-from-civil algorithms.
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let year = m <= 2 ? y0 - 1 : y0
        let era = (year >= 0 ? year : year - 399) / 400
        let yoe = year - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
    package static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let days = z0 + 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let year = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (month <= 2 ? year + 1 : year, month, day)
    }
}

extension String {
    package func trimmingSpaces() -> String {
        var trimmed = Substring(self)
        while let first = trimmed.first, first.isWhitespace { trimmed = trimmed.dropFirst() }
        while let last = trimmed.last, last.isWhitespace { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }
}
