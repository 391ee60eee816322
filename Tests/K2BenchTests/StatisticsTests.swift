import Foundation
import K2Core
import Testing

@testable import K2Bench

@Suite struct StatisticsTests {
    func normal(_ rng: inout SplitMix64, mean: Double, sd: Double) -> Double {
        // Box-Muller.
        let u1 = max(rng.nextDouble(), 1e-12), u2 = rng.nextDouble()
        return mean + sd * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    @Test func quantilesMatchTheFormula() {
        let xs: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        #expect(Statistics.median(xs) == 5.5)
        #expect(Statistics.quantile(xs, 0) == 1)
        #expect(Statistics.quantile(xs, 1) == 10)
        // type 7: h = (n-1)q = 9 * 0.9 = 8.1 → 9 + 0.1 * (10 - 9)
        #expect(abs(Statistics.quantile(xs, 0.9) - 9.1) < 1e-12)
        #expect(Statistics.median([3, 1, 2]) == 2)
    }

    @Test func mannWhitneyExactSmallSample() {
        // Completely separated samples of 5: U = 0, p = 2 / C(10,5) = 2/252.
        let result = Statistics.mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        #expect(result.uStatistic == 0)
        #expect(abs(result.pValue - 2.0 / 252.0) < 1e-12)
        let same = Statistics.mannWhitney([1, 3, 5, 7], [2, 4, 6, 8])
        #expect(same.pValue > 0.5)
    }

    @Test func noFalseAlarmOnTheSameDistribution() {
        // 100 seeded trials of two samples of 10 from one distribution: at alpha 0.01 expect ~1
        // rejections by chance; the gate also needs the median shift over its threshold, so 0.
        var rng = SplitMix64(seed: 7)
        var rejected = 0
        var gateAlarms = 0
        for _ in 0..<100 {
            let baseline = (0..<10).map { _ in normal(&rng, mean: 100, sd: 5) }
            let current = (0..<10).map { _ in normal(&rng, mean: 100, sd: 5) }
            let test = Statistics.mannWhitney(baseline, current)
            if test.pValue < 0.01 { rejected += 1 }
            let comparison = MetricComparison.compare(name: "x", better: .higher, baseline: baseline, current: current, threshold: .init())
            if comparison.verdict == .regression { gateAlarms += 1 }
        }
        #expect(rejected <= 5)
        #expect(gateAlarms == 0)
    }

    @Test func alarmOnATwentyPercentShift() {
        var rng = SplitMix64(seed: 11)
        var alarms = 0
        for _ in 0..<20 {
            let baseline = (0..<10).map { _ in normal(&rng, mean: 100, sd: 5) }
            let current = (0..<10).map { _ in normal(&rng, mean: 80, sd: 4) }  // throughput 20% lower
            let comparison = MetricComparison.compare(name: "x", better: .higher, baseline: baseline, current: current, threshold: .init())
            if comparison.verdict == .regression { alarms += 1 }
        }
        #expect(alarms == 20)
        // The same shift the other way is an improvement, not a regression.
        let baseline = (0..<10).map { _ in normal(&rng, mean: 80, sd: 4) }
        let current = (0..<10).map { _ in normal(&rng, mean: 100, sd: 5) }
        #expect(
            MetricComparison.compare(name: "x", better: .higher, baseline: baseline, current: current, threshold: .init()).verdict == .improvement)
        // For latency (lower is better) a 20% rise is the regression.
        let la = (0..<10).map { _ in normal(&rng, mean: 10, sd: 0.5) }
        let lb = (0..<10).map { _ in normal(&rng, mean: 12, sd: 0.6) }
        #expect(MetricComparison.compare(name: "p99", better: .lower, baseline: la, current: lb, threshold: .init()).verdict == .regression)
    }

    @Test func bootstrapIntervalCoversTheTrueRatio() {
        var rng = SplitMix64(seed: 3)
        let baseline = (0..<30).map { _ in normal(&rng, mean: 100, sd: 5) }
        let current = (0..<30).map { _ in normal(&rng, mean: 120, sd: 6) }
        let ci = Statistics.bootstrapRatioCI(baseline, current, seed: 1)
        #expect(ci.contains(1.2))
        #expect(!ci.contains(1.0))
        #expect(Statistics.bootstrapRatioCI(baseline, current, seed: 1) == ci)  // seeded: reproducible
    }
}
