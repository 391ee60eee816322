/// Unsigned integers as decimal ASCII, two digits per division, into memory the caller reserved:
/// the one digit writer of the hot paths that print numbers (the Kafka sink's header times,
/// `sim generate`'s payloads). `@inlinable` so that each caller's loop compiles in place.
package enum DecimalDigits {
    /// How many decimal digits `value` has (1 for 0).
    @inlinable @inline(__always)
    package static func count(_ value: UInt64) -> Int {
        var digitCount = 1
        var remaining = value
        while remaining >= 100 {
            remaining /= 100
            digitCount += 2
        }
        if remaining >= 10 { digitCount += 1 }
        return digitCount
    }

    /// Writes the last `count` digits of `value` (zero-padded) in the `count` bytes that end
    /// just before `end`.
    @inlinable @inline(__always)
    package static func write(_ value: UInt64, count: Int, endingAt end: UnsafeMutableRawPointer) {
        let table = pairs.utf8Start
        var remaining = value
        var position = end
        var left = count
        while left >= 2 {
            let pair = Int(truncatingIfNeeded: remaining % 100)
            remaining /= 100
            position -= 2
            position.storeBytes(of: table[2 &* pair], as: UInt8.self)
            position.storeBytes(of: table[2 &* pair &+ 1], toByteOffset: 1, as: UInt8.self)
            left -= 2
        }
        if left == 1 { (position - 1).storeBytes(of: UInt8(truncatingIfNeeded: 48 &+ remaining % 10), as: UInt8.self) }
    }

    /// "00" "01" … "99". A computed literal, not a stored `static let`: no lazy-initialisation
    /// check where it is read.
    @inlinable
    package static var pairs: StaticString {
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    }
}
