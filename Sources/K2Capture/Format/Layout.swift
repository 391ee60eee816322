import K2Core

/// Byte layout of the `.k2cap` format, version 1 (see docs/capture-format.md).
/// All integers are little-endian.
enum Layout {
    /// Skippable-frame magic numbers (zstd reserves 0x184D2A50…5F for such frames).
    static let headerFrameMagic: UInt32 = 0x184D_2A5C
    static let indexFrameMagic: UInt32 = 0x184D_2A5E
    static let headerMagic: [UInt8] = Array("K2CAPHDR".utf8)
    static let indexMagic: [UInt8] = Array("K2CAPIDX".utf8)
    static let indexTrailerMagic: [UInt8] = Array("K2IX".utf8)
    static let blockMagic: UInt32 = 0x3142_324B  // "K2B1"
    static let blockHeaderSize = 24
    static let recordHeaderSize = 20
    static let indexEntrySize = 40
    static let indexTrailerSize = 16
    /// Largest record payload the format allows (a REST snapshot or frame larger than this is
    /// not market data); it bounds what a reader ever allocates for one block.
    static let maxPayload = 256 << 20
    /// Largest block a reader accepts: one maximal record plus the ~1 MiB target around it.
    static let maxBlock = maxPayload + (2 << 20)
    /// zstd cannot expand data by more than this factor (RLE blocks: 128 KiB from a few bytes),
    /// so a frame claiming more is damaged, whatever its header says.
    static let maxExpansion = 1 << 15
    static let maxAux = Int(UInt16.max)

    // MARK: header frame

    static func encodeHeader(_ h: CaptureHeader) -> [UInt8] {
        var json: [UInt8] = []
        h.json.write(to: &json)
        var content = headerMagic
        content.appendLE(UInt16(h.major))
        content.appendLE(UInt16(h.minor))
        content.appendLE(UInt32(0))
        content.appendLE(UInt32(json.count))
        content.appendLE(CRC32.checksum(json))
        content.append(contentsOf: json)
        var frame: [UInt8] = []
        frame.appendLE(headerFrameMagic)
        frame.appendLE(UInt32(content.count))
        frame.append(contentsOf: content)
        return frame
    }

    // MARK: index frame

    static func encodeIndex(_ entries: [CaptureIndex.Entry]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(entries.count * indexEntrySize)
        for entry in entries {
            body.appendLE(UInt64(entry.offset))
            body.appendLE(UInt32(entry.compressedSize))
            body.appendLE(UInt32(entry.recordCount))
            body.appendLE(entry.firstTimestamp)
            body.appendLE(entry.lastTimestamp)
            body.appendLE(UInt32(entry.uncompressedSize))
            body.appendLE(UInt32(0))
        }
        var content = indexMagic
        content.appendLE(UInt32(entries.count))
        content.appendLE(UInt32(0))
        content.append(contentsOf: body)
        let total = 8 + content.count + indexTrailerSize
        content.appendLE(UInt32(entries.count))
        content.appendLE(CRC32.checksum(body))
        content.appendLE(UInt32(total))
        content.append(contentsOf: indexTrailerMagic)
        var frame: [UInt8] = []
        frame.appendLE(indexFrameMagic)
        frame.appendLE(UInt32(content.count))
        frame.append(contentsOf: content)
        return frame
    }

    /// Decodes the index entries from a whole index frame; nil when it does not check out.
    static func decodeIndex(_ f: UnsafeRawBufferPointer) -> [CaptureIndex.Entry]? {
        guard f.count >= 8 + 16 + indexTrailerSize,
            f.le(UInt32.self, 0) == indexFrameMagic,
            Int(f.le(UInt32.self, 4)) == f.count - 8,
            Array(f[8..<16]) == indexMagic
        else { return nil }
        let entryCount = Int(f.le(UInt32.self, 16))
        let bodyStart = 24
        let bodyEnd = bodyStart + entryCount * indexEntrySize
        guard bodyEnd + indexTrailerSize == f.count,
            Int(f.le(UInt32.self, bodyEnd)) == entryCount,
            CRC32.checksum(UnsafeRawBufferPointer(rebasing: f[bodyStart..<bodyEnd])) == f.le(UInt32.self, bodyEnd + 4)
        else { return nil }
        var entries: [CaptureIndex.Entry] = []
        entries.reserveCapacity(entryCount)
        for k in 0..<entryCount {
            let entryStart = bodyStart + k * indexEntrySize
            entries.append(
                CaptureIndex.Entry(
                    offset: Int64(f.le(UInt64.self, entryStart)),
                    compressedSize: Int(f.le(UInt32.self, entryStart + 8)),
                    uncompressedSize: Int(f.le(UInt32.self, entryStart + 32)),
                    recordCount: Int(f.le(UInt32.self, entryStart + 12)),
                    firstTimestamp: f.le(Int64.self, entryStart + 16),
                    lastTimestamp: f.le(Int64.self, entryStart + 24)))
        }
        return entries
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func le<T: FixedWidthInteger>(_: T.Type, _ offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func storeLE<T: FixedWidthInteger>(_ v: T, _ offset: Int) {
        storeBytes(of: v.littleEndian, toByteOffset: offset, as: T.self)
    }
}

/// `withUnsafeBytes` for typed-throwing bodies (the standard one only rethrows `any Error`).
@inline(__always)
func withBytes<R>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(CaptureError) -> R) throws(CaptureError) -> R {
    let result: Result<R, CaptureError> = a.withUnsafeBytes { b in Result { () throws(CaptureError) in try body(b) } }
    return try result.get()
}
