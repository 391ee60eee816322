import K2Core

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

    /// A non-negative integer in decimal.
    @inline(__always)
    mutating func uint(_ v: UInt64) {
        let digitCount = DecimalDigits.count(v)
        DecimalDigits.write(v, count: digitCount, endingAt: cursor + digitCount)
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
        DecimalDigits.write(v, count: width, endingAt: cursor + width)
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
