import Foundation
import K2Core
import Testing

/// The classic coordinated-omission scenario (as HdrHistogram's own tests use it): 100 s of
/// perfect 1 ms responses sampled every 10 ms (10,000 values), then one 100 s stall.
/// Values in µs.
private func stallHistograms() -> (raw: Histogram, corrected: Histogram) {
    var raw = Histogram(unit: .microseconds)
    var corrected = Histogram(unit: .microseconds)
    for _ in 0..<10_000 {
        raw.record(1_000)
        corrected.recordCorrectedValue(1_000, expectedInterval: 10_000)
    }
    raw.record(100_000_000)
    corrected.recordCorrectedValue(100_000_000, expectedInterval: 10_000)
    return (raw, corrected)
}

private func near(_ actual: Int64, _ expected: Double, within fraction: Double = 0.001) -> Bool {
    abs(Double(actual) - expected) <= expected * fraction
}

@Test func stallCountsAndExtremes() {
    let (raw, corrected) = stallHistograms()
    #expect(raw.totalCount == 10_001)
    // The stall of 100 s at a 10 ms interval hides 9,999 more samples: 100 s − k·10 ms.
    #expect(corrected.totalCount == 20_000)
    #expect(raw.max == 100_000_000 && raw.min == 1_000)
    #expect(corrected.valuesAreEquivalent(corrected.max, 100_000_000))
}

