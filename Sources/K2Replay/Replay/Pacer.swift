import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How fast to replay.
package enum Pace: Sendable, Equatable, CustomStringConvertible {
    /// Capture time divided by the multiplier (1 = as recorded, 100 = a hundred times faster, 0.5 = half speed).
    case speed(Double)
    /// As fast as the sinks take it: no schedule; intended = actual send time.
    case max
    /// A fixed message rate, ignoring capture times: message `seq` is due at start + seq / rate.
    case rate(Double)
    /// Fixed rates in steps (a burst phase): message `seq` is due at start + `schedule.offset(seq)`.
    case rates(RateSchedule)

    package var description: String {
        switch self {
        case let .speed(speed): return TimeText.fixed(speed, speed < 1 ? 3 : (speed == speed.rounded() ? 0 : 2)) + "x"
        case .max: return "max"
        case let .rate(rate): return TimeText.fixed(rate, rate == rate.rounded() ? 0 : 2) + " msg/s"
        case let .rates(schedule): return schedule.description
        }
    }
}

/// The replay schedule: a pure function from a message's capture time (or sequence number) to
/// its intended send time on the monotonic clock, anchored to the start so that no error
/// accumulates however long the replay runs.
///
///     speed:  intended = start + (captureNanos − captureStart) / speed
///     rate:   intended = start + sequence × 1e9 / rate
///     rates:  intended = start + schedule.offset(sequence)   (piecewise-constant rates)
///     max:    no schedule (the engine sends at once; intended = actual)
///
/// `captureNanos` already includes the `--loop` shift (`loopShift`).
package struct Pacer: Sendable, Equatable {
    package let pace: Pace
    /// The capture time of the first replayed message (ns since epoch).
    package let captureStart: Int64
    /// The monotonic time the first message is due.
    package let startNanos: Int64

    /// When the message should be sent (monotonic ns), or nil for `.max` (send now).
    @inline(__always)
    package func intended(captureNanos: Int64, sequence: UInt64) -> Int64? {
        switch pace {
        case let .speed(speed):
            let delta = captureNanos &- captureStart
            if speed == 1 { return startNanos &+ delta }
            return startNanos &+ Int64((Double(delta) / speed).rounded())
        case let .rate(rate):
            return startNanos &+ Int64((Double(sequence) * 1e9 / rate).rounded())
        case let .rates(schedule):
            return startNanos &+ schedule.offset(sequence: sequence)
        case .max:
            return nil
        }
    }

    /// The shift added to capture times in loop round `round` (0-based): `round × span`.
    @inline(__always)
    package static func loopShift(round: Int, span: Int64) -> Int64 { Int64(round) &* span }
}

/// Waits until a monotonic deadline. `SpinWaiter` sleeps then spins; tests use `ManualWaiter`.
protocol PaceWaiter {
    /// Returns the monotonic time at which the wait ended (≥ `deadline` unless `shouldStop` said stop).
    mutating func wait(until deadline: Int64, shouldStop: () -> Bool) -> Int64
    /// The monotonic clock now.
    func now() -> Int64
    /// Total time `wait` spent before deadlines so far (the sending thread ahead of its
    /// schedule: idle); the rest of the sending time the thread was busy.
    var waitedNanos: Int64 { get }
}

/// Sleeps (`clock_nanosleep`, absolute, in slices of at most 50 ms so a stop request is seen)
/// until `spinNanos` before the deadline, then spins on the monotonic clock. Lateness is then
/// the clock read plus the spin loop: tens of nanoseconds on an idle core.
package struct SpinWaiter: PaceWaiter {
    package var spinNanos: Int64
    package var sliceNanos: Int64 = 50_000_000
    package private(set) var waitedNanos: Int64 = 0

    init(spinNanos: Int64 = 80_000) {
        self.spinNanos = spinNanos
    }

    /// Makes sleeps of the calling thread end on time: Linux lets `clock_nanosleep` wake a
    /// normal thread up to its timer slack (50 µs by default) late, so the spin before each
    /// message would have to cover 50 µs of slack on top of the wake-up latency. Sets this
    /// thread's slack to 1 ns (`/proc/TID/timerslack_ns`, what `prctl(PR_SET_TIMERSLACK)` sets;
    /// `prctl` is variadic and does not import). Best effort: returns whether it took.
    @discardableResult
    static func reduceTimerSlack() -> Bool {
        #if os(Linux)
        var link = [UInt8](repeating: 0, count: 64)
        let length = link.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: 64) { readlink("/proc/thread-self", $0, 63) }
        }
        guard length > 0, let tid = String(decoding: link[0..<length], as: UTF8.self).split(separator: "/").last else { return false }
        let fd = open("/proc/\(tid)/timerslack_ns", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "1", 1) == 1
        #else
        return false
        #endif
    }

    @inline(__always)
    func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    package mutating func wait(until deadline: Int64, shouldStop: () -> Bool) -> Int64 {
        let start = now()
        var current = start
        if current >= deadline { return current }
        defer { waitedNanos &+= current &- start }
        while deadline - current > spinNanos {
            let wake = Swift.min(deadline - spinNanos, current + sliceNanos)
            var ts = timespec(tv_sec: Int(wake / 1_000_000_000), tv_nsec: Int(wake % 1_000_000_000))
            _ = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil)
            current = now()
            if shouldStop() { return current }
        }
        while current < deadline { current = now() }
        return current
    }
}

/// A waiter for tests: moves a `ManualClock` to the deadline (plus an optional scripted lateness).
package struct ManualWaiter: PaceWaiter {
    package let clock: ManualClock
    /// Extra nanoseconds added to each wait, in turn (cycled), to script lateness.
    package var lateness: [Int64]
    private var turn = 0
    package private(set) var waitedNanos: Int64 = 0

    package init(clock: ManualClock, lateness: [Int64] = [0]) {
        self.clock = clock
        self.lateness = lateness.isEmpty ? [0] : lateness
    }

    package func now() -> Int64 { clock.monotonicNanos() }

    package mutating func wait(until deadline: Int64, shouldStop: () -> Bool) -> Int64 {
        let extra = lateness[turn % lateness.count]
        turn += 1
        let target = Swift.max(deadline, clock.monotonicNanos()) + extra
        waitedNanos += Swift.max(0, deadline - clock.monotonicNanos())
        clock.advance(by: target - clock.monotonicNanos())
        return target
    }
}
