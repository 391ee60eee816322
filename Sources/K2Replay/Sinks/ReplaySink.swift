import K2Capture
import K2Core
import Synchronization

/// One message the replay engine hands to its sinks. The record is a view into the reader's
/// block, valid only during `ReplaySink.send`: a sink copies what it keeps, or holds the block
/// (`record.block`, see `CaptureBlock`) until it is done with the bytes.
package struct ReplayMessage {
    /// The capture record (kind, receive time, connection, payload bytes).
    package let record: CaptureRecord
    /// Stream, symbol and event type found in the payload: computed once per message by the
    /// engine when a sink declares `usesPayloadFields` (or `--shard` needs the symbol), else
    /// extracted here on access.
    package var fields: PayloadFields { precomputedFields ?? PayloadFields.extract(record.payload) }
    /// The engine's extraction, or nil when it skipped it.
    package let precomputedFields: PayloadFields?
    /// 0-based position of the message in this replay (across loops and merged captures).
    package let sequence: UInt64
    /// The capture's receive time, shifted by the capture's span for each `--loop` round, ns since epoch.
    package let captureNanos: Int64
    /// When the pacing schedule said to send it (monotonic clock, ns).
    package let intendedNanos: Int64
    /// When the engine actually handed it to the sinks (monotonic clock, ns). At `--speed max`
    /// the engine reads the clock once per `ReplayEngine.maxStampEvery` messages: the messages of
    /// a batch share the stamp of its first one (sequence multiple of 64), which is exact.
    package let actualNanos: Int64
    /// The venue, from the capture header's `exchange` metadata (`binance`, `kraken`, `coinbase`), or "unknown".
    package let exchange: String

    /// `fields` nil: extracted from the payload when a sink reads `fields`.
    package init(
        record: CaptureRecord, fields: PayloadFields?, sequence: UInt64, captureNanos: Int64,
        intendedNanos: Int64, actualNanos: Int64, exchange: String
    ) {
        self.record = record
        self.precomputedFields = fields
        self.sequence = sequence
        self.captureNanos = captureNanos
        self.intendedNanos = intendedNanos
        self.actualNanos = actualNanos
        self.exchange = exchange
    }
}

/// Where replayed messages go. Every message handed to `send` must end as delivered or failed
/// (never silently dropped); `counts` reports where each one stands.
///
/// The engine calls `open`, then `send` from one thread at the replay pace, then `finish`.
/// `send` must not block for long: sinks queue and deliver on their own threads.
///
/// A sink that cannot go on (destination gone after its bounded retries) throws from `send`;
/// it must have counted that message itself (as failed). The engine then stops the replay,
/// calls `finish` on every sink and reports the messages not handed over as never sent.
///
/// New sinks register a `SinkMaker` in `SinkFactory.makers` (Sinks/SinkFactory.swift).
package protocol ReplaySink: AnyObject {
    /// The sink's URI as the user gave it (for reports).
    var uri: String { get }
    /// Connects and checks the destination (broker reachable, table exists …). Throws one
    /// actionable error before the replay starts.
    func open() throws
    /// Hands over one message; copies what it keeps (or holds `record.block`).
    func send(_ message: borrowing ReplayMessage) throws
    /// Waits (up to `timeoutNanos`) until every message sent is delivered or failed, then closes.
    func finish(timeoutNanos: Int64) throws
    /// Where every message handed to `send` stands now.
    var counts: SinkCounts { get }
    /// Counts plus latency histograms and sink-specific figures, for the summary. The default
    /// has the counts and empty histograms; sinks that measure delivery use a `SinkRecorder`.
    var stats: SinkStats { get }
    /// Whether `send` reads `message.fields`. When no sink does (and no `--shard`), the engine
    /// skips the payload scan; `fields` then scans on access. Default true.
    var usesPayloadFields: Bool { get }
    /// Called by the engine once, after `open` and before the first `send`, with the pace. Default: nothing.
    func willStart(pace: Pace)
    /// Total time `send` has spent waiting for the destination to make room (back-pressure:
    /// librdkafka's queue full, ClickHouse's pending batches), ns; read by the engine on the
    /// sending thread once per interval. Default 0 (a sink that never waits).
    var blockedNanos: Int64 { get }
}

extension ReplaySink {
    package var stats: SinkStats { SinkStats(counts: counts) }
    package var usesPayloadFields: Bool { true }
    package func willStart(pace: Pace) {}
    package var blockedNanos: Int64 { 0 }
}

/// Message accounting for one sink: `sent == delivered + failed + unknown + unrouted + inFlight`.
package struct SinkCounts: Sendable, Equatable, Codable {
    package var sent: UInt64 = 0
    package var delivered: UInt64 = 0
    package var failed: UInt64 = 0
    /// Messages whose fate the sink could not learn (an insert the server may or may not have
    /// written when it stopped answering, a request still unanswered at exit). Never counted
    /// as delivered; a replay with any is incomplete (exit 1).
    package var unknown: UInt64 = 0
    /// Messages no destination asked for (a `ws://` message that matches no client's
    /// subscription): neither delivered nor failed, as at the venue.
    package var unrouted: UInt64 = 0
    /// Deliveries of a message to one of several destinations that did not happen (a `ws://`
    /// client that left or fell behind), counted per destination; a replay with any is
    /// incomplete (exit 1) even when the message reached another destination.
    package var dropped: UInt64 = 0
    package var bytes: UInt64 = 0
    /// Distinct failure reasons with counts (e.g. the broker's error string).
    package var failureReasons: [String: UInt64] = [:]
    /// Why messages are of unknown fate, with counts.
    package var unknownReasons: [String: UInt64] = [:]

    package init() {}

    package var inFlight: UInt64 { sent &- delivered &- failed &- unknown &- unrouted }
}

