import K2Core
import Testing

@testable import K2Replay

private let t0: Int64 = 1_700_000_000_000_000_000

@Test(arguments: [
    // (speed, capture offset ns, expected offset from start ns)
    (1.0, 0 as Int64, 0 as Int64),
    (1.0, 1_234_567, 1_234_567),
    (2.0, 1_000_000, 500_000),
    (0.5, 1_000_000, 2_000_000),
    (0.01, 1_000_000, 100_000_000),
    (100.0, 3_600_000_000_000, 36_000_000_000),
    (1000.0, 3_600_000_000_000, 3_600_000_000),
    (3.0, 1, 0),
    (3.0, 2, 1),
    // 10 hours at 3x: anchored to the start, exact to the nanosecond
    (3.0, 36_000_000_000_000, 12_000_000_000_000),
    (7.0, 70_000_000_000_007, 10_000_000_000_001),
])
func speedSchedule(speed: Double, offset: Int64, expected: Int64) {
    let start: Int64 = 5_000
    let pacer = Pacer(pace: .speed(speed), captureStart: t0, startNanos: start)
    #expect(pacer.intended(captureNanos: t0 + offset, sequence: 99) == start + expected)
}

@Test(arguments: [
    (1.0, 0 as UInt64, 0 as Int64),
    (1.0, 1, 1_000_000_000),
    (138.0, 138, 1_000_000_000),
    (5_000.0, 12_345, 2_469_000_000),
    (3.0, 1, 333_333_333),
    (3.0, 3_000_000, 1_000_000_000_000_000),
])
func rateSchedule(rate: Double, sequence: UInt64, expected: Int64) {
    let pacer = Pacer(pace: .rate(rate), captureStart: t0, startNanos: 0)
    // Capture time is ignored at a fixed rate.
    #expect(pacer.intended(captureNanos: t0 + 999_999, sequence: sequence) == expected)
}

@Test func maxHasNoSchedule() {
    let pacer = Pacer(pace: .max, captureStart: t0, startNanos: 0)
    #expect(pacer.intended(captureNanos: t0 + 5, sequence: 5) == nil)
}

@Test func scheduleDoesNotDrift() {
    // A message every 1 ms for one hour at 1.5x: each intended time is computed from the start,
    // so message k is due at exactly k ms / 1.5 (rounded), never accumulating rounding.
    let pacer = Pacer(pace: .speed(1.5), captureStart: t0, startNanos: 0)
    for k in stride(from: Int64(0), through: 3_600_000, by: 9_973) {
        let due = pacer.intended(captureNanos: t0 + k * 1_000_000, sequence: UInt64(k))!
        #expect(due == (k * 2_000_000 + 1) / 3)
    }
}

@Test func loopShift() {
    #expect(Pacer.loopShift(round: 0, span: 60_000) == 0)
    #expect(Pacer.loopShift(round: 3, span: 60_000) == 180_000)
    // Round 2 of a 10-minute capture at 10x: 20 minutes of capture time later → 2 minutes later.
    let pacer = Pacer(pace: .speed(10), captureStart: t0, startNanos: 0)
    let span: Int64 = 600_000_000_000
    #expect(pacer.intended(captureNanos: t0 + 1_000 + Pacer.loopShift(round: 2, span: span), sequence: 0) == 120_000_000_100)
}

@Test func manualWaiterScriptsLateness() {
    let clock = ManualClock(monotonic: 0)
    var waiter = ManualWaiter(clock: clock, lateness: [0, 7])
    #expect(waiter.wait(until: 100, shouldStop: { false }) == 100)
    #expect(waiter.wait(until: 200, shouldStop: { false }) == 207)
    // A deadline in the past returns now (+ lateness): never waits backwards.
    #expect(waiter.wait(until: 50, shouldStop: { false }) == 207)
    #expect(clock.monotonicNanos() == 207)
}
