#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Time in nanoseconds, as plain integers: cheap to read on hot paths and easy to move by hand in tests.
public protocol NanoClock: Sendable {
    /// Nanoseconds since the Unix epoch (UTC wall clock): what capture receive times use.
    func wallNanos() -> Int64
    /// Nanoseconds from an arbitrary fixed point, never going backwards: what pacing and latency use.
    func monotonicNanos() -> Int64
}

/// The system clocks (`CLOCK_REALTIME`, `CLOCK_MONOTONIC`), read through the vDSO (~20 ns).
public struct SystemClock: NanoClock {
    public init() {}

    @inline(__always)
    public func wallNanos() -> Int64 { Self.read(CLOCK_REALTIME) }

    @inline(__always)
    public func monotonicNanos() -> Int64 { Self.read(CLOCK_MONOTONIC) }

    @inline(__always)
    static func read(_ id: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }
}

/// A clock that only moves when told to: for unit tests of pacing, flushing and timeouts.
package final class ManualClock: NanoClock, @unchecked Sendable {
    // unchecked: both times under `lock`.
    private let lock = Lock()
    private var wall: Int64
    private var mono: Int64

    package init(wall: Int64 = 1_700_000_000_000_000_000, monotonic: Int64 = 0) {
        self.wall = wall
        self.mono = monotonic
    }

    package func wallNanos() -> Int64 { lock.withLock { wall } }
    package func monotonicNanos() -> Int64 { lock.withLock { mono } }

    /// Moves both clocks forward by `nanos`.
    package func advance(by nanos: Int64) {
        lock.withLock {
            wall += nanos
            mono += nanos
        }
    }
}
