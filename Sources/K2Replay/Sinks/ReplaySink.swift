import K2Capture

/// One message the replay engine hands to its sinks. The record is a view into the reader's
/// block, valid only during `ReplaySink.send`: a sink copies what it keeps.
public struct ReplayMessage {
    /// The capture record (kind, receive time, connection, payload bytes).
    public let record: CaptureRecord
    /// Stream, symbol and event type found in the payload (computed once per message by the engine).
    public let fields: PayloadFields
    /// 0-based position of the message in this replay (across loops and merged captures).
    public let sequence: UInt64
    /// The capture's receive time, shifted by the capture's span for each `--loop` round, ns since epoch.
    public let captureNanos: Int64
    /// When the pacing schedule said to send it (monotonic clock, ns).
    public let intendedNanos: Int64
    /// When the engine actually handed it to the sinks (monotonic clock, ns).
    public let actualNanos: Int64
    /// The venue, from the capture header's `exchange` metadata (`binance`, `kraken`, `coinbase`), or "unknown".
    public let exchange: String

    public init(record: CaptureRecord, fields: PayloadFields, sequence: UInt64, captureNanos: Int64,
                intendedNanos: Int64, actualNanos: Int64, exchange: String) {
        self.record = record
        self.fields = fields
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
public protocol ReplaySink: AnyObject {
    /// The sink's URI as the user gave it (for reports).
    var uri: String { get }
    /// Connects and checks the destination (broker reachable, table exists …). Throws one
    /// actionable error before the replay starts.
    func open() throws
    /// Hands over one message; copies what it keeps.
    func send(_ message: borrowing ReplayMessage) throws
    /// Waits (up to `timeoutNanos`) until every message sent is delivered or failed, then closes.
    func finish(timeoutNanos: Int64) throws
    /// Where every message handed to `send` stands now.
    var counts: SinkCounts { get }
}

/// Message accounting for one sink: `sent == delivered + failed + inFlight`.
public struct SinkCounts: Sendable, Equatable, Codable {
    public var sent: UInt64 = 0
    public var delivered: UInt64 = 0
    public var failed: UInt64 = 0
    public var bytes: UInt64 = 0
    /// Distinct failure reasons with counts (e.g. the broker's error string).
    public var failureReasons: [String: UInt64] = [:]

    public init() {}

    public var inFlight: UInt64 { sent &- delivered &- failed }
}
