import K2Core
import K2Net
import Logging

/// Everything `k2 record` needs; defaults are the production behaviour.
package struct RecordConfiguration: Sendable {
    /// The connections to record, each with its own connection id (0, 1, …) in the capture.
    package var plans: [ConnectionPlan]
    /// The capture path. With rotation, parts are named `NAME-0000.k2cap`, `NAME-0001.k2cap`, ….
    package var output: String
    /// Start a new file after this long (ns), if set.
    package var rotateEveryNanos: Int64?
    /// Start a new file once the current one reaches this many bytes, if set.
    package var rotateBytes: Int64?
    /// Stop by itself after this long (ns), if set.
    package var durationNanos: Int64?
    /// Longest time a received frame waits in memory before it is written (the most `kill -9` can lose).
    package var flushIntervalNanos: Int64 = 1_000_000_000
    /// Reconnect backoff: 1 s doubling to 128 s with ±20% jitter.
    package var backoffInitialNanos: Int64 = 1_000_000_000
    package var backoffMaxNanos: Int64 = 128_000_000_000
    var backoffJitter: Double = 0.2
    /// Seed of the jitter (tests fix it; by default it comes from the clock).
    package var seed: UInt64 = UInt64(truncatingIfNeeded: SystemClock().monotonicNanos())
    /// Receive times come from `clock.wallNanos()`.
    package var clock: any NanoClock = SystemClock()
    /// Extra header metadata (e.g. `command_line`).
    package var metadata: [(String, JSONValue)] = []
    package var client = WebSocketClient.Configuration()
    /// How progress is shown on stderr.
    package var status: StatusMode = .auto
    /// Where the events (`connect`, `gap`, `stop` …) and errors go, unless `status` is `.quiet`
    /// (errors always); the terminal status line is written to stderr directly.
    package var logger = Logger(label: "k2.record")
    /// zstd level of the capture.
    var compressionLevel: Int32 = 3
    /// A REST snapshot answered with a status other than 200, or not answered, is recorded as a
    /// `snapshot_failed` marker (never as a snapshot) and asked again this many times, after
    /// `snapshotRetryNanos`, doubling.
    package var snapshotRetries = 3
    package var snapshotRetryNanos: Int64 = 1_000_000_000
    /// Whether subscription errors from the venue stop the recording (exit 2).
    var stopOnRejectedSubscription = true

    package enum StatusMode: Sendable {
        /// A status line on a terminal, structured log lines otherwise.
        case auto
        case statusLine
        case log
        /// Only errors.
        case quiet
    }

    package init(plans: [ConnectionPlan], output: String) {
        self.plans = plans
        self.output = output
    }
}

/// What a recording did.
package struct RecordSummary: Sendable {
    package var frames: Int64 = 0
    package var payloadBytes: Int64 = 0
    package var records: Int64 = 0
    package var reconnects = 0
    package var gaps = 0
    /// Messages that repeat their stream's previous ids (`duplicate` markers).
    package var duplicates = 0
    /// Text frames that are not one whole JSON value (`malformed` markers).
    package var malformed = 0
    package var files: [String] = []
    package var durationNanos: Int64 = 0
    package var stopReason = ""
}
