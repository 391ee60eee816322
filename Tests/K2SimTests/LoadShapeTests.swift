import Foundation
import K2Core
import Testing

@testable import K2Sim

@Suite struct LoadShapeTests {
    let sec: Int64 = 1_000_000_000

    func count(_ segs: [LoadSegment], seed: UInt64 = 1) -> (Int, [Int64]) {
        var process = ArrivalProcess(timeline: Timeline(segs), seed: seed)
        var times: [Int64] = []
        while let time = process.next() { times.append(time) }
        return (times.count, times)
    }

    /// A Poisson count has variance = mean: accept within 5 standard deviations.
    func within(_ n: Int, _ expected: Double) -> Bool { abs(Double(n) - expected) <= 5 * expected.squareRoot() + 1 }

    @Test func ratesArePureFunctions() {
        #expect(LoadShape.constant(rate: 138).rate(at: 5 * sec, length: 10 * sec) == 138)
        #expect(LoadShape.ramp(from: 10_000, to: 50_000).rate(at: 5 * sec, length: 10 * sec) == 30_000)
        let step = LoadShape.step(rates: [100, 1_000, 10_000], every: 10 * sec)
        #expect(step.rate(at: 0, length: 30 * sec) == 100)
        #expect(step.rate(at: 15 * sec, length: 30 * sec) == 1_000)
        #expect(step.rate(at: 29 * sec, length: 30 * sec) == 10_000)
        let sine = LoadShape.sine(mean: 1_000, amplitude: 500, period: 86_400 * sec, phase: 0)
        #expect(abs(sine.rate(at: 21_600 * sec, length: 86_400 * sec) - 1_500) < 1e-6)
        let crash = LoadShape.flashCrash(rate: 1_000, multiplier: 50, at: 60 * sec, length: 30 * sec, drop: 0.1, recovery: 0.5)
        #expect(crash.rate(at: 59 * sec, length: 300 * sec) == 1_000)
        #expect(crash.rate(at: 60 * sec, length: 300 * sec) == 50_000)
        #expect(crash.rate(at: 90 * sec, length: 300 * sec) == 1_000)
        #expect(crash.drift(at: 65 * sec) < 0 && crash.drift(at: 80 * sec) > 0 && crash.drift(at: 95 * sec) == 0)
        let open = LoadShape.marketOpen(rate: 100, peak: 20, decay: 60 * sec)
        #expect(open.rate(at: 0, length: 600 * sec) == 2_000)
        #expect(abs(open.rate(at: 60 * sec, length: 600 * sec) - 100 * (1 + 19 / M_E)) < 1e-6)
    }

    @Test func poissonConstantCountIsWithinBounds() {
        let (total, times) = count([LoadSegment(shape: .constant(rate: 10_000), length: 10 * sec)])
        #expect(within(total, 100_000), "\(total)")
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 })
        // Exponential gaps: the share of gaps longer than the mean is e^-1.
        let mean = 100_000.0
        let long = zip(times, times.dropFirst()).filter { Double($1 - $0) > mean }.count
        #expect(abs(Double(long) / Double(total) - exp(-1)) < 0.01)
    }

    @Test func uniformArrivalsAreExact() {
        let (total, times) = count([LoadSegment(shape: .constant(rate: 138), length: 10 * sec, arrivals: .uniform)])
        #expect(abs(total - 1380) <= 1)
        #expect(times[1] - times[0] == 1_000_000_000 / 138)
    }

    @Test func rampStepSineAndOpenMatchTheirIntegrals() {
        for shape in [
            LoadShape.ramp(from: 10_000, to: 50_000),
            .step(rates: [1_000, 20_000, 5_000], every: 2 * sec),
            .sine(mean: 10_000, amplitude: 8_000, period: 3 * sec, phase: 0),
            .marketOpen(rate: 2_000, peak: 10, decay: 1 * sec),
        ] {
            let seg = LoadSegment(shape: shape, length: 6 * sec)
            let (total, _) = count([seg], seed: 77)
            #expect(within(total, seg.expectedCount), "\(shape.name): \(total) vs \(seg.expectedCount)")
        }
    }

    @Test func burstsAreMarkovModulatedAndDeterministic() {
        let seg = LoadSegment(shape: .bursts(base: 1_000, burst: 50_000, meanOn: sec / 2, meanOff: 2 * sec), length: 20 * sec, seed: 5)
        let again = LoadSegment(shape: .bursts(base: 1_000, burst: 50_000, meanOn: sec / 2, meanOff: 2 * sec), length: 20 * sec, seed: 5)
        #expect(seg.schedule == again.schedule)
        let on = seg.schedule!.onTime(length: 20 * sec)
        #expect(on > 0 && on < 20 * sec)
        let (total, times) = count([seg], seed: 3)
        #expect(within(total, seg.expectedCount), "\(total) vs \(seg.expectedCount)")
        // During on-periods the local rate is the burst rate.
        let firstOn = seg.schedule!.switches[0]
        let offEnd = seg.schedule!.switches.count > 1 ? seg.schedule!.switches[1] : 20 * sec
        let inBurst = times.filter { $0 >= firstOn && $0 < offEnd }.count
        #expect(within(inBurst, 50_000 * Double(offEnd - firstOn) / 1e9))
    }

    @Test func flashCrashIsFiftyTimesBaseForThirtySeconds() {
        let seg = LoadSegment(
            shape: .flashCrash(rate: 1_000, multiplier: 50, at: 10 * sec, length: 30 * sec, drop: 0.1, recovery: 0.5),
            length: 60 * sec)
        let (total, times) = count([seg])
        #expect(within(total, 1_000 * 30 + 50_000 * 30))
        let inside = times.filter { $0 >= 10 * sec && $0 < 40 * sec }.count
        #expect(within(inside, 1_500_000))
    }

    @Test func flashCrashMovesAllPricesDownTogether() {
        var profile = SimProfile(
            timeline: Timeline([
                LoadSegment(
                    shape: .flashCrash(rate: 20_000, multiplier: 5, at: 2 * sec, length: 6 * sec, drop: 0.1, recovery: 0),
                    length: 4 * sec)
            ]))
        profile.market.symbols = 20
        var feed = LiveFeed(profile: profile, venue: .binance)
        let start = (0..<20).map { feed.model.bestPrices($0).bid }
        var buf: [UInt8] = []
        while feed.next(into: &buf) != nil { buf.removeAll(keepingCapacity: true) }
        // After the falling third (2 s) prices are ~10% lower for the busy symbols.
        for s in 0..<5 {
            let ratio = Double(feed.model.bestPrices(s).bid) / Double(start[s])
            #expect(ratio < 0.95 && ratio > 0.8, "symbol \(s): \(ratio)")
        }
    }

    @Test func timelineComposesSegments() {
        let timeline = Timeline([
            LoadSegment(shape: .constant(rate: 100), length: 10 * sec),
            LoadSegment(shape: .constant(rate: 1_000), length: 5 * sec),
        ])
        #expect(timeline.length == 15 * sec)
        #expect(timeline.rate(at: 9 * sec) == 100)
        #expect(timeline.rate(at: 10 * sec) == 1_000)
        #expect(timeline.rate(at: 15 * sec) == 0)
        let (total, times) = count(timeline.segments)
        #expect(within(total, 6_000))
        #expect(within(times.filter { $0 >= 10 * sec }.count, 5_000))
    }
}
