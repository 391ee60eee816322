import CZlib

/// The unit a `Histogram`'s values are in. Recording converts nothing: callers record in this unit.
public enum HistogramUnit: String, Sendable, Codable {
    case nanoseconds = "ns"
    case microseconds = "us"

    /// How many of this unit make one millisecond (the `.hlog` `Interval_Max` column is in ms).
    public var perMillisecond: Double { self == .nanoseconds ? 1_000_000 : 1_000 }
    /// How many nanoseconds one unit is.
    public var nanos: Int64 { self == .nanoseconds ? 1 : 1_000 }
}

/// A High Dynamic Range histogram (Gil Tene's HdrHistogram layout): integer values from 0 to a
/// fixed highest trackable value, with `significantDigits` decimal digits of precision at every
/// magnitude, UInt64 counts, mergeable exactly, and encodable in HdrHistogram's V2 compressed form
/// (readable by the Java/C/Go/Rust HdrHistogram tools and `.hlog` viewers).
///
/// `record` is a few shifts and one array increment: no allocation. Values above the highest
/// trackable value are clamped to it (and counted in `clampedCount`), negatives to 0.
public struct Histogram: Sendable, Equatable, Codable {
    public let unit: HistogramUnit
    public let lowestDiscernibleValue: Int64
    public let highestTrackableValue: Int64
    public let significantDigits: Int

    // Layout (derived from the three parameters above).
    @usableFromInline let unitMagnitude: Int
    @usableFromInline let subBucketHalfCountMagnitude: Int
    @usableFromInline let subBucketCount: Int
    @usableFromInline let subBucketHalfCount: Int
    @usableFromInline let subBucketMask: UInt64
    @usableFromInline let leadingZeroCountBase: Int
    let bucketCount: Int

    @usableFromInline var counts: [UInt64]
    @usableFromInline var total: UInt64 = 0
    @usableFromInline var clamped: UInt64 = 0
    /// Number of recorded values (including corrected fill-ins).
    public var totalCount: UInt64 { total }
    /// Values that were above `highestTrackableValue` and were recorded as it.
    public var clampedCount: UInt64 { clamped }
    @usableFromInline var maxRecorded: Int64 = 0
    @usableFromInline var minRecorded: Int64 = .max

    /// A histogram of 1 … `highest` (default one hour in `unit`) with `significantDigits` (1–5, default 3).
    public init(unit: HistogramUnit = .nanoseconds, highestTrackableValue: Int64? = nil, significantDigits: Int = 3) {
        let highest = highestTrackableValue ?? (3_600 * 1_000_000_000 / unit.nanos)
        self.init(unit: unit, lowest: 1, highest: highest, digits: significantDigits)
    }

    init(unit: HistogramUnit, lowest: Int64, highest: Int64, digits: Int) {
        precondition(digits >= 1 && digits <= 5, "significant digits must be 1…5")
        precondition(lowest >= 1 && highest >= 2 * lowest, "highest trackable value must be ≥ 2 × lowest")
        self.unit = unit
        lowestDiscernibleValue = lowest
        highestTrackableValue = highest
        significantDigits = digits
        var singleUnitResolution: Int64 = 2
        for _ in 0..<digits { singleUnitResolution *= 10 }
        let subBucketCountMagnitude = log2Ceil(singleUnitResolution)
        subBucketHalfCountMagnitude = Swift.max(subBucketCountMagnitude, 1) - 1
        unitMagnitude = 63 - lowest.leadingZeroBitCount
        subBucketCount = 1 << (subBucketHalfCountMagnitude + 1)
        subBucketHalfCount = subBucketCount / 2
        subBucketMask = UInt64(subBucketCount - 1) << UInt64(unitMagnitude)
        leadingZeroCountBase = 64 - unitMagnitude - subBucketHalfCountMagnitude - 1
        var smallestUntrackable = Int64(subBucketCount) << Int64(unitMagnitude)
        var buckets = 1
        while smallestUntrackable <= highest {
            if smallestUntrackable > Int64.max / 2 { buckets += 1; break }
            smallestUntrackable <<= 1
            buckets += 1
        }
        bucketCount = buckets
        counts = [UInt64](repeating: 0, count: (buckets + 1) * subBucketHalfCount)
    }

    // MARK: Recording

    /// Records one value (in `unit`).
    @inlinable
    public mutating func record(_ value: Int64) {
        record(value, count: 1)
    }

