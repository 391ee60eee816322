import K2Capture
import Logging

/// Faults the exchange simulator injects on every connection (0 / nil = off). Set by the
/// profile's `faults:` section (docs/sim-profiles.md) and the `k2 sim exchange` flags.
public struct FaultPlan: Sendable, Equatable {
    /// Drop the TCP connection (no close frame: the client sees 1006) every this many ns.
    public var dropEveryNanos: Int64?
    /// Every `stallEveryNanos`, send nothing for `stallForNanos` (messages queue, then burst).
    public var stallEveryNanos: Int64?
    public var stallForNanos: Int64 = 2_000_000_000
    /// Skip (never send) every N-th data message: a gap in trade ids / depth update ids.
    public var gapEvery: Int = 0
    /// Send every N-th data message twice.
    public var duplicateEvery: Int = 0
    /// Swap every N-th data message with the one after it.
    public var reorderEvery: Int = 0
    /// Send a truncated (malformed JSON) text frame instead of every N-th data message.
    public var malformedEvery: Int = 0
    /// Close each connection after this long, like Binance's 24-hour limit (close code 1001).
    public var closeAfterNanos: Int64? = 86_400_000_000_000

    public init() {}

    public var isEmpty: Bool {
        dropEveryNanos == nil && stallEveryNanos == nil && gapEvery == 0 && duplicateEvery == 0 && reorderEvery == 0 && malformedEvery == 0
    }
}

/// Settings of `k2 sim exchange`.
public struct ExchangeOptions: Sendable {
    public var venue: Venue
    /// 127.0.0.1 unless asked otherwise.
    public var host = "127.0.0.1"
    /// 0 picks a free port.
    public var port = 0
    /// The market: symbols, seed, and the timeline whose load shapes set the message rate of
    /// each connection (`SimProfile.constant(rate:…)` for a fixed rate).
    public var profile: SimProfile
    /// Ignore the timeline's pacing and send as fast as each client reads (benchmarks).
    public var unpaced = false
    /// `--rate max` (benchmarks of clients faster than the market model): when > 0, each
    /// connection generates this many messages at a time, encodes them as WebSocket frames into
    /// one buffer and streams it as zero-copy slices of up to 256 KiB per write, as fast as the
    /// client reads, then generates the next chunk from the same feed: the market continues
    /// (ids and `sequence_num` never jump back, books stay consistent), so a recording shows no
    /// gaps. Control frames (acks, heartbeats) go out between chunks; faults are not applied.
    /// 0 = off.
    public var maxRatePool = 0
    public var faults = FaultPlan()
    /// Binance sends a ping frame this often (clients answer with pong).
    public var pingEveryNanos: Int64 = 20_000_000_000
    /// Kraken `heartbeat` / Coinbase `heartbeats` interval.
    public var heartbeatEveryNanos: Int64 = 1_000_000_000
    /// Write what was sent on every connection to this capture (`recv` records = frames sent to
    /// the client, `send` records = frames the client sent, markers = faults).
    public var logPath: String?
    /// Log connections and faults (events through `logger`: `key=value` lines on stderr with
    /// k2's handler).
    public var verbose = true
    /// Where the connection and fault events go.
    public var logger = Logger(label: "k2.sim.exchange")

    /// Faults start as the profile's `faults:` section.
    public init(venue: Venue, profile: SimProfile) {
        self.venue = venue
        self.profile = profile
        faults = profile.faults
    }
}
