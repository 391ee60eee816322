/// ClickHouse's RowBinary format: little-endian numbers, LEB128-length-prefixed strings,
/// a leading null byte for Nullable. Exists on 18.16 and current releases; ~3× faster to
/// insert than JSONEachRow.
struct RowBinary {
    var bytes: [UInt8] = []

    init(capacity: Int = 1 << 20) { bytes.reserveCapacity(capacity) }

    @inline(__always) mutating func uint64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    @inline(__always) mutating func uint32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    @inline(__always) mutating func float64(_ v: Double) { uint64(v.bitPattern) }
    @inline(__always) mutating func varint(_ v: Int) {
        var x = UInt(v)
        while x >= 0x80 { bytes.append(UInt8(x & 0x7f) | 0x80); x >>= 7 }
        bytes.append(UInt8(x))
    }
    @inline(__always) mutating func string(_ b: UnsafeRawBufferPointer) {
        varint(b.count)
        bytes.append(contentsOf: b)
    }
    @inline(__always) mutating func string(_ s: String) {
        varint(s.utf8.count)
        bytes.append(contentsOf: s.utf8)
    }
    @inline(__always) mutating func raw(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }
    @inline(__always) mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }
    /// Decimal digits of `v` (for lengths of composed strings).
    @inline(__always) static func digits(_ v: UInt64) -> Int {
        var n = 1, x = v
        while x >= 10 { x /= 10; n += 1 }
        return n
    }
    @inline(__always) mutating func decimal(_ v: UInt64) {
        let n = Self.digits(v)
        let start = bytes.count
        for _ in 0..<n { bytes.append(48) }
        var x = v
        var i = start + n - 1
        repeat { bytes[i] = UInt8(48 + x % 10); x /= 10; i -= 1 } while x > 0
    }
}
