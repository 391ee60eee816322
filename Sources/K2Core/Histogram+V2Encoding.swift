import CZlib

// HdrHistogram's V2 encoding of a `Histogram` (uncompressed and zlib-compressed), as the
// Java/C/Go/Rust HdrHistogram tools read and write it.

extension Histogram {
    static let v2Cookie: UInt32 = 0x1c84_9303 | 0x10
    static let v2CompressedCookie: UInt32 = 0x1c84_9304 | 0x10

    /// HdrHistogram's V2 uncompressed encoding: a 40-byte big-endian header, then the counts up
    /// to the highest non-zero one as ZigZag LEB128 (9-byte form), zero runs as negative lengths.
    package func encodedV2() -> [UInt8] {
        var payload: [UInt8] = []
        // Counts above the largest recorded value are all zero.
        var last = total == 0 ? -1 : Swift.min(countsIndex(maxRecorded), counts.count - 1)
        while last >= 0, counts[last] == 0 { last -= 1 }
        var index = 0
        while index <= last {
            if counts[index] == 0 {
                var zeros: Int64 = 0
                while index <= last, counts[index] == 0 { zeros += 1; index += 1 }
                putZigZag(-zeros, into: &payload)
            } else {
                putZigZag(Int64(bitPattern: counts[index]), into: &payload)
                index += 1
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(40 + payload.count)
        putBE32(Self.v2Cookie, &out)
        putBE32(UInt32(payload.count), &out)
        putBE32(0, &out)  // normalizing index offset
        putBE32(UInt32(significantDigits), &out)
        putBE64(UInt64(lowestDiscernibleValue), &out)
        putBE64(UInt64(highestTrackableValue), &out)
        putBE64(Double(1).bitPattern, &out)  // integer to double conversion ratio
        out += payload
        return out
    }

    /// The V2 compressed encoding: cookie, compressed length, zlib deflate of `encodedV2()`.
    package func encodedCompressedV2() -> [UInt8] {
        let raw = encodedV2()
        var bound = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        let rc = compressed.withUnsafeMutableBufferPointer { dst in
            raw.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &bound, src.baseAddress, uLong(src.count), Z_DEFAULT_COMPRESSION)
            }
        }
        precondition(rc == Z_OK, "zlib compress2 failed (\(rc))")
        var out: [UInt8] = []
        out.reserveCapacity(8 + Int(bound))
        putBE32(Self.v2CompressedCookie, &out)
        putBE32(UInt32(bound), &out)
        out += compressed[0..<Int(bound)]
        return out
    }

    /// Base64 of the V2 compressed encoding (starts with `HISTF`), as `.hlog` lines carry it.
    package func encodedBase64() -> String { Base64.encode(encodedCompressedV2()) }

    /// Decodes a V2 compressed or uncompressed encoding. Values are in `unit` (the encoding does not carry it).
    package static func decode(_ bytes: [UInt8], unit: HistogramUnit = .nanoseconds) throws(CoreError) -> Histogram {
        guard bytes.count >= 8 else { throw CoreError.badHistogram("\(bytes.count) bytes is too short") }
        let cookie = getBE32(bytes, 0)
        if cookie == v2CompressedCookie {
            let length = Int(getBE32(bytes, 4))
            guard length <= bytes.count - 8 else { throw CoreError.badHistogram("compressed length \(length) beyond the data") }
            var capacity = Swift.max(length * 8, 4096)
            while true {
                var outLength = uLong(capacity)
                var out = [UInt8](repeating: 0, count: capacity)
                let rc = out.withUnsafeMutableBufferPointer { dst in
                    bytes.withUnsafeBufferPointer { src in
                        uncompress(dst.baseAddress, &outLength, src.baseAddress! + 8, uLong(length))
                    }
                }
                if rc == Z_BUF_ERROR, capacity < 1 << 30 { capacity *= 4; continue }
                guard rc == Z_OK else { throw CoreError.badHistogram("zlib inflate failed (\(rc))") }
                return try decode(Array(out[0..<Int(outLength)]), unit: unit)
            }
        }
        guard cookie == v2Cookie else {
            throw CoreError.badHistogram("unknown cookie 0x\(String(cookie, radix: 16)) (not an HdrHistogram V2 encoding)")
        }
        guard bytes.count >= 40 else { throw CoreError.badHistogram("header truncated") }
        let payloadLength = Int(getBE32(bytes, 4))
        let digits = Int(getBE32(bytes, 12))
        let lowest = Int64(bitPattern: getBE64(bytes, 16))
        let highest = Int64(bitPattern: getBE64(bytes, 24))
        guard digits >= 1, digits <= 5, lowest >= 1, highest >= 2 * lowest else {
            throw CoreError.badHistogram("bad parameters: digits \(digits), lowest \(lowest), highest \(highest)")
        }
        guard 40 + payloadLength <= bytes.count else { throw CoreError.badHistogram("payload truncated") }
        var histogram = Histogram(unit: unit, lowest: lowest, highest: highest, digits: digits)
        var pos = 40
        let end = 40 + payloadLength
        var index = 0
        var maxIndex = -1
        var minIndex = -1
        while pos < end {
            guard let value = getZigZag(bytes, &pos, end) else { throw CoreError.badHistogram("payload truncated mid-value") }
            if value < 0 {
                index += Int(-value)
            } else {
                guard index < histogram.counts.count else { throw CoreError.badHistogram("counts beyond the histogram's range") }
                if value > 0 {
                    histogram.counts[index] = UInt64(value)
                    histogram.total &+= UInt64(value)
                    if minIndex < 0 { minIndex = index }
                    maxIndex = index
                }
                index += 1
            }
        }
        if maxIndex >= 0 {
            histogram.maxRecorded = Swift.min(histogram.highestEquivalentValue(histogram.valueFromIndex(maxIndex)), highest)
            histogram.minRecorded = histogram.valueFromIndex(minIndex)
        }
        return histogram
    }

