import Foundation
import K2Core
import Testing

@testable import K2Replay

/// `--clock-ref`: the NTP-style offset of this host's clock from a reference's.
@Suite struct ClockReferenceTests {
    /// The offset is the reference's reading minus the middle of the round trip; of several
    /// exchanges, the one with the shortest round trip is used.
    @Test func theShortestRoundTripGivesTheOffset() throws {
        let samples = [
            ClockReference.Sample(localSentNanos: 1_000_000, referenceNanos: 5_001_900_000, localReceivedNanos: 3_000_000),  // rtt 2 ms
            ClockReference.Sample(localSentNanos: 10_000_000, referenceNanos: 5_010_300_000, localReceivedNanos: 10_400_000),  // rtt 0.4 ms
            ClockReference.Sample(localSentNanos: 20_000_000, referenceNanos: 5_025_000_000, localReceivedNanos: 30_000_000),  // rtt 10 ms
        ]
        #expect(samples[1].offsetNanos == 5_000_100_000)
        let best = try #require(ClockReference.best(of: samples, reference: "h:1"))
        #expect(best == ClockReference.Measurement(reference: "h:1", offsetMs: 5_000.1, roundTripMs: 0.4, samples: 3))
        #expect(best.offsetNanos == 5_000_100_000)
        #expect(ClockReference.best(of: [], reference: "h:1") == nil)
    }

    @Test func addressesParse() {
        #expect(ClockReference.parseAddress("10.77.0.1:9093")! == ("10.77.0.1", 9093))
        #expect(ClockReference.parseAddress("clock.internal:7070")! == ("clock.internal", 7070))
        for bad in ["10.77.0.1", ":7070", "h:0", "h:70000", "h:x", ""] {
            #expect(ClockReference.parseAddress(bad) == nil, "\(bad)")
        }
    }

    /// A reference whose clock runs 5 s ahead of this one, served over a real TCP socket: the
    /// measured offset is 5 s within half the round trip (the reading lies inside the round trip,
    /// so this holds whatever the machine's load).
    @Test func aReferenceAheadIsMeasuredWithinHalfTheRoundTrip() throws {
        struct AheadClock: NanoClock {
            let base = SystemClock()
            func wallNanos() -> Int64 { base.wallNanos() + 5_000_000_000 }
            func monotonicNanos() -> Int64 { base.monotonicNanos() }
        }
        let server = try ClockReference.serve(host: "127.0.0.1", port: 0, clock: AheadClock())
        defer { server.stop() }
        let measured = try ClockReference.measure(address: "127.0.0.1:\(server.port)", samples: 5)
        #expect(measured.samples == 5)
        #expect(abs(measured.offsetMs - 5_000) <= measured.roundTripMs / 2 + 1e-6)
        // Anything but `time` is refused in one line; a port nobody serves is a clear error.
        let client = try LineClient(host: "127.0.0.1", port: server.port, timeoutNanos: 2_000_000_000, place: "test")
        #expect(try client.ask("date").hasPrefix("error: unknown request 'date'"))
        server.stop()
        #expect(throws: ReplayError.self) { try ClockReference.measure(address: "127.0.0.1:\(server.port)") }
        #expect(throws: ReplayError.self) { try ClockReference.measure(address: "no-port") }
    }
}