    /// Records `count` occurrences of one value.
    @inlinable
    public mutating func record(_ value: Int64, count: UInt64) {
        var v = value < 0 ? 0 : value
        if v > highestTrackableValue {
            v = highestTrackableValue
            clamped &+= count
        }
        counts[countsIndex(v)] &+= count
        total &+= count
        if v > maxRecorded { maxRecorded = v }
        if v < minRecorded { minRecorded = v }
    }

    /// Records a value and, when it exceeds `expectedInterval`, the values a sampler that waited
    /// for each response would have missed: value − interval, value − 2·interval, … down to the
    /// interval (HdrHistogram's coordinated-omission correction at record time).
    public mutating func recordCorrectedValue(_ value: Int64, expectedInterval: Int64) {
        record(value)
        guard expectedInterval > 0, value > expectedInterval else { return }
        var missing = value - expectedInterval
        while missing >= expectedInterval {
            record(missing)
            missing -= expectedInterval
        }
    }

    /// Adds every count of `other` (same unit and layout, or any layout whose values fit: then
    /// each bucket is re-recorded at its value, which is exact for identical layouts).
    public mutating func add(_ other: Histogram) {
        if other.counts.count == counts.count, other.unitMagnitude == unitMagnitude,
           other.subBucketHalfCountMagnitude == subBucketHalfCountMagnitude {
            counts.withUnsafeMutableBufferPointer { dst in
                other.counts.withUnsafeBufferPointer { src in
                    for i in 0..<src.count where src[i] != 0 { dst[i] &+= src[i] }
                }
            }
            total &+= other.total
            clamped &+= other.clamped
            if other.totalCount > 0 {
                maxRecorded = Swift.max(maxRecorded, other.maxRecorded)
                minRecorded = Swift.min(minRecorded, other.minRecorded)
            }
        } else {
            for i in 0..<other.counts.count where other.counts[i] != 0 {
                record(other.valueFromIndex(i), count: other.counts[i])
            }
        }
    }

    /// Clears all counts (keeps the layout and storage; touches only the recorded range).
    public mutating func reset() {
        if total > 0 {
            let lo = countsIndex(minRecorded)
            let hi = Swift.min(countsIndex(maxRecorded), counts.count - 1)
            counts.withUnsafeMutableBufferPointer { c in
                for i in lo...hi { c[i] = 0 }
            }
        }
        total = 0
        clamped = 0
        maxRecorded = 0
        minRecorded = .max
    }

    // MARK: Layout arithmetic

    @inlinable @inline(__always)
    func bucketIndex(_ value: Int64) -> Int {
        leadingZeroCountBase &- (UInt64(bitPattern: value) | subBucketMask).leadingZeroBitCount
    }

    @inlinable @inline(__always)
    func countsIndex(_ value: Int64) -> Int {
        let b = bucketIndex(value)
        let sub = Int(truncatingIfNeeded: value &>> Int64(b &+ unitMagnitude))
        return ((b &+ 1) &<< subBucketHalfCountMagnitude) &+ (sub &- subBucketHalfCount)
    }

    func valueFromIndex(_ index: Int) -> Int64 {
        var b = (index >> subBucketHalfCountMagnitude) - 1
        var sub = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
        if b < 0 {
            sub -= subBucketHalfCount
            b = 0
        }
        return Int64(sub) << Int64(b + unitMagnitude)
    }

    /// The width of the bucket `value` falls into (all values in it are "equivalent").
    public func sizeOfEquivalentRange(_ value: Int64) -> Int64 {
        let b = bucketIndex(value)
        let sub = Int(value >> Int64(b + unitMagnitude))
        let adjusted = sub >= subBucketCount ? b + 1 : b
        return Int64(1) << Int64(unitMagnitude + adjusted)
    }

    public func lowestEquivalentValue(_ value: Int64) -> Int64 {
        let b = bucketIndex(value)
        let sub = Int(value >> Int64(b + unitMagnitude))
        return Int64(sub) << Int64(b + unitMagnitude)
    }

    public func highestEquivalentValue(_ value: Int64) -> Int64 {
        lowestEquivalentValue(value) + sizeOfEquivalentRange(value) - 1
    }

    /// Whether two values land in the same bucket.
    public func valuesAreEquivalent(_ a: Int64, _ b: Int64) -> Bool {
        lowestEquivalentValue(a) == lowestEquivalentValue(b)
    }

    // MARK: Queries

    /// The smallest value recorded (exact), or 0 when empty.
    public var min: Int64 { totalCount == 0 ? 0 : minRecorded }
    /// The largest value recorded (exact, after clamping), or 0 when empty.
    public var max: Int64 { totalCount == 0 ? 0 : maxRecorded }

