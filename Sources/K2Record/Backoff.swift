import K2Core

/// Reconnect delays: exponential from `initialNanos` doubling to `maxNanos`, each with up to
/// ±`jitter` (fraction) random spread, from a seeded generator. The platform's feed handlers
/// use 1 s → 128 s. A pure value: `next()` gives the delay for the next attempt.
package struct Backoff: Sendable {
    var initialNanos: Int64
    package var maxNanos: Int64
    package var jitter: Double
    package private(set) var attempt = 0
    private var rng: SplitMix64

    package init(initialNanos: Int64 = 1_000_000_000, maxNanos: Int64 = 128_000_000_000, jitter: Double = 0.2, seed: UInt64) {
        self.initialNanos = initialNanos
        self.maxNanos = maxNanos
        self.jitter = jitter
        rng = SplitMix64(seed: seed)
    }

    /// The delay before the next attempt, and counts the attempt.
    package mutating func next() -> Int64 {
        let shift = min(attempt, 40)
        let base = min(maxNanos, initialNanos << Int64(shift) > 0 ? initialNanos << Int64(shift) : maxNanos)
        attempt += 1
        let spread = (rng.nextDouble() * 2 - 1) * jitter
        return max(0, Int64(Double(base) * (1 + spread)))
    }

    /// After a successful connection: start again from `initialNanos`.
    package mutating func reset() { attempt = 0 }
}
