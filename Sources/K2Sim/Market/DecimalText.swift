import K2Core

/// Fixed-decimal number formatting straight into byte buffers, without Foundation: the same
/// integer always gives the same bytes, and it costs a few nanoseconds per number.
///
/// Numbers are integer mantissas with an implied scale: `append(123_450_000, scale: 8, digits: 8)`
/// writes `1.23450000`, `digits: 2` writes `1.23` (truncated), `trim: true` drops trailing zeros
/// (and the dot when nothing is left after it).
package enum DecimalText {
    @usableFromInline static let pow10: [Int64] = {
        var powers: [Int64] = [1]
        for _ in 1...18 { powers.append(powers.last! * 10) }
        return powers
    }()

    /// Appends `mantissa / 10^scale` with exactly `digits` fraction digits (digits ≤ scale:
    /// truncates; digits > scale: pads with zeros). `trim` removes trailing fraction zeros.
    /// Digits go to a stack buffer first, then into `out` in one append.
    @inlinable
    package static func append(_ mantissa: Int64, scale: Int, digits: Int, trim: Bool = false, to out: inout [UInt8]) {
        var remaining = mantissa.magnitude
        var frac: UInt64
        var intPart: UInt64
        if digits <= scale {
            let scaled = remaining / UInt64(pow10[scale - digits])
            let unit = UInt64(pow10[digits])
            intPart = scaled / unit
            frac = scaled % unit
        } else {
            let unit = UInt64(pow10[scale])
            intPart = remaining / unit
            frac = (remaining % unit) * UInt64(pow10[digits - scale])
        }
        var fractionCount = digits
        if trim {
            while fractionCount > 0 && frac % 10 == 0 { frac /= 10; fractionCount -= 1 }
        }
        remaining = intPart
        var buf: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &buf) { raw in
            let bytes = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            // Fill from the end: fraction digits, the dot, integer digits, the sign.
            var position = 47
            if fractionCount > 0 {
                for _ in 0..<fractionCount {
                    bytes[position] = UInt8(truncatingIfNeeded: 48 &+ frac % 10)
                    frac /= 10
                    position -= 1
                }
                bytes[position] = 46
                position -= 1
            }
            repeat {
                bytes[position] = UInt8(truncatingIfNeeded: 48 &+ remaining % 10)
                remaining /= 10
                position -= 1
            } while remaining > 0
            if mantissa < 0 { bytes[position] = 45; position -= 1 }
            out.append(contentsOf: UnsafeBufferPointer(start: bytes + position + 1, count: 47 - position))
        }
    }

    /// Appends a non-negative integer in decimal.
    @inlinable
    package static func appendUInt(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 { out.append(UInt8(truncatingIfNeeded: 48 &+ value)); return }
        var remaining = value
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &buf) { raw in
            let bytes = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var position = 23
            while remaining > 0 {
                bytes[position] = UInt8(truncatingIfNeeded: 48 &+ remaining % 10)
                remaining /= 10
                position -= 1
            }
            out.append(contentsOf: UnsafeBufferPointer(start: bytes + position + 1, count: 23 - position))
        }
    }

    @inlinable
    package static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(45); appendUInt(value.magnitude, to: &out) } else { appendUInt(UInt64(value), to: &out) }
    }

    /// Appends `value` zero-padded to `width` digits (width ≤ 20).
    @inlinable
    package static func appendPadded(_ value: Int64, width: Int, to out: inout [UInt8]) {
        var remaining = value.magnitude
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &buf) { raw in
            let bytes = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var position = 23
            for _ in 0..<width {
                bytes[position] = UInt8(truncatingIfNeeded: 48 &+ remaining % 10)
                remaining /= 10
                position -= 1
            }
            out.append(contentsOf: UnsafeBufferPointer(start: bytes + position + 1, count: width))
        }
    }

    /// Appends a static ASCII literal in one copy.
    @inlinable @inline(__always)
    package static func literal(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Convenience for tests and messages: the formatted text.
    package static func string(_ mantissa: Int64, scale: Int, digits: Int, trim: Bool = false) -> String {
        var out: [UInt8] = []
        append(mantissa, scale: scale, digits: digits, trim: trim, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Timestamp text the venues use, written into byte buffers (UTC, proleptic Gregorian).
package enum StampText {
    /// `2023-02-09T20:19:35.39625135Z` — RFC 3339 with up to 9 fraction digits, trailing zeros
    /// dropped (Go's RFC3339Nano, which Coinbase uses). `fractionDigits` caps the digits.
    static func appendRFC3339(nanos: Int64, fractionDigits: Int = 9, trim: Bool = true, to out: inout [UInt8]) {
        let secs = floorDiv(nanos, 1_000_000_000)
        let frac = nanos - secs * 1_000_000_000
        let days = floorDiv(secs, 86_400)
        let sod = secs - days * 86_400
        let (year, month, day) = civil(days)
        DecimalText.appendPadded(year, width: 4, to: &out)
        out.append(45)
        DecimalText.appendPadded(month, width: 2, to: &out)
        out.append(45)
        DecimalText.appendPadded(day, width: 2, to: &out)
        out.append(84)
        DecimalText.appendPadded(sod / 3600, width: 2, to: &out)
        out.append(58)
        DecimalText.appendPadded((sod / 60) % 60, width: 2, to: &out)
        out.append(58)
        DecimalText.appendPadded(sod % 60, width: 2, to: &out)
        appendFractionAndZ(frac, fractionDigits: fractionDigits, trim: trim, to: &out)
    }

    /// The same as `appendRFC3339`, reusing the `YYYY-MM-DDThh:mm:ss` prefix of the previous
    /// call in `cache` when the second is the same (encoders write many stamps per second).
    static func appendRFC3339(nanos: Int64, fractionDigits: Int = 9, trim: Bool = true, cache: inout StampCache, to out: inout [UInt8]) {
        let secs = floorDiv(nanos, 1_000_000_000)
        if secs != cache.second || cache.prefix.isEmpty { cache.refresh(second: secs) }
        out.append(contentsOf: cache.prefix)
        let frac = nanos - secs * 1_000_000_000
        appendFractionAndZ(frac, fractionDigits: fractionDigits, trim: trim, to: &out)
    }

    /// `.ffffff` (the first `fractionDigits` of the nanoseconds `frac`, trailing zeros cut when
    /// `trim`, nothing when they are all cut) and the closing `Z`.
    @inline(__always)
    static func appendFractionAndZ(_ frac: Int64, fractionDigits: Int, trim: Bool, to out: inout [UInt8]) {
        if fractionDigits > 0 {
            var fraction = frac / DecimalText.pow10[9 - fractionDigits]
            var fractionCount = fractionDigits
            if trim { while fractionCount > 0 && fraction % 10 == 0 { fraction /= 10; fractionCount -= 1 } }
            if fractionCount > 0 {
                out.append(46)
                DecimalText.appendPadded(fraction, width: fractionCount, to: &out)
            }
        }
        out.append(90)
    }

    package static func rfc3339(nanos: Int64, fractionDigits: Int = 9, trim: Bool = true) -> String {
        var out: [UInt8] = []
        appendRFC3339(nanos: nanos, fractionDigits: fractionDigits, trim: trim, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inlinable
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    /// Howard Hinnant's civil_from_days.
    static func civil(_ days: Int64) -> (Int64, Int64, Int64) { TimeText.civilFromDays(days) }
}

/// The last second's text prefix for `StampText.appendRFC3339(nanos:cache:to:)`.
struct StampCache: Sendable {
    var second: Int64 = .min
    var prefix: [UInt8] = []
    init() {}
}