    /// The mean, using each bucket's median-equivalent value (HdrHistogram's definition).
    public var mean: Double {
        guard totalCount > 0 else { return 0 }
        var sum = 0.0
        for i in counts.indices where counts[i] != 0 {
            let v = valueFromIndex(i)
            let median = lowestEquivalentValue(v) + sizeOfEquivalentRange(v) >> 1
            sum += Double(median) * Double(counts[i])
        }
        return sum / Double(totalCount)
    }

    /// The standard deviation, on the same median-equivalent values as `mean`.
    public var standardDeviation: Double {
        guard totalCount > 0 else { return 0 }
        let m = mean
        var sum = 0.0
        for i in counts.indices where counts[i] != 0 {
            let v = valueFromIndex(i)
            let d = Double(lowestEquivalentValue(v) + sizeOfEquivalentRange(v) >> 1) - m
            sum += d * d * Double(counts[i])
        }
        return (sum / Double(totalCount)).squareRoot()
    }

    /// The value at or below which `percentile` % of the recorded values fall (the highest value
    /// equivalent to it; for 0 the lowest; capped at the exact `max`). 0 when empty.
    public func valueAtPercentile(_ percentile: Double) -> Int64 {
        guard totalCount > 0 else { return 0 }
        let p = Swift.min(Swift.max(percentile, 0), 100)
        var target = UInt64((p / 100 * Double(totalCount)).rounded(.up))
        if target < 1 { target = 1 }
        var running: UInt64 = 0
        for i in counts.indices where counts[i] != 0 {
            running &+= counts[i]
            if running >= target {
                let v = valueFromIndex(i)
                if p == 0 { return Swift.max(lowestEquivalentValue(v), minRecorded) }
                return Swift.min(highestEquivalentValue(v), maxRecorded)
            }
        }
        return maxRecorded
    }

    /// The percentage of recorded values at or below `value` (bucket-equivalent).
    public func percentileAtOrBelow(_ value: Int64) -> Double {
        guard totalCount > 0 else { return 100 }
        let last = Swift.min(countsIndex(Swift.min(Swift.max(value, 0), highestTrackableValue)), counts.count - 1)
        var below: UInt64 = 0
        for i in 0...last { below &+= counts[i] }
        return 100 * Double(below) / Double(totalCount)
    }

    /// Number of recorded values between `range` bounds (bucket-equivalent, inclusive).
    public func count(within range: ClosedRange<Int64>) -> UInt64 {
        let lo = countsIndex(Swift.max(range.lowerBound, 0))
        let hi = Swift.min(countsIndex(Swift.min(range.upperBound, highestTrackableValue)), counts.count - 1)
        guard lo <= hi else { return 0 }
        var n: UInt64 = 0
        for i in lo...hi { n &+= counts[i] }
        return n
    }

    /// Each non-empty bucket: its highest equivalent value and its count, ascending.
    public var recordedValues: [(value: Int64, count: UInt64)] {
        counts.indices.compactMap { i in
            counts[i] == 0 ? nil : (highestEquivalentValue(valueFromIndex(i)), counts[i])
        }
    }

    /// One row of a percentile spectrum.
    public struct PercentilePoint: Sendable, Equatable {
        public var percentile: Double
        public var value: Int64
        public var countAtOrBelow: UInt64
    }

    /// The percentile spectrum as HdrHistogram's percentile iterator walks it: `ticksPerHalfDistance`
    /// steps between 0 and 50 %, as many between 50 and 75 %, and so on, ending at 100 %.
    public func percentileSpectrum(ticksPerHalfDistance: Int = 5) -> [PercentilePoint] {
        guard totalCount > 0 else { return [] }
        var points: [PercentilePoint] = []
        var p = 0.0
        while points.count < 10_000 {
            let v = valueAtPercentile(p)
            let c = countAtOrBelow(v)
            points.append(PercentilePoint(percentile: p, value: v, countAtOrBelow: c))
            if c >= totalCount {
                if p < 100 { points.append(PercentilePoint(percentile: 100, value: max, countAtOrBelow: totalCount)) }
                break
            }
            let ticks = Double(ticksPerHalfDistance) * pow2(floorLog2(100 / (100 - p)) + 1)
            p = Swift.min(p + 100 / ticks, 100)
        }
        return points
    }

