import K2Capture
import K2Core
import K2Replay

/// Records what a replay did, per interval (1 s) and in total: offered vs sent messages and
/// bytes, replay lateness (actual − intended send time) in HdrHistograms, and per-sink counts
/// sampled at each interval boundary (delivered, backlog). It joins the replay as one more sink
/// (`measure://`), so the engine needs no hook; its `send` allocates nothing.
package final class RunRecorder: ReplaySink, @unchecked Sendable {
    // unchecked: mutable state under `lock`.
    package let uri = "measure://"
    private let lock = Lock()
    private let intervalNanos: Int64
    /// Monotonic time measuring starts (end of warm-up); messages intended earlier are warm-up.
    private var measureFrom: Int64
    private var warmupDone = false

    // Totals over the measured window.
    private var lateness = Histogram(unit: .nanoseconds)
    private var sentTotal: UInt64 = 0
    private var bytesTotal: UInt64 = 0
    private var _counts = SinkCounts()

    // The interval being filled.
    private var ivLateness = Histogram(unit: .nanoseconds)
    private var ivSent: UInt64 = 0
    private var ivBytes: UInt64 = 0
    /// Offered = messages whose intended time falls in an interval, by interval index.
    private var offeredByInterval: [UInt64] = []
    private var sentByInterval: [UInt64] = []

    package private(set) var intervals: [BenchReport.IntervalPoint] = []
    /// One lateness histogram per closed interval, kept encoded (a few hundred bytes each): a raw
    /// nanosecond histogram is ~275 KB, which made an hour's run grow by 1 GB (found by the soak).
    package private(set) var latenessIntervals: [EncodedHistogramInterval] = []
    private var lastSinkCounts: [SinkCounts] = []
    private var lastConsumed: UInt64?
    private var lastLanded: UInt64?
    private var lastCloseAt: Int64

    package init(measureFromNanos: Int64, intervalNanos: Int64 = 1_000_000_000) {
        self.measureFrom = measureFromNanos
        self.intervalNanos = intervalNanos
        self.lastCloseAt = measureFromNanos
        offeredByInterval.reserveCapacity(4096)
    }

    package func open() throws {}
    package func finish(timeoutNanos: Int64) throws {}
    package var counts: SinkCounts { lock.withLock { _counts } }

    package func send(_ message: borrowing ReplayMessage) throws {
        let intended = message.intendedNanos, actual = message.actualNanos
        let bytes = UInt64(message.record.payload.count)
        lock.withLock {
            _counts.sent &+= 1
            _counts.delivered &+= 1
            _counts.bytes &+= bytes
            guard intended >= measureFrom else { return }
            let late = Swift.max(0, actual - intended)
            lateness.record(late)
            ivLateness.record(late)
            sentTotal &+= 1
            bytesTotal &+= bytes
            ivSent &+= 1
            ivBytes &+= bytes
            let idx = Int((intended - measureFrom) / intervalNanos)
            if idx < 1 << 20 {
                if idx >= offeredByInterval.count {
                    offeredByInterval.append(contentsOf: repeatElement(0, count: idx - offeredByInterval.count + 1))
                }
                offeredByInterval[idx] &+= 1
            }
        }
    }

    /// Moves the start of measuring (after warm-up, when the harness knows the engine's clock origin).
    func setMeasureFrom(_ nanos: Int64) {
        lock.withLock {
            measureFrom = nanos
            lastCloseAt = nanos
        }
    }

    /// Sets the per-sink counts at the start of measuring (deltas are taken against them).
    package func baseline(sinks: [SinkCounts], consumed: UInt64?, landed: UInt64? = nil) {
        lock.withLock {
            lastSinkCounts = sinks
            lastConsumed = consumed
            lastLanded = landed
            ivSent = 0
            ivBytes = 0
            ivLateness.reset()
        }
    }

    /// Closes the interval ending at `now` (monotonic ns) with the sinks' counts at that moment.
    /// `landed`: rows landed in ClickHouse so far this repetition (probe rows excluded), with the
    /// index of the Kafka sink feeding the pipeline in `landedSink`.
    package func closeInterval(now: Int64, sinks: [SinkCounts], consumed: UInt64?, landed: UInt64? = nil, landedSink: Int = 0) {
        lock.withLock {
            let seconds = Double(now - lastCloseAt) / 1e9
            guard seconds > 0 else { return }
            let idx = intervals.count
            let offered = idx < offeredByInterval.count ? Double(offeredByInterval[idx]) : 0
            var delivered: [Double] = [], mb: [Double] = [], backlog: [Double] = []
            for (i, counts) in sinks.enumerated() {
                let prev = i < lastSinkCounts.count ? lastSinkCounts[i] : SinkCounts()
                delivered.append(Double(counts.delivered &- prev.delivered))
                mb.append(Double(counts.bytes &- prev.bytes) / 1e6)
                backlog.append(Double(counts.inFlight))
            }
            var consumedDelta: Double?
            if let consumed { consumedDelta = Double(consumed &- (lastConsumed ?? 0)) }
            let p99 = ivLateness.totalCount > 0 ? Double(ivLateness.valueAtPercentile(99)) / 1e6 : nil
            let mx = ivLateness.totalCount > 0 ? Double(ivLateness.max) / 1e6 : nil
            intervals.append(
                BenchReport.IntervalPoint(
                    t: Double(now - measureFrom) / 1e9, seconds: seconds, offeredMsgs: offered, sentMsgs: Double(ivSent),
                    deliveredMsgs: delivered, sentMB: mb, backlog: backlog, consumedMsgs: consumedDelta,
                    latenessP99Ms: p99, latenessMaxMs: mx))
            if let landed {
                let before = lastLanded ?? 0
                intervals[intervals.count - 1].landedRows = landed >= before ? Double(landed - before) : 0
                if landedSink < sinks.count {
                    intervals[intervals.count - 1].clickhouseBehind = Swift.max(0, Double(sinks[landedSink].delivered) - Double(landed))
                }
            }
            lastLanded = landed
            latenessIntervals.append(
                EncodedHistogramInterval(
                    HistogramInterval(
                        startSeconds: Double(lastCloseAt - measureFrom) / 1e9, lengthSeconds: seconds,
                        tag: "lateness", histogram: ivLateness)))
            ivLateness.reset()
            ivSent = 0
            ivBytes = 0
            lastSinkCounts = sinks
            lastConsumed = consumed
            lastCloseAt = now
        }
    }

    var latenessHistogram: Histogram { lock.withLock { lateness } }
    var measuredSent: UInt64 { lock.withLock { sentTotal } }
    var measuredBytes: UInt64 { lock.withLock { bytesTotal } }
}
