/// Fixed-decimal number formatting straight into byte buffers, without Foundation: the same
/// integer always gives the same bytes, and it costs a few nanoseconds per number.
///
/// Numbers are integer mantissas with an implied scale: `append(123_450_000, scale: 8, digits: 8)`
/// writes `1.23450000`, `digits: 2` writes `1.23` (truncated), `trim: true` drops trailing zeros
/// (and the dot when nothing is left after it).
public enum DecimalText {
    @usableFromInline static let pow10: [Int64] = {
        var p: [Int64] = [1]
        for _ in 1...18 { p.append(p.last! * 10) }
        return p
    }()

    /// Appends `mantissa / 10^scale` with exactly `digits` fraction digits (digits ≤ scale:
    /// truncates; digits > scale: pads with zeros). `trim` removes trailing fraction zeros.
    @inlinable
    public static func append(_ mantissa: Int64, scale: Int, digits: Int, trim: Bool = false, to out: inout [UInt8]) {
        var m = mantissa
        if m < 0 { out.append(45); m = -m }
        var frac: Int64
        var intPart: Int64
        if digits <= scale {
            let drop = pow10[scale - digits]
            let unit = pow10[digits]
            let v = m / drop
            intPart = v / unit
            frac = v % unit
        } else {
            let unit = pow10[scale]
            intPart = m / unit
            frac = (m % unit) * pow10[digits - scale]
        }
        appendUInt(UInt64(intPart), to: &out)
        guard digits > 0 else { return }
        var n = digits
        if trim {
            while n > 0 && frac % 10 == 0 { frac /= 10; n -= 1 }
            if n == 0 { return }
        }
        out.append(46)
        // Write `n` digits of `frac`, zero-padded on the left.
        let start = out.count
        for _ in 0..<n { out.append(48) }
        var i = start + n - 1
        while frac > 0 {
            out[i] = UInt8(48 + frac % 10)
            frac /= 10
            i -= 1
        }
    }

    /// Appends a non-negative integer in decimal.
    @inlinable
    public static func appendUInt(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 { out.append(UInt8(48 + value)); return }
        var v = value
        var digits = 0
        var t = v
        while t > 0 { digits += 1; t /= 10 }
        let start = out.count
        for _ in 0..<digits { out.append(48) }
        var i = start + digits - 1
        while v > 0 {
            out[i] = UInt8(48 + v % 10)
            v /= 10
            i -= 1
        }
    }

    @inlinable
    public static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(45); appendUInt(value.magnitude, to: &out) } else { appendUInt(UInt64(value), to: &out) }
    }

    /// Appends `value` zero-padded to `width` digits.
    @inlinable
    public static func appendPadded(_ value: Int64, width: Int, to out: inout [UInt8]) {
        let start = out.count
        for _ in 0..<width { out.append(48) }
        var v = value
        var i = start + width - 1
        while v > 0 && i >= start {
            out[i] = UInt8(48 + v % 10)
            v /= 10
            i -= 1
        }
    }

    /// Convenience for tests and messages: the formatted text.
    public static func string(_ mantissa: Int64, scale: Int, digits: Int, trim: Bool = false) -> String {
        var out: [UInt8] = []
        append(mantissa, scale: scale, digits: digits, trim: trim, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Timestamp text the venues use, written into byte buffers (UTC, proleptic Gregorian).
public enum StampText {
    /// `2023-02-09T20:19:35.39625135Z` — RFC 3339 with up to 9 fraction digits, trailing zeros
    /// dropped (Go's RFC3339Nano, which Coinbase uses). `fractionDigits` caps the digits.
    public static func appendRFC3339(nanos: Int64, fractionDigits: Int = 9, trim: Bool = true, to out: inout [UInt8]) {
        let secs = floorDiv(nanos, 1_000_000_000)
        let frac = nanos - secs * 1_000_000_000
        let days = floorDiv(secs, 86_400)
        let sod = secs - days * 86_400
        let (y, m, d) = civil(days)
        DecimalText.appendPadded(y, width: 4, to: &out)
        out.append(45)
        DecimalText.appendPadded(m, width: 2, to: &out)
        out.append(45)
        DecimalText.appendPadded(d, width: 2, to: &out)
        out.append(84)
        DecimalText.appendPadded(sod / 3600, width: 2, to: &out)
        out.append(58)
        DecimalText.appendPadded((sod / 60) % 60, width: 2, to: &out)
        out.append(58)
        DecimalText.appendPadded(sod % 60, width: 2, to: &out)
        if fractionDigits > 0 {
            var f = frac / DecimalText.pow10[9 - fractionDigits]
            var n = fractionDigits
            if trim { while n > 0 && f % 10 == 0 { f /= 10; n -= 1 } }
            if n > 0 {
                out.append(46)
                DecimalText.appendPadded(f, width: n, to: &out)
            }
        }
        out.append(90)
    }

    public static func rfc3339(nanos: Int64, fractionDigits: Int = 9, trim: Bool = true) -> String {
        var out: [UInt8] = []
        appendRFC3339(nanos: nanos, fractionDigits: fractionDigits, trim: trim, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inlinable
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Howard Hinnant's civil_from_days.
    static func civil(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
