import K2Bench
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
}