    func countAtOrBelow(_ value: Int64) -> UInt64 {
        let last = Swift.min(countsIndex(Swift.min(Swift.max(value, 0), highestTrackableValue)), counts.count - 1)
        var n: UInt64 = 0
        for i in 0...last { n &+= counts[i] }
        return n
    }

    /// The spectrum as HdrHistogram's `.hgrm` text (values divided by `scale`, e.g. 1000 for µs from ns).
    public func percentileDistributionText(scale: Double = 1, ticksPerHalfDistance: Int = 5) -> String {
        var out = "       Value     Percentile TotalCount 1/(1-Percentile)\n\n"
        for point in percentileSpectrum(ticksPerHalfDistance: ticksPerHalfDistance) {
            let inverse = point.percentile >= 100 ? "" : TimeText.fixed(1 / (1 - point.percentile / 100), 2)
            out += pad(TimeText.fixed(Double(point.value) / scale, 3), 12) + " "
                + pad(TimeText.fixed(point.percentile / 100, 12), 14) + " "
                + pad(String(point.countAtOrBelow), 10) + " " + pad(inverse, 14) + "\n"
        }
        out += "#[Mean    = \(TimeText.fixed(mean / scale, 3)), StdDeviation   = \(TimeText.fixed(standardDeviation / scale, 3))]\n"
        out += "#[Max     = \(TimeText.fixed(Double(max) / scale, 3)), Total count    = \(totalCount)]\n"
        return out
    }

    public static func == (a: Histogram, b: Histogram) -> Bool {
        a.unit == b.unit && a.lowestDiscernibleValue == b.lowestDiscernibleValue
            && a.highestTrackableValue == b.highestTrackableValue && a.significantDigits == b.significantDigits
            && a.totalCount == b.totalCount && a.counts == b.counts
    }
}

private func log2Ceil(_ v: Int64) -> Int {
    var m = 0
    while (Int64(1) << Int64(m)) < v { m += 1 }
    return m
}

/// floor(log2(x)) for x ≥ 1, without Foundation.
private func floorLog2(_ x: Double) -> Double {
    var e = 0.0
    var v = x
    while v >= 2 { v /= 2; e += 1 }
    return e
}

private func pow2(_ e: Double) -> Double {
    var r = 1.0
    var i = 0.0
    while i < e { r *= 2; i += 1 }
    return r
}

private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

// MARK: - V2 encoding

/// Errors decoding an HdrHistogram encoding or an `.hlog` file.
public struct HistogramDecodingError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "histogram decoding failed: \(reason)" }
}

extension Histogram {
    static let v2Cookie: UInt32 = 0x1c84_9303 | 0x10
    static let v2CompressedCookie: UInt32 = 0x1c84_9304 | 0x10

