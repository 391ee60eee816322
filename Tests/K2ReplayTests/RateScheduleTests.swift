import K2Core
import Testing

@testable import K2Replay

/// The burst phase's schedule: piecewise-constant rates as a pure function of the sequence number.
@Suite struct RateScheduleTests {
    @Test func messagesAreDueAtEachStepsRateFromTheStepsStart() {
        // 10 msg/s for 1 s (messages 0…9), 100 msg/s for 1 s (10…109), then 10 msg/s (110…).
        let schedule = RateSchedule.burst(base: 10, burst: 100, at: 1_000_000_000, length: 1_000_000_000)
        let cases: [(UInt64, Int64)] = [
            (0, 0), (9, 900_000_000), (10, 1_000_000_000), (11, 1_010_000_000),
            (109, 1_990_000_000), (110, 2_000_000_000), (111, 2_100_000_000), (130, 4_000_000_000),
        ]
        for (sequence, offset) in cases {
            #expect(schedule.offset(sequence: sequence) == offset, "message \(sequence)")
        }
        #expect(schedule.rate(at: 500_000_000) == 10 && schedule.rate(at: 1_500_000_000) == 100 && schedule.rate(at: 9_000_000_000) == 10)
        #expect(schedule.description == "10 msg/s for 1.00s, then 100 msg/s for 1.00s, then 10 msg/s")
    }

    @Test func theScheduleNeverGoesBackAndABurstAtTheStartWorks() {
        let schedule = RateSchedule.burst(base: 12_000, burst: 60_000, at: 0, length: 3_000_000_000)
        var last: Int64 = -1
        for sequence in stride(from: UInt64(0), to: 300_000, by: 7) {
            let offset = schedule.offset(sequence: sequence)
            #expect(offset >= last)
            last = offset
        }
        // 180,000 messages in the 3 s burst, then 12k msg/s.
        #expect(schedule.offset(sequence: 180_000) == 3_000_000_000)
        #expect(schedule.offset(sequence: 192_000) == 4_000_000_000)
    }

    @Test func thePacerFollowsTheSchedule() {
        let schedule = RateSchedule.burst(base: 10, burst: 100, at: 1_000_000_000, length: 1_000_000_000)
        let pacer = Pacer(pace: .rates(schedule), captureStart: 0, startNanos: 5_000)
        let due: Int64 = pacer.intended(captureNanos: 123, sequence: 11) ?? -1
        #expect(due == 1_010_005_000)
        #expect(Pace.rates(schedule).description == schedule.description)
    }
}
