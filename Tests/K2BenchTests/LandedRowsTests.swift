import K2Bench
import K2Capture
import K2Core
import K2Replay
import Testing

/// Per-interval ClickHouse rows landed and rows behind (pipeline workloads), from counts handed
/// to the recorder by hand.
struct LandedRowsTests {
    static func counts(delivered: UInt64) -> SinkCounts {
        var result = SinkCounts()
        result.sent = delivered
        result.delivered = delivered
        return result
    }

    @Test func landedAndBehindPerInterval() {
        let recorder = RunRecorder(measureFromNanos: 0)
        recorder.baseline(sinks: [Self.counts(delivered: 100)], consumed: nil, landed: 50)
        recorder.closeInterval(now: 1_000_000_000, sinks: [Self.counts(delivered: 1_100)], consumed: nil, landed: 850, landedSink: 0)
        recorder.closeInterval(now: 2_000_000_000, sinks: [Self.counts(delivered: 2_100)], consumed: nil, landed: 2_100, landedSink: 0)
        let iv = recorder.intervals
        #expect(iv.count == 2)
        #expect(iv[0].landedRows == 800)
        #expect(iv[0].clickhouseBehind == 250)
        #expect(iv[1].landedRows == 1_250)
        #expect(iv[1].clickhouseBehind == 0)
    }

    /// A count that steps back (a racing query) gives 0 rows for the interval, never a wrapped
    /// 18-digit figure.
    @Test func aCountThatStepsBackIsZeroNotAWrap() {
        let recorder = RunRecorder(measureFromNanos: 0)
        recorder.baseline(sinks: [Self.counts(delivered: 0)], consumed: nil, landed: 500)
        recorder.closeInterval(now: 1_000_000_000, sinks: [Self.counts(delivered: 600)], consumed: nil, landed: 498, landedSink: 0)
        #expect(recorder.intervals[0].landedRows == 0)
        #expect(recorder.intervals[0].clickhouseBehind == 102)
    }

    /// An hour of 1 s intervals keeps its per-interval lateness histograms small: the soak grew by
    /// 1 GB an hour when each interval kept a raw nanosecond histogram (~275 KB).
    @Test func anHourOfIntervalsKeepsTheirLatenessHistogramsSmall() throws {
        let recorder = RunRecorder(measureFromNanos: 0)
        recorder.baseline(sinks: [Self.counts(delivered: 0)], consumed: nil)
        var rng = SplitMix64(seed: 7)
        for second in 1...3_600 {
            for _ in 0..<20 {
                let intended = Int64(second - 1) * 1_000_000_000 + Int64(rng.next() % 900_000_000)
                let record = OwnedRecord(kind: .recv, timestamp: intended, connection: 0, text: "x")
                record.withView { view in
                    try? recorder.send(
                        ReplayMessage(
                            record: view, fields: nil, sequence: 0, captureNanos: intended, intendedNanos: intended,
                            actualNanos: intended + Int64(rng.next() % 5_000_000), exchange: "binance"))
                }
            }
            recorder.closeInterval(now: Int64(second) * 1_000_000_000, sinks: [Self.counts(delivered: 0)], consumed: nil)
        }
        let kept = recorder.latenessIntervals
        #expect(kept.count == 3_600)
        let bytes = kept.reduce(0) { $0 + $1.base64.utf8.count }
        #expect(bytes < 3_600 * 2_048, "\(bytes) bytes for an hour of intervals")
        // They still decode to the lateness recorded.
        let first = try Histogram.decode(base64: kept[0].base64)
        #expect(first.totalCount == 20)
    }
}