    /// HdrHistogram's V2 uncompressed encoding: a 40-byte big-endian header, then the counts up
    /// to the highest non-zero one as ZigZag LEB128 (9-byte form), zero runs as negative lengths.
    public func encodedV2() -> [UInt8] {
        var payload: [UInt8] = []
        // Counts above the largest recorded value are all zero.
        var last = total == 0 ? -1 : Swift.min(countsIndex(maxRecorded), counts.count - 1)
        while last >= 0, counts[last] == 0 { last -= 1 }
        var i = 0
        while i <= last {
            if counts[i] == 0 {
                var zeros: Int64 = 0
                while i <= last, counts[i] == 0 { zeros += 1; i += 1 }
                putZigZag(-zeros, into: &payload)
            } else {
                putZigZag(Int64(bitPattern: counts[i]), into: &payload)
                i += 1
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(40 + payload.count)
        putBE32(Self.v2Cookie, &out)
        putBE32(UInt32(payload.count), &out)
        putBE32(0, &out) // normalizing index offset
        putBE32(UInt32(significantDigits), &out)
        putBE64(UInt64(lowestDiscernibleValue), &out)
        putBE64(UInt64(highestTrackableValue), &out)
        putBE64(Double(1).bitPattern, &out) // integer to double conversion ratio
        out += payload
        return out
    }

    /// The V2 compressed encoding: cookie, compressed length, zlib deflate of `encodedV2()`.
    public func encodedCompressedV2() -> [UInt8] {
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
    public func encodedBase64() -> String { Base64.encode(encodedCompressedV2()) }

    /// Decodes a V2 compressed or uncompressed encoding. Values are in `unit` (the encoding does not carry it).
    public static func decode(_ bytes: [UInt8], unit: HistogramUnit = .nanoseconds) throws(HistogramDecodingError) -> Histogram {
        guard bytes.count >= 8 else { throw HistogramDecodingError("\(bytes.count) bytes is too short") }
        let cookie = getBE32(bytes, 0)
        if cookie == v2CompressedCookie {
            let length = Int(getBE32(bytes, 4))
            guard length <= bytes.count - 8 else { throw HistogramDecodingError("compressed length \(length) beyond the data") }
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
                guard rc == Z_OK else { throw HistogramDecodingError("zlib inflate failed (\(rc))") }
                return try decode(Array(out[0..<Int(outLength)]), unit: unit)
            }
        }
        guard cookie == v2Cookie else {
            throw HistogramDecodingError("unknown cookie 0x\(String(cookie, radix: 16)) (not an HdrHistogram V2 encoding)")
        }
        guard bytes.count >= 40 else { throw HistogramDecodingError("header truncated") }
        let payloadLength = Int(getBE32(bytes, 4))
        let digits = Int(getBE32(bytes, 12))
        let lowest = Int64(bitPattern: getBE64(bytes, 16))
        let highest = Int64(bitPattern: getBE64(bytes, 24))
        guard digits >= 1, digits <= 5, lowest >= 1, highest >= 2 * lowest else {
            throw HistogramDecodingError("bad parameters: digits \(digits), lowest \(lowest), highest \(highest)")
        }
        guard 40 + payloadLength <= bytes.count else { throw HistogramDecodingError("payload truncated") }
        var h = Histogram(unit: unit, lowest: lowest, highest: highest, digits: digits)
        var pos = 40
        let end = 40 + payloadLength
        var index = 0
        var maxIndex = -1
        var minIndex = -1
        while pos < end {
            guard let v = getZigZag(bytes, &pos, end) else { throw HistogramDecodingError("payload truncated mid-value") }
            if v < 0 {
                index += Int(-v)
            } else {
                guard index < h.counts.count else { throw HistogramDecodingError("counts beyond the histogram's range") }
                if v > 0 {
                    h.counts[index] = UInt64(v)
                    h.total &+= UInt64(v)
                    if minIndex < 0 { minIndex = index }
                    maxIndex = index
                }
                index += 1
            }
        }
        if maxIndex >= 0 {
            h.maxRecorded = Swift.min(h.highestEquivalentValue(h.valueFromIndex(maxIndex)), highest)
            h.minRecorded = h.valueFromIndex(minIndex)
        }
        return h
    }

    /// Decodes `encodedBase64()` text.
    public static func decode(base64 text: String, unit: HistogramUnit = .nanoseconds) throws(HistogramDecodingError) -> Histogram {
        guard let bytes = Base64.decode(text) else { throw HistogramDecodingError("not base64") }
        return try decode(bytes, unit: unit)
    }

    // MARK: Codable: the parameters plus the base64 V2 encoding.

    enum CodingKeys: String, CodingKey {
        case unit, significantDigits, highestTrackableValue, totalCount, encoded
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(unit, forKey: .unit)
        try c.encode(significantDigits, forKey: .significantDigits)
        try c.encode(highestTrackableValue, forKey: .highestTrackableValue)
        try c.encode(totalCount, forKey: .totalCount)
        try c.encode(encodedBase64(), forKey: .encoded)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let unit = try c.decode(HistogramUnit.self, forKey: .unit)
        self = try Histogram.decode(base64: try c.decode(String.self, forKey: .encoded), unit: unit)
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
    var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
    for _ in 0..<8 {
        if v >> 7 == 0 { out.append(UInt8(v)); return }
        out.append(UInt8(v & 0x7F) | 0x80)
        v >>= 7
    }
    out.append(UInt8(truncatingIfNeeded: v))
}

private func getZigZag(_ b: [UInt8], _ pos: inout Int, _ end: Int) -> Int64? {
    var v: UInt64 = 0
    var shift: UInt64 = 0
    for n in 0..<9 {
        guard pos < end else { return nil }
        let byte = b[pos]
        pos += 1
        if n == 8 {
            v |= UInt64(byte) << 56
            break
        }
        v |= UInt64(byte & 0x7F) << shift
        if byte & 0x80 == 0 { break }
        shift += 7
    }
    return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
}

// MARK: - .hlog interval logs

/// One interval of an HdrHistogram interval log.
public struct HistogramInterval: Sendable, Equatable {
    /// Seconds since the log's start time (or base time) at which the interval starts.
    public var startSeconds: Double
    /// Interval length in seconds.
    public var lengthSeconds: Double
    /// Optional tag (`Tag=NAME,` prefix), e.g. the sink's name.
    public var tag: String?
    public var histogram: Histogram

    public init(startSeconds: Double, lengthSeconds: Double, tag: String? = nil, histogram: Histogram) {
        self.startSeconds = startSeconds
        self.lengthSeconds = lengthSeconds
        self.tag = tag
        self.histogram = histogram
    }
}

/// An interval kept in its compact encoded form (what long runs store: a few hundred bytes each).
public struct EncodedHistogramInterval: Sendable, Equatable {
    public var startSeconds: Double
    public var lengthSeconds: Double
    public var tag: String?
    /// The interval's max in milliseconds (the `.hlog` `Interval_Max` column).
    public var maxMilliseconds: Double
    /// `Histogram.encodedBase64()`.
    public var base64: String

    public init(startSeconds: Double, lengthSeconds: Double, tag: String? = nil, maxMilliseconds: Double, base64: String) {
        self.startSeconds = startSeconds
        self.lengthSeconds = lengthSeconds
        self.tag = tag
        self.maxMilliseconds = maxMilliseconds
        self.base64 = base64
    }

    public init(_ interval: HistogramInterval) {
        let h = interval.histogram
        self.init(startSeconds: interval.startSeconds, lengthSeconds: interval.lengthSeconds, tag: interval.tag,
                  maxMilliseconds: Double(h.max) / h.unit.perMillisecond, base64: h.encodedBase64())
    }
}

/// Writes HdrHistogram's interval log format (`.hlog`, version 1.3): a `#[StartTime: …]` comment,
/// the CSV legend, then one line per interval: start, length, max (in ms), base64 histogram.
public struct HistogramLogWriter {
    public private(set) var text: String = ""
    let startNanos: Int64

    /// `startNanos` is the wall time (ns since epoch) interval start offsets are relative to.
    public init(startNanos: Int64, comment: String? = nil) {
        self.startNanos = startNanos
        if let comment { text += "#\(comment)\n" }
        text += "#[Histogram log format version 1.3]\n"
        let seconds = Double(startNanos) / 1e9
        text += "#[StartTime: \(TimeText.fixed(seconds, 3)) (seconds since epoch), \(TimeText.iso8601(nanos: startNanos, fractionDigits: 3))]\n"
        text += "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
    }

    public mutating func append(_ interval: HistogramInterval) {
        let h = interval.histogram
        append(EncodedHistogramInterval(startSeconds: interval.startSeconds, lengthSeconds: interval.lengthSeconds,
                                        tag: interval.tag, maxMilliseconds: Double(h.max) / h.unit.perMillisecond,
                                        base64: h.encodedBase64()))
    }

    /// Appends an interval whose histogram was encoded already.
    public mutating func append(_ interval: EncodedHistogramInterval) {
        if let tag = interval.tag { text += "Tag=\(tag)," }
        text += TimeText.fixed(interval.startSeconds, 3) + "," + TimeText.fixed(interval.lengthSeconds, 3) + ","
            + TimeText.fixed(interval.maxMilliseconds, 3) + "," + interval.base64 + "\n"
    }
}

/// Reads `.hlog` text back: the start time and every interval.
public enum HistogramLogReader {
    public static func parse(_ text: String, unit: HistogramUnit = .nanoseconds) throws(HistogramDecodingError)
        -> (startSeconds: Double?, intervals: [HistogramInterval]) {
        var start: Double?
        var base: Double = 0
        var intervals: [HistogramInterval] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("#[StartTime: ") {
                let rest = line.dropFirst("#[StartTime: ".count)
                start = Double(rest.prefix { $0 != " " })
                continue
            }
            if line.hasPrefix("#[BaseTime: ") {
                base = Double(line.dropFirst("#[BaseTime: ".count).prefix { $0 != " " }) ?? 0
                continue
            }
            if line.hasPrefix("#") || line.hasPrefix("\"StartTimestamp\"") { continue }
            var fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            var tag: String?
            if let first = fields.first, first.hasPrefix("Tag=") {
                tag = String(first.dropFirst(4))
                fields.removeFirst()
            }
            guard fields.count == 4, let s = Double(fields[0]), let l = Double(fields[1]) else {
                throw HistogramDecodingError("bad .hlog line: \(line.prefix(60))")
            }
            let h = try Histogram.decode(base64: fields[3], unit: unit)
            intervals.append(HistogramInterval(startSeconds: s + base, lengthSeconds: l, tag: tag, histogram: h))
        }
        return (start, intervals)
    }
}
