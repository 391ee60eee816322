import CZlib

/// The unit a `Histogram`'s values are in. Recording converts nothing: callers record in this unit.
package enum HistogramUnit: String, Sendable, Codable {
    case nanoseconds = "ns"
    case microseconds = "us"

    /// How many of this unit make one millisecond (the `.hlog` `Interval_Max` column is in ms).
    var perMillisecond: Double { self == .nanoseconds ? 1_000_000 : 1_000 }
    /// How many nanoseconds one unit is.
    package var nanos: Int64 { self == .nanoseconds ? 1 : 1_000 }
}

/// A High Dynamic Range histogram (Gil Tene's HdrHistogram layout): integer values from 0 to a
/// fixed highest trackable value, with `significantDigits` decimal digits of precision at every
/// magnitude, UInt64 counts, mergeable exactly, and encodable in HdrHistogram's V2 compressed form
/// (readable by the Java/C/Go/Rust HdrHistogram tools and `.hlog` viewers).
///
/// `record` is a few shifts and one array increment: no allocation. Values above the highest
/// trackable value are clamped to it (and counted in `clampedCount`), negatives to 0.
package struct Histogram: Sendable, Equatable, Codable {
    package let unit: HistogramUnit
    let lowestDiscernibleValue: Int64
    package let highestTrackableValue: Int64
    let significantDigits: Int

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
    package var totalCount: UInt64 { total }
    /// Values that were above `highestTrackableValue` and were recorded as it.
    package var clampedCount: UInt64 { clamped }
    @usableFromInline var maxRecorded: Int64 = 0
    @usableFromInline var minRecorded: Int64 = .max

    /// A histogram of 1 … `highest` (default one hour in `unit`) with `significantDigits` (1–5, default 3).
    package init(unit: HistogramUnit = .nanoseconds, highestTrackableValue: Int64? = nil, significantDigits: Int = 3) {
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
    package mutating func record(_ value: Int64) {
        record(value, count: 1)
    }

    /// Records `count` occurrences of one value.
    @inlinable
    package mutating func record(_ value: Int64, count: UInt64) {
        var recordedValue = value < 0 ? 0 : value
        if recordedValue > highestTrackableValue {
            recordedValue = highestTrackableValue
            clamped &+= count
        }
        counts[countsIndex(recordedValue)] &+= count
        total &+= count
        if recordedValue > maxRecorded { maxRecorded = recordedValue }
        if recordedValue < minRecorded { minRecorded = recordedValue }
    }

    /// Records a value and, when it exceeds `expectedInterval`, the values a sampler that waited
    /// for each response would have missed: value − interval, value − 2·interval, … down to the
    /// interval (HdrHistogram's coordinated-omission correction at record time).
    package mutating func recordCorrectedValue(_ value: Int64, expectedInterval: Int64) {
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
    package mutating func add(_ other: Histogram) {
        if other.counts.count == counts.count, other.unitMagnitude == unitMagnitude,
            other.subBucketHalfCountMagnitude == subBucketHalfCountMagnitude
        {
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
    package mutating func reset() {
        if total > 0 {
            let lo = countsIndex(minRecorded)
            let hi = Swift.min(countsIndex(maxRecorded), counts.count - 1)
            counts.withUnsafeMutableBufferPointer { buffer in
                for i in lo...hi { buffer[i] = 0 }
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
        let bucket = bucketIndex(value)
        let sub = Int(truncatingIfNeeded: value &>> Int64(bucket &+ unitMagnitude))
        return ((bucket &+ 1) &<< subBucketHalfCountMagnitude) &+ (sub &- subBucketHalfCount)
    }

    func valueFromIndex(_ index: Int) -> Int64 {
        var bucket = (index >> subBucketHalfCountMagnitude) - 1
        var sub = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
        if bucket < 0 {
            sub -= subBucketHalfCount
            bucket = 0
        }
        return Int64(sub) << Int64(bucket + unitMagnitude)
    }

    /// The width of the bucket `value` falls into (all values in it are "equivalent").
    package func sizeOfEquivalentRange(_ value: Int64) -> Int64 {
        let bucket = bucketIndex(value)
        let sub = Int(value >> Int64(bucket + unitMagnitude))
        let adjusted = sub >= subBucketCount ? bucket + 1 : bucket
        return Int64(1) << Int64(unitMagnitude + adjusted)
    }

    package func lowestEquivalentValue(_ value: Int64) -> Int64 {
        let bucket = bucketIndex(value)
        let sub = Int(value >> Int64(bucket + unitMagnitude))
        return Int64(sub) << Int64(bucket + unitMagnitude)
    }

    package func highestEquivalentValue(_ value: Int64) -> Int64 {
        lowestEquivalentValue(value) + sizeOfEquivalentRange(value) - 1
    }

    /// Whether two values land in the same bucket.
    package func valuesAreEquivalent(_ a: Int64, _ b: Int64) -> Bool {
        lowestEquivalentValue(a) == lowestEquivalentValue(b)
    }

    // MARK: Queries

    /// The smallest value recorded (exact), or 0 when empty.
    package var min: Int64 { totalCount == 0 ? 0 : minRecorded }
    /// The largest value recorded (exact, after clamping), or 0 when empty.
    package var max: Int64 { totalCount == 0 ? 0 : maxRecorded }

    /// The mean, using each bucket's median-equivalent value (HdrHistogram's definition).
    package var mean: Double {
        guard totalCount > 0 else { return 0 }
        var sum = 0.0
        for i in counts.indices where counts[i] != 0 {
            let value = valueFromIndex(i)
            let median = lowestEquivalentValue(value) + sizeOfEquivalentRange(value) >> 1
            sum += Double(median) * Double(counts[i])
        }
        return sum / Double(totalCount)
    }

    /// The standard deviation, on the same median-equivalent values as `mean`.
    package var standardDeviation: Double {
        guard totalCount > 0 else { return 0 }
        let average = mean
        var sum = 0.0
        for i in counts.indices where counts[i] != 0 {
            let value = valueFromIndex(i)
            let deviation = Double(lowestEquivalentValue(value) + sizeOfEquivalentRange(value) >> 1) - average
            sum += deviation * deviation * Double(counts[i])
        }
        return (sum / Double(totalCount)).squareRoot()
    }

    /// The value at or below which `percentile` % of the recorded values fall (the highest value
    /// equivalent to it; for 0 the lowest; capped at the exact `max`). 0 when empty.
    package func valueAtPercentile(_ percentile: Double) -> Int64 {
        guard totalCount > 0 else { return 0 }
        let boundedPercentile = Swift.min(Swift.max(percentile, 0), 100)
        var target = UInt64((boundedPercentile / 100 * Double(totalCount)).rounded(.up))
        if target < 1 { target = 1 }
        var running: UInt64 = 0
        for i in counts.indices where counts[i] != 0 {
            running &+= counts[i]
            if running >= target {
                let value = valueFromIndex(i)
                if boundedPercentile == 0 { return Swift.max(lowestEquivalentValue(value), minRecorded) }
                return Swift.min(highestEquivalentValue(value), maxRecorded)
            }
        }
        return maxRecorded
    }

    /// The percentage of recorded values at or below `value` (bucket-equivalent).
    package func percentileAtOrBelow(_ value: Int64) -> Double {
        guard totalCount > 0 else { return 100 }
        let last = Swift.min(countsIndex(Swift.min(Swift.max(value, 0), highestTrackableValue)), counts.count - 1)
        var below: UInt64 = 0
        for i in 0...last { below &+= counts[i] }
        return 100 * Double(below) / Double(totalCount)
    }

    /// Number of recorded values between `range` bounds (bucket-equivalent, inclusive).
    package func count(within range: ClosedRange<Int64>) -> UInt64 {
        let lo = countsIndex(Swift.max(range.lowerBound, 0))
        let hi = Swift.min(countsIndex(Swift.min(range.upperBound, highestTrackableValue)), counts.count - 1)
        guard lo <= hi else { return 0 }
        var sum: UInt64 = 0
        for i in lo...hi { sum &+= counts[i] }
        return sum
    }

    /// Each non-empty bucket: its highest equivalent value and its count, ascending.
    var recordedValues: [(value: Int64, count: UInt64)] {
        counts.indices.compactMap { i in
            counts[i] == 0 ? nil : (highestEquivalentValue(valueFromIndex(i)), counts[i])
        }
    }

    /// One row of a percentile spectrum.
    package struct PercentilePoint: Sendable, Equatable {
        package var percentile: Double
        package var value: Int64
        var countAtOrBelow: UInt64
    }

    /// The percentile spectrum as HdrHistogram's percentile iterator walks it: `ticksPerHalfDistance`
    /// steps between 0 and 50 %, as many between 50 and 75 %, and so on, ending at 100 %.
    package func percentileSpectrum(ticksPerHalfDistance: Int = 5) -> [PercentilePoint] {
        guard totalCount > 0 else { return [] }
        var points: [PercentilePoint] = []
        var percentile = 0.0
        while points.count < 10_000 {
            let value = valueAtPercentile(percentile)
            let belowCount = countAtOrBelow(value)
            points.append(PercentilePoint(percentile: percentile, value: value, countAtOrBelow: belowCount))
            if belowCount >= totalCount {
                if percentile < 100 { points.append(PercentilePoint(percentile: 100, value: max, countAtOrBelow: totalCount)) }
                break
            }
            let ticks = Double(ticksPerHalfDistance) * pow2(floorLog2(100 / (100 - percentile)) + 1)
            percentile = Swift.min(percentile + 100 / ticks, 100)
        }
        return points
    }

    func countAtOrBelow(_ value: Int64) -> UInt64 {
        let last = Swift.min(countsIndex(Swift.min(Swift.max(value, 0), highestTrackableValue)), counts.count - 1)
        var sum: UInt64 = 0
        for i in 0...last { sum &+= counts[i] }
        return sum
    }

    /// The spectrum as HdrHistogram's `.hgrm` text (values divided by `scale`, e.g. 1000 for µs from ns).
    package func percentileDistributionText(scale: Double = 1, ticksPerHalfDistance: Int = 5) -> String {
        var out = "       Value     Percentile TotalCount 1/(1-Percentile)\n\n"
        for point in percentileSpectrum(ticksPerHalfDistance: ticksPerHalfDistance) {
            let inverse = point.percentile >= 100 ? "" : TimeText.fixed(1 / (1 - point.percentile / 100), 2)
            out +=
                pad(TimeText.fixed(Double(point.value) / scale, 3), 12) + " "
                + pad(TimeText.fixed(point.percentile / 100, 12), 14) + " "
                + pad(String(point.countAtOrBelow), 10) + " " + pad(inverse, 14) + "\n"
        }
        out += "#[Mean    = \(TimeText.fixed(mean / scale, 3)), StdDeviation   = \(TimeText.fixed(standardDeviation / scale, 3))]\n"
        out += "#[Max     = \(TimeText.fixed(Double(max) / scale, 3)), Total count    = \(totalCount)]\n"
        return out
    }

    package static func == (a: Histogram, b: Histogram) -> Bool {
        a.unit == b.unit && a.lowestDiscernibleValue == b.lowestDiscernibleValue
            && a.highestTrackableValue == b.highestTrackableValue && a.significantDigits == b.significantDigits
            && a.totalCount == b.totalCount && a.counts == b.counts
    }
}

private func log2Ceil(_ v: Int64) -> Int {
    var exponent = 0
    while (Int64(1) << Int64(exponent)) < v { exponent += 1 }
    return exponent
}

/// floor(log2(x)) for x ≥ 1, without Foundation.
private func floorLog2(_ x: Double) -> Double {
    var exponent = 0.0
    var remaining = x
    while remaining >= 2 { remaining /= 2; exponent += 1 }
    return exponent
}

private func pow2(_ e: Double) -> Double {
    var result = 1.0
    var step = 0.0
    while step < e { result *= 2; step += 1 }
    return result
}

private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}
