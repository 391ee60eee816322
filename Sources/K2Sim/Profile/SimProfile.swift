import K2Capture
import K2Core

/// A simulation profile: which venues, what market, which seed, what load over time.
/// Read from YAML by `ProfileLoader` (keys in docs/sim-profiles.md) or built in code.
package struct SimProfile: Sendable, Equatable {
    /// Name written to capture metadata (`profile`).
    package var name: String = "adhoc"
    /// One seed for everything: market, arrivals, bursts.
    package var seed: UInt64 = 1
    /// Venues; each gets its own connection carrying the whole timeline's rate.
    package var venues: [Venue] = [.binance]
    /// Wall-clock time of the first message, ns since the epoch (default 2024-01-01T00:00:00Z).
    package var startNanos: Int64 = 1_704_067_200_000_000_000
    package var market = MarketConfig()
    /// Binance: combined-stream wrapping (true) or raw `/ws` payloads.
    package var binanceCombined = true
    /// Binance depth stream suffix (`@depth@100ms` or `@depth`).
    var binanceDepthSuffix = "@depth@100ms"
    /// Binance streams a generated capture subscribes to and contains (`binance.streams`):
    /// `.trade` (every fill), `.aggTrade` (one per trade event), `.depth`. Default all three.
    /// Messages of other streams are generated (the market is the same) but not written.
    package var binanceStreams: [MessageKind] = [.trade, .aggTrade, .depth]
    /// Kraken book depth in channel names (`book-25`).
    package var krakenBookDepth = 25
    /// Faults `k2 sim exchange` injects on every connection (the `faults:` section; flags
    /// override single keys). `k2 sim generate` ignores them.
    package var faults = FaultPlan()
    package var timeline: Timeline

    package init(timeline: Timeline) { self.timeline = timeline }

    /// A constant-rate profile, as `k2 sim generate --rate N --duration D` builds it.
    package static func constant(
        rate: Double, duration: Int64, venue: Venue = .binance, seed: UInt64 = 1,
        arrivals: ArrivalMode = .poisson
    ) -> SimProfile {
        var profile = SimProfile(timeline: Timeline([LoadSegment(shape: .constant(rate: rate), length: duration, arrivals: arrivals)]))
        profile.name = "constant-\(Int(rate))"
        profile.venues = [venue]
        profile.seed = seed
        return profile
    }

    /// The seed used for venue `index`'s market and arrivals (venue 0 uses `seed` itself).
    package func seed(forVenue index: Int) -> UInt64 {
        index == 0 ? seed : seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
    }
}
