/// Writes message text through a pointer into space the caller reserved: one capacity and
/// uniqueness check per message instead of one per fragment (`Array.append(contentsOf:)` per
/// literal and number cost a third of the Coinbase encoder's time). Same bytes as
/// `DecimalText` / `StampText`. The caller guarantees the space; nothing is checked here.
struct RawWriter {
    var cursor: UnsafeMutablePointer<UInt8>

    init(_ cursor: UnsafeMutablePointer<UInt8>) { self.cursor = cursor }

    @inline(__always)
    mutating func lit(_ s: StaticString) {
        let length = s.utf8CodeUnitCount
        cursor.update(from: s.utf8Start, count: length)
        cursor += length
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        cursor.pointee = b
        cursor += 1
    }

    @inline(__always)
    mutating func bytes(_ a: [UInt8]) {
        a.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress {
                cursor.update(from: base, count: buffer.count)
                cursor += buffer.count
            }
        }
    }

    /// "00" "01" … "99": two digits per division.
    static let pairs: StaticString =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    /// Writes the last `count` digits of `v` ending just before `end` (zero-padded).
    @inline(__always)
    static func digits(_ v: UInt64, count: Int, end: UnsafeMutablePointer<UInt8>) {
        let table = pairs.utf8Start
        var remaining = v
        var position = end
        var left = count
        while left >= 2 {
            let pair = Int(truncatingIfNeeded: remaining % 100)
            remaining /= 100
            position -= 2
            position[0] = table[2 * pair]
            position[1] = table[2 * pair + 1]
            left -= 2
        }
        if left == 1 { (position - 1).pointee = UInt8(truncatingIfNeeded: 48 &+ remaining % 10) }
    }

    /// A non-negative integer in decimal.
    @inline(__always)
    mutating func uint(_ v: UInt64) {
        var digitCount = 1
        var remaining = v
        while remaining >= 100 { remaining /= 100; digitCount += 2 }
        if remaining >= 10 { digitCount += 1 }
        Self.digits(v, count: digitCount, end: cursor + digitCount)
        cursor += digitCount
    }

    @inline(__always)
    mutating func int(_ v: Int64) {
        if v < 0 { byte(45) }
        uint(v.magnitude)
    }

    /// `v` zero-padded to exactly `width` digits.
    @inline(__always)
    mutating func padded(_ v: UInt64, width: Int) {
        Self.digits(v, count: width, end: cursor + width)
        cursor += width
    }

    /// `DecimalText.append(mantissa, scale:digits:trim:)`.
    @inline(__always)
    mutating func decimal(_ mantissa: Int64, scale: Int, digits: Int, trim: Bool = false) {
        let magnitude = mantissa.magnitude
        var frac: UInt64
        let intPart: UInt64
        if digits <= scale {
            let scaled = magnitude / UInt64(DecimalText.pow10[scale - digits])
            let unit = UInt64(DecimalText.pow10[digits])
            intPart = scaled / unit
            frac = scaled % unit
        } else {
            let unit = UInt64(DecimalText.pow10[scale])
            intPart = magnitude / unit
            frac = (magnitude % unit) * UInt64(DecimalText.pow10[digits - scale])
        }
        var fractionCount = digits
        if trim {
            while fractionCount > 0 && frac % 10 == 0 { frac /= 10; fractionCount -= 1 }
        }
        if mantissa < 0 { byte(45) }
        uint(intPart)
        if fractionCount > 0 {
            byte(46)
            padded(frac, width: fractionCount)
        }
    }

    /// `StampText.appendRFC3339(nanos:fractionDigits:trim: true, cache:to:)`.
    @inline(__always)
    mutating func stamp(_ nanos: Int64, fractionDigits: Int, cache: inout StampCache) {
        let secs = StampText.floorDiv(nanos, 1_000_000_000)
        if secs != cache.second || cache.prefix.isEmpty { cache.refresh(second: secs) }
        bytes(cache.prefix)
        var fraction = (nanos - secs * 1_000_000_000) / DecimalText.pow10[9 - fractionDigits]
        var fractionCount = fractionDigits
        while fractionCount > 0 && fraction % 10 == 0 { fraction /= 10; fractionCount -= 1 }
        if fractionCount > 0 {
            byte(46)
            padded(UInt64(fraction), width: fractionCount)
        }
        byte(90)
    }
}

extension StampCache {
    /// Makes `prefix` the `YYYY-MM-DDThh:mm:ss` of `second`.
    mutating func refresh(second secs: Int64) {
        prefix.removeAll(keepingCapacity: true)
        StampText.appendRFC3339(nanos: secs * 1_000_000_000, fractionDigits: 0, to: &prefix)
        prefix.removeLast()  // the Z
        second = secs
    }
}
