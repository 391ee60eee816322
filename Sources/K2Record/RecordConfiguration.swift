import K2Core
import K2Net
import Logging

/// Everything `k2 record` needs; defaults are the production behaviour.
public struct RecordConfiguration: Sendable {
    /// The connections to record, each with its own connection id (0, 1, …) in the capture.
    public var plans: [ConnectionPlan]
    /// The capture path. With rotation, parts are named `NAME-0000.k2cap`, `NAME-0001.k2cap`, ….
    public var output: String
    /// Start a new file after this long (ns), if set.
    public var rotateEveryNanos: Int64?
    /// Start a new file once the current one reaches this many bytes, if set.
    public var rotateBytes: Int64?
    /// Stop by itself after this long (ns), if set.
    public var durationNanos: Int64?
    /// Longest time a received frame waits in memory before it is written (the most `kill -9` can lose).
    public var flushIntervalNanos: Int64 = 1_000_000_000
    /// Reconnect backoff: 1 s doubling to 128 s with ±20% jitter.
    public var backoffInitialNanos: Int64 = 1_000_000_000
    public var backoffMaxNanos: Int64 = 128_000_000_000
    public var backoffJitter: Double = 0.2
    /// Seed of the jitter (tests fix it; by default it comes from the clock).
    public var seed: UInt64 = UInt64(truncatingIfNeeded: SystemClock().monotonicNanos())
    /// Receive times come from `clock.wallNanos()`.
    public var clock: any NanoClock = SystemClock()
    /// Extra header metadata (e.g. `command_line`).
    public var metadata: [(String, JSONValue)] = []
    public var client = WebSocketClient.Configuration()
    /// How progress is shown on stderr.
    public var status: StatusMode = .auto
    /// Where the events (`connect`, `gap`, `stop` …) and errors go, unless `status` is `.quiet`
    /// (errors always); the terminal status line is written to stderr directly.
    public var logger = Logger(label: "k2.record")
    /// zstd level of the capture.
    public var compressionLevel: Int32 = 3
    /// Whether subscription errors from the venue stop the recording (exit 2).
    public var stopOnRejectedSubscription = true

    public enum StatusMode: Sendable {
        /// A status line on a terminal, structured log lines otherwise.
        case auto
        case statusLine
        case log
        /// Only errors.
        case quiet
    }

    public init(plans: [ConnectionPlan], output: String) {
        self.plans = plans
        self.output = output
    }
}

/// What a recording did.
public struct RecordSummary: Sendable {
    public var frames: Int64 = 0
    public var payloadBytes: Int64 = 0
    public var records: Int64 = 0
    public var reconnects = 0
    public var gaps = 0
    /// Messages that repeat their stream's previous ids (`duplicate` markers).
    public var duplicates = 0
    /// Text frames that are not one whole JSON value (`malformed` markers).
    public var malformed = 0
    public var files: [String] = []
    public var durationNanos: Int64 = 0
    public var stopReason = ""
}