    /// Decodes `encodedBase64()` text.
    package static func decode(base64 text: String, unit: HistogramUnit = .nanoseconds) throws(CoreError) -> Histogram {
        guard let bytes = Base64.decode(text) else { throw CoreError.badHistogram("not base64") }
        return try decode(bytes, unit: unit)
    }

    // MARK: Codable: the parameters plus the base64 V2 encoding.

    enum CodingKeys: String, CodingKey {
        case unit, significantDigits, highestTrackableValue, totalCount, encoded
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(unit, forKey: .unit)
        try container.encode(significantDigits, forKey: .significantDigits)
        try container.encode(highestTrackableValue, forKey: .highestTrackableValue)
        try container.encode(totalCount, forKey: .totalCount)
        try container.encode(encodedBase64(), forKey: .encoded)
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let unit = try container.decode(HistogramUnit.self, forKey: .unit)
        self = try Histogram.decode(base64: try container.decode(String.self, forKey: .encoded), unit: unit)
    }
}

@inline(__always) private func putBE32(_ v: UInt32, _ out: inout [UInt8]) {
    out.append(UInt8(v >> 24)); out.append(UInt8(v >> 16 & 0xFF)); out.append(UInt8(v >> 8 & 0xFF)); out.append(UInt8(v & 0xFF))
}

@inline(__always) private func putBE64(_ v: UInt64, _ out: inout [UInt8]) {
    putBE32(UInt32(v >> 32), &out)
    putBE32(UInt32(v & 0xFFFF_FFFF), &out)
}

private func getBE32(_ b: [UInt8], _ at: Int) -> UInt32 {
    UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
}

private func getBE64(_ b: [UInt8], _ at: Int) -> UInt64 {
    UInt64(getBE32(b, at)) << 32 | UInt64(getBE32(b, at + 4))
}

/// ZigZag then LEB128 with HdrHistogram's 9-byte limit (the 9th byte carries 8 bits).
private func putZigZag(_ value: Int64, into out: inout [UInt8]) {
    var remaining = UInt64(bitPattern: (value << 1) ^ (value >> 63))
    for _ in 0..<8 {
        if remaining >> 7 == 0 { out.append(UInt8(remaining)); return }
        out.append(UInt8(remaining & 0x7F) | 0x80)
        remaining >>= 7
    }
    out.append(UInt8(truncatingIfNeeded: remaining))
}

private func getZigZag(_ b: [UInt8], _ pos: inout Int, _ end: Int) -> Int64? {
    var bits: UInt64 = 0
    var shift: UInt64 = 0
    for n in 0..<9 {
        guard pos < end else { return nil }
        let byte = b[pos]
        pos += 1
        if n == 8 {
            bits |= UInt64(byte) << 56
            break
        }
        bits |= UInt64(byte & 0x7F) << shift
        if byte & 0x80 == 0 { break }
        shift += 7
    }
    return Int64(bitPattern: bits >> 1) ^ -Int64(bitPattern: bits & 1)
}