/// What a sink reports at the end: counts, delivery latency measured from the intended send time
/// (coordinated-omission free: includes any lateness of the engine) and from the actual send
/// time (the destination's own latency), in ns, and sink-specific figures for the summary.
package struct SinkStats: Sendable {
    package var counts: SinkCounts
    /// Delivery (ack, insert done, frame written …) minus `ReplayMessage.intendedNanos`.
    package var latencyFromIntended: Histogram
    /// Delivery minus `ReplayMessage.actualNanos`.
    package var latencyFromActual: Histogram
    /// Sink-specific figures (queue depth, batches, …) as JSON members of the sink's summary entry.
    package var details: [(String, JSONValue)]

    init(
        counts: SinkCounts, latencyFromIntended: Histogram = Histogram(),
        latencyFromActual: Histogram = Histogram(), details: [(String, JSONValue)] = []
    ) {
        self.counts = counts
        self.latencyFromIntended = latencyFromIntended
        self.latencyFromActual = latencyFromActual
        self.details = details
    }
}

/// Thread-safe accounting a sink can delegate to: call `sent` from `send`, and `delivered` /
/// `failed` from whatever thread learns the outcome (delivery callback, HTTP response …).
/// `outcomes` records many deliveries under one lock (so a delivery thread does not contend
/// with the sending thread once per message).
final class SinkRecorder: @unchecked Sendable {
    // unchecked: outcomes under `lock`.
    private let lock = Lock()
    private var state = Outcomes()
    /// Sent messages and bytes: atomics, not under `lock`, so that `sent` (once per message on
    /// the sending thread) neither takes a mutex nor waits while a delivery thread records a
    /// batch. Read after `state` (under the lock), so a snapshot never has more delivered than sent.
    private let sentCount = Atomic<UInt64>(0)
    private let sentBytes = Atomic<UInt64>(0)
    let clock: any NanoClock

    /// Delivered and failed counts with the latency histograms; mutate it through `outcomes`.
    struct Outcomes {
        var counts = SinkCounts()
        var fromIntended = Histogram()
        var fromActual = Histogram()

        /// One message delivered at `now` (monotonic ns), meant to be sent at `intendedNanos`,
        /// handed over at `actualNanos`.
        @inline(__always)
        mutating func delivered(intendedNanos: Int64, actualNanos: Int64, now: Int64, count n: UInt64 = 1) {
            counts.delivered &+= n
            fromIntended.record(now - intendedNanos, count: n)
            fromActual.record(now - actualNanos, count: n)
        }

        mutating func deliveredUntimed(count n: UInt64 = 1) { counts.delivered &+= n }

        mutating func failed(reason: String, count n: UInt64 = 1) {
            counts.failed &+= n
            counts.failureReasons[reason, default: 0] &+= n
        }

        /// `n` messages no destination asked for (`SinkCounts.unrouted`).
        mutating func unrouted(count n: UInt64 = 1) { counts.unrouted &+= n }

        /// `n` deliveries to one destination of a message that did not happen (`SinkCounts.dropped`).
        mutating func dropped(count n: UInt64) { counts.dropped &+= n }

        /// `n` messages whose fate the sink cannot learn, with why.
        mutating func unknown(reason: String, count n: UInt64 = 1) {
            counts.unknown &+= n
            counts.unknownReasons[reason, default: 0] &+= n
        }
    }

    init(clock: any NanoClock = SystemClock()) {
        self.clock = clock
    }

    /// One message accepted by the sink.
    @inline(__always)
    func sent(bytes: Int) {
        sentCount.wrappingAdd(1, ordering: .relaxed)
        sentBytes.wrappingAdd(UInt64(bytes), ordering: .relaxed)
    }

    /// `state.counts` with the sent figures (call with `lock` held).
    private var currentCounts: SinkCounts {
        var counts = state.counts
        counts.sent = sentCount.load(ordering: .relaxed)
        counts.bytes = sentBytes.load(ordering: .relaxed)
        return counts
    }

    /// Records a batch of outcomes under one lock (a delivery-report batch, an insert).
    @inline(__always)
    func outcomes<R>(_ body: (inout Outcomes) -> R) -> R {
        lock.withLock { body(&state) }
    }

    /// `n` messages delivered at `now` (monotonic ns; default the recorder's clock), that were meant
    /// to be sent at `intendedNanos` and were handed over at `actualNanos`.
    package func delivered(intendedNanos: Int64, actualNanos: Int64, now: Int64? = nil, count n: UInt64 = 1) {
        let deliveredAt = now ?? clock.monotonicNanos()
        lock.withLock { state.delivered(intendedNanos: intendedNanos, actualNanos: actualNanos, now: deliveredAt, count: n) }
    }

    /// `n` messages delivered without latency (e.g. a sink that cannot observe delivery time).
    func deliveredUntimed(count n: UInt64 = 1) {
        lock.withLock { state.deliveredUntimed(count: n) }
    }

    /// `n` messages that will never be delivered, with the destination's reason.
    func failed(reason: String, count n: UInt64 = 1) {
        lock.withLock { state.failed(reason: reason, count: n) }
    }

    /// `n` messages whose fate is unknown (the destination may or may not have them), with why.
    func unknown(reason: String, count n: UInt64 = 1) {
        lock.withLock { state.unknown(reason: reason, count: n) }
    }

    var snapshot: SinkCounts { lock.withLock { currentCounts } }

    func stats(details: [(String, JSONValue)] = []) -> SinkStats {
        lock.withLock {
            SinkStats(counts: currentCounts, latencyFromIntended: state.fromIntended, latencyFromActual: state.fromActual, details: details)
        }
    }
}