@Test func stallPercentilesUncorrected() {
    let (raw, _) = stallHistograms()
    for percentile in [30.0, 99.0, 99.99] { #expect(near(raw.valueAtPercentile(percentile), 1_000)) }
    #expect(near(raw.valueAtPercentile(99.999), 100_000_000))
    #expect(near(raw.valueAtPercentile(100), 100_000_000))
}

@Test func stallPercentilesCorrected() {
    let (_, corrected) = stallHistograms()
    // Half the samples are 1 ms; the other half are spread evenly over 10 ms … 100 s, so the
    // p-th percentile above 50 % is (p − 50) / 50 × 100 s.
    #expect(near(corrected.valueAtPercentile(30), 1_000))
    #expect(near(corrected.valueAtPercentile(50), 1_000))
    for percentile in [75.0, 90.0, 99.0] {
        #expect(near(corrected.valueAtPercentile(percentile), (percentile - 50) / 50 * 100_000_000), "p\(percentile)")
    }
    #expect(near(corrected.valueAtPercentile(99.999), 100_000_000))
}

@Test func stallMeanAndDeviation() {
    let (raw, corrected) = stallHistograms()
    let rawMean = (10_000.0 * 1_000 + 100_000_000) / 10_001
    #expect(abs(raw.mean - rawMean) <= rawMean * 0.001)
    let mean = (1_000.0 + 50_000_000) / 2
    #expect(abs(corrected.mean - mean) <= mean * 0.001)
    var squares = 10_000 * (1_000.0 - mean) * (1_000.0 - mean)
    for value in stride(from: 10_000.0, through: 100_000_000, by: 10_000) { squares += (value - mean) * (value - mean) }
    let sd = (squares / 20_000).squareRoot()
    #expect(abs(corrected.standardDeviation - sd) <= sd * 0.001)
}

@Test func percentileAtOrBelowAndRanges() {
    let (raw, corrected) = stallHistograms()
    #expect(abs(raw.percentileAtOrBelow(5_000) - 99.99) < 0.0001)
    #expect(abs(corrected.percentileAtOrBelow(5_000) - 50) < 0.0001)
    #expect(abs(corrected.percentileAtOrBelow(100_000_000) - 100) < 0.0001)
    #expect(raw.count(within: 1_000...1_000) == 10_000)
    #expect(raw.count(within: 5_000...150_000_000) == 1)
    #expect(corrected.count(within: 5_000...150_000_000) == 10_000)
}

@Test func smallValuesAreExact() {
    var histogram = Histogram(unit: .nanoseconds)
    histogram.record(1)
    histogram.record(2)
    #expect(histogram.valueAtPercentile(50) == 1)
    #expect(histogram.valueAtPercentile(100) == 2)
    for _ in 0..<3 { histogram.record(2) }
    #expect(histogram.valueAtPercentile(25) == 2)
    // 3 significant digits: every value below 2048 has its own bucket.
    for value in Int64(0)..<2_048 where histogram.lowestEquivalentValue(value) != value { Issue.record("value \(value) not exact") }
    // Above, bucket widths stay ≤ 0.1 % of the value.
    var rng = SplitMix64(seed: 7)
    for _ in 0..<10_000 {
        let value = Int64(rng.next() % 3_600_000_000_000) + 1
        if Double(histogram.sizeOfEquivalentRange(value)) > Double(value) * 0.001 + 1 { Issue.record("bucket too wide at \(value)") }
        if !(histogram.lowestEquivalentValue(value) <= value && value <= histogram.highestEquivalentValue(value)) {
            Issue.record("range misses \(value)")
        }
    }
}

@Test func clampsOutOfRange() {
    var histogram = Histogram(unit: .microseconds, highestTrackableValue: 1_000_000)
    histogram.record(-5)
    histogram.record(5_000_000)
    #expect(histogram.totalCount == 2)
    #expect(histogram.clampedCount == 1)
    #expect(histogram.min == 0 && histogram.max == 1_000_000)
}

@Test func mergeIsExact() {
    var rng = SplitMix64(seed: 42)
    var all = Histogram()
    var thirds = Histogram()
    var rest = Histogram()
    for i in 0..<50_000 {
        let value = Int64(rng.next() % 10_000_000)
        all.record(value)
        if i % 3 == 0 { thirds.record(value) } else { rest.record(value) }
    }
    var merged = thirds
    merged.add(rest)
    #expect(merged == all)
    #expect(merged.max == all.max && merged.min == all.min)
    for percentile in [50.0, 90, 99, 99.9, 99.99, 100] { #expect(merged.valueAtPercentile(percentile) == all.valueAtPercentile(percentile)) }
}

@Test func v2EncodingRoundTrips() throws {
    let (raw, corrected) = stallHistograms()
    for histogram in [raw, corrected, Histogram(unit: .microseconds)] {
        let text = histogram.encodedBase64()
        #expect(text.hasPrefix("HISTF"))
        let back = try Histogram.decode(base64: text, unit: .microseconds)
        #expect(back == histogram)
        #expect(back.valueAtPercentile(99) == histogram.valueAtPercentile(99))
        #expect(try Histogram.decode(histogram.encodedV2(), unit: .microseconds) == histogram)
    }
    #expect(throws: CoreError.self) { try Histogram.decode([1, 2, 3, 4, 5, 6, 7, 8]) }
}

@Test func v2HeaderLayout() {
    var histogram = Histogram(unit: .nanoseconds)
    histogram.record(1)
    let bytes = histogram.encodedV2()
    // cookie 0x1c849313, payload length, offset 0, 3 digits, lowest 1, highest 3.6e12, ratio 1.0
    #expect(Array(bytes[0..<4]) == [0x1c, 0x84, 0x93, 0x13])
    #expect(Array(bytes[12..<16]) == [0, 0, 0, 3])
    #expect(Array(bytes[16..<24]) == [0, 0, 0, 0, 0, 0, 0, 1])
    #expect(Array(bytes[32..<40]) == [0x3f, 0xf0, 0, 0, 0, 0, 0, 0])
    // payload: one zero run of 1 (index 0) → zigzag(-1) = 1, then count 1 → zigzag(1) = 2
    #expect(Array(bytes[40...]) == [1, 2])
}

@Test func codableRoundTrip() throws {
    let (_, corrected) = stallHistograms()
    let data = try JSONEncoder().encode(corrected)
    let back = try JSONDecoder().decode(Histogram.self, from: data)
    #expect(back == corrected)
    #expect(back.unit == .microseconds)
}

@Test func hlogRoundTrip() throws {
    let (raw, corrected) = stallHistograms()
    var log = HistogramLogWriter(startNanos: 1_700_000_000_123_000_000)
    log.append(HistogramInterval(startSeconds: 0, lengthSeconds: 1, histogram: raw))
    log.append(HistogramInterval(startSeconds: 1, lengthSeconds: 1.5, tag: "mock", histogram: corrected))
    #expect(log.text.contains("#[StartTime: 1700000000.123 (seconds since epoch)"))
    #expect(log.text.contains("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"))
    // Interval_Max in ms: the 100 s stall.
    #expect(log.text.contains("0.000,1.000,100000.000,HISTF"))
    let parsed = try HistogramLogReader.parse(log.text, unit: .microseconds)
    #expect(parsed.startSeconds == 1_700_000_000.123)
    #expect(parsed.intervals.count == 2)
    #expect(parsed.intervals[0].histogram == raw)
    #expect(parsed.intervals[1].histogram == corrected)
    #expect(parsed.intervals[1].tag == "mock" && parsed.intervals[1].lengthSeconds == 1.5)
}

@Test func spectrumIsMonotoneAndEndsAtMax() {
    let (_, corrected) = stallHistograms()
    let points = corrected.percentileSpectrum()
    #expect(points.first?.percentile == 0)
    #expect(points.last?.percentile == 100)
    #expect(points.last?.value == corrected.max)
    for (point, next) in zip(points, points.dropFirst()) {
        #expect(point.percentile < next.percentile)
        #expect(point.value <= next.value)
    }
    #expect(corrected.percentileDistributionText(scale: 1_000).contains("Total count    = 20000"))
}

@Test func resetThenReuseEqualsFresh() throws {
    var rng = SplitMix64(seed: 3)
    var histogram = Histogram()
    for _ in 0..<10_000 { histogram.record(Int64(rng.next() % 5_000_000_000)) }
    histogram.reset()
    #expect(histogram.totalCount == 0 && histogram.max == 0 && histogram.encodedV2().count == 40)
    var fresh = Histogram()
    for _ in 0..<1_000 {
        let value = Int64(rng.next() % 100_000)
        histogram.record(value)
        fresh.record(value)
    }
    #expect(histogram == fresh)
    #expect(try Histogram.decode(histogram.encodedCompressedV2()) == fresh)
}

@Test func decodesAnotherImplementationsEncoding() throws {
    // The corrected stall histogram encoded by the Python `hdrhistogram` package (0.10.8):
    // an independent implementation of the V2 compressed format.
    let python =
        "HISTFAAAAP94nJNpmSzMwCCyiAECmKE0I4i4NnkJg/0HiMB5/gVzGD8aM/3lZ7rPyTSbjektC9N7FqaHzEzbmZi2whCEvZKRaSYj02wwiYng4tFM3lDoC2dhhwh5UyZlJlUMjClCmgpMEUUmQSZ+IBZEojFFCMvQRwUxenmZ2MGQFUqz4+CTo4I2pg4dFdQylZWJkYkZCaPyMEUIydPLjMHrssFixuB12XD0HRAwMsFJgkwilZHJHHKmjzp41MFDOjhYmFiQEUEmMWqGsvKBd8Fwd/Co/waTC9jYOMAIiSJRhLbKh5x9Q87Bo/YNbfsoM4CPhw+IIJAkxnDXN+QcTIpyALshh4E="
    let theirs = try Histogram.decode(base64: python, unit: .microseconds)
    let (_, ours) = stallHistograms()
    #expect(theirs == ours)
    #expect(theirs.valueAtPercentile(99) == 98_041_855)
    #expect(theirs.valueAtPercentile(90) == 80_019_455)
}
