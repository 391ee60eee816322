import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How arrival times are drawn from a rate.
package enum ArrivalMode: String, Sendable, Equatable {
    /// Exponential gaps (a Poisson process with the shape's rate).
    case poisson
    /// Evenly spaced gaps of 1/rate.
    case uniform
}

/// A load shape: a pure function from time since the segment's start to a rate in messages
/// per second (and, for the flash crash, a price drift). All times are nanoseconds.
package enum LoadShape: Sendable, Equatable {
    /// `rate` all along.
    case constant(rate: Double)
    /// From `from` to `to`, linearly over the segment.
    case ramp(from: Double, to: Double)
    /// `rates[i]` during the i-th `every` interval; the last level holds until the end.
    case step(rates: [Double], every: Int64)
    /// `mean + amplitude·sin(2π(t/period) + phase)`, never below 0 (a daily cycle by default).
    case sine(mean: Double, amplitude: Double, period: Int64, phase: Double)
    /// Markov-modulated on/off: `base` while off, `burst` while on; state durations are
    /// exponential with means `meanOn`/`meanOff`, drawn from the seed (see `BurstSchedule`).
    case bursts(base: Double, burst: Double, meanOn: Int64, meanOff: Int64)
    /// `rate`, then `rate·multiplier` from `at` for `length`; prices fall by `drop` (a fraction)
    /// during the first third of the window, all symbols together, then win back `recovery`
    /// (a fraction of the fall) over the rest, with 5× volatility.
    case flashCrash(rate: Double, multiplier: Double, at: Int64, length: Int64, drop: Double, recovery: Double)
    /// Market-open surge: `rate·(1 + (peak − 1)·e^(−t/decay))`.
    case marketOpen(rate: Double, peak: Double, decay: Int64)

    /// The shape's name in profiles.
    package var name: String {
        switch self {
        case .constant: return "constant"
        case .ramp: return "ramp"
        case .step: return "step"
        case .sine: return "sine"
        case .bursts: return "bursts"
        case .flashCrash: return "flash_crash"
        case .marketOpen: return "market_open"
        }
    }

    /// Rate in messages per second at `t` ns after the segment start (segment `length` ns);
    /// `schedule` is the on/off schedule for `bursts`.
    package func rate(at t: Int64, length: Int64, schedule: BurstSchedule? = nil) -> Double {
        switch self {
        case let .constant(rate): return rate
        case let .ramp(from, to):
            guard length > 0 else { return from }
            return from + (to - from) * Double(t) / Double(length)
        case let .step(rates, every):
            guard !rates.isEmpty else { return 0 }
            let stepIndex = every > 0 ? Int(t / every) : 0
            return rates[min(stepIndex, rates.count - 1)]
        case let .sine(mean, amp, period, phase):
            let value = mean + amp * sin(2 * Double.pi * Double(t) / Double(max(1, period)) + phase)
            return max(0, value)
        case let .bursts(base, burst, _, _):
            return (schedule?.isOn(at: t) ?? false) ? burst : base
        case let .flashCrash(rate, mult, at, len, _, _):
            return t >= at && t < at + len ? rate * mult : rate
        case let .marketOpen(rate, peak, decay):
            return rate * (1 + (peak - 1) * exp(-Double(t) / Double(max(1, decay))))
        }
    }

    /// Log price drift per second at `t` (nonzero only inside a flash crash).
    package func drift(at t: Int64) -> Double {
        guard case let .flashCrash(_, _, at, len, drop, recovery) = self, t >= at, t < at + len, len > 0 else { return 0 }
        let fall = log(max(1e-9, 1 - drop))  // negative
        let third = Double(len) / 3 / 1e9
        if t < at + len / 3 { return fall / third }
        return -fall * recovery / (2 * third)
    }

    /// Volatility multiplier at `t` (5 inside a flash crash window).
    func volatilityScale(at t: Int64) -> Double {
        if case let .flashCrash(_, _, at, len, _, _) = self, t >= at, t < at + len { return 5 }
        return 1
    }

    /// The next time after `t` where the rate jumps (or a bound for smooth shapes), so the
    /// arrival process does not step over a change.
    func nextBreak(after t: Int64, length: Int64, schedule: BurstSchedule?) -> Int64 {
        switch self {
        case .constant: return length
        case let .step(_, every): return every > 0 ? min(length, (t / every + 1) * every) : length
        case .bursts: return min(length, schedule?.nextSwitch(after: t) ?? length)
        case let .flashCrash(_, _, at, len, _, _):
            if t < at { return min(length, at) }
            if t < at + len { return min(length, t + 50_000_000, at + len) }
            return length
        case .ramp, .sine, .marketOpen: return min(length, t + 50_000_000)
        }
    }
}

/// The on/off switching times of a `bursts` segment, drawn once from the seed so that
/// `rate(t)` stays a pure function. Starts off.
package struct BurstSchedule: Sendable, Equatable {
    /// Times (ns from the segment start) where the state flips; even index → turns on.
    let switches: [Int64]

    init(meanOn: Int64, meanOff: Int64, length: Int64, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var offset: Int64 = 0
        var on = false
        var flips: [Int64] = []
        while offset < length {
            let mean = Double(on ? meanOn : meanOff)
            offset += max(1, Int64(exponential1(&rng) * mean))
            if offset < length { flips.append(offset) }
            on.toggle()
        }
        switches = flips
    }

    private func index(_ t: Int64) -> Int {
        // number of switches ≤ t
        var lo = 0
        var hi = switches.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if switches[mid] <= t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func isOn(at t: Int64) -> Bool { index(t) % 2 == 1 }

    package func nextSwitch(after t: Int64) -> Int64? {
        let switchIndex = index(t)
        return switchIndex < switches.count ? switches[switchIndex] : nil
    }

    /// Total on-time in [0, length).
    func onTime(length: Int64) -> Int64 {
        var total: Int64 = 0
        var switchIndex = 0
        while switchIndex < switches.count {
            let end = switchIndex + 1 < switches.count ? switches[switchIndex + 1] : length
            total += end - switches[switchIndex]
            switchIndex += 2
        }
        return total
    }
}

/// One timeline entry: a shape held for `length` ns.
package struct LoadSegment: Sendable, Equatable {
    package var shape: LoadShape
    package var length: Int64
    package var arrivals: ArrivalMode
    package var schedule: BurstSchedule?

    package init(shape: LoadShape, length: Int64, arrivals: ArrivalMode = .poisson, seed: UInt64 = 0) {
        self.shape = shape
        self.length = length
        self.arrivals = arrivals
        if case let .bursts(_, _, on, off) = shape {
            schedule = BurstSchedule(meanOn: on, meanOff: off, length: length, seed: seed)
        }
    }

    package func rate(at t: Int64) -> Double { shape.rate(at: t, length: length, schedule: schedule) }

    /// ∫ rate dt over the segment: the expected number of messages (numeric, 1 ms steps
    /// for smooth shapes).
    package var expectedCount: Double {
        switch shape {
        case let .constant(rate): return rate * Double(length) / 1e9
        case let .ramp(from, to): return (from + to) / 2 * Double(length) / 1e9
        case let .flashCrash(rate, multiplier, at, len, _, _):
            let inside = Double(max(0, min(length, at + len) - min(length, at))) / 1e9
            return rate * (Double(length) / 1e9 - inside) + rate * multiplier * inside
        case let .bursts(base, burst, _, _):
            let on = Double(schedule?.onTime(length: length) ?? 0) / 1e9
            return burst * on + base * (Double(length) / 1e9 - on)
        default:
            var sum = 0.0
            let dt: Int64 = max(1_000_000, length / 1_000_000)
            var offset: Int64 = 0
            while offset < length {
                let stepWidth = min(dt, length - offset)
                sum += rate(at: offset + stepWidth / 2) * Double(stepWidth) / 1e9
                offset += stepWidth
            }
            return sum
        }
    }
}

/// Segments one after another.
package struct Timeline: Sendable, Equatable {
    package let segments: [LoadSegment]
    /// Start offset of each segment.
    package let starts: [Int64]

    package init(_ segments: [LoadSegment]) {
        self.segments = segments
        var segmentStarts: [Int64] = []
        var offset: Int64 = 0
        for seg in segments { segmentStarts.append(offset); offset += seg.length }
        starts = segmentStarts
    }

    package var length: Int64 { (starts.last ?? 0) + (segments.last?.length ?? 0) }

    /// The segment index at offset `t`, or nil past the end.
    func segmentIndex(at t: Int64) -> Int? {
        guard t >= 0 else { return nil }
        for i in stride(from: segments.count - 1, through: 0, by: -1) where t >= starts[i] {
            return t < starts[i] + segments[i].length ? i : nil
        }
        return nil
    }

    package func rate(at t: Int64) -> Double {
        guard let segmentNumber = segmentIndex(at: t) else { return 0 }
        return segments[segmentNumber].rate(at: t - starts[segmentNumber])
    }

    package func drift(at t: Int64) -> Double {
        guard let segmentNumber = segmentIndex(at: t) else { return 0 }
        return segments[segmentNumber].shape.drift(at: t - starts[segmentNumber])
    }

    package var expectedCount: Double { segments.reduce(0) { $0 + $1.expectedCount } }
}

/// Turns a timeline into event times, deterministically from a seed: no clocks involved.
/// `next()` returns offsets in ns from the timeline start, increasing, then nil at the end.
///
/// Poisson segments draw exponential gaps at the current rate and redraw at each rate break
/// (exact for piecewise-constant rates, thanks to memorylessness; smooth shapes are
/// re-evaluated at least every 50 ms). Uniform segments space events 1/rate apart.
package struct ArrivalProcess: Sendable {
    package let timeline: Timeline
    private var rng: SplitMix64
    private var seg = 0
    private var offset: Int64 = 0
    /// Events produced so far.
    package private(set) var produced: Int64 = 0
    /// Segment of the last event.
    private(set) var currentSegment = 0
    /// Events per second = the timeline's rate × this (the Binance trade fan-out sends several
    /// messages per event and scales the event rate so that the timeline still counts messages).
    var rateScale: Double = 1

    package init(timeline: Timeline, seed: UInt64) {
        self.timeline = timeline
        rng = SplitMix64(seed: seed ^ 0xA11_1BA1)
    }

    package mutating func next() -> Int64? {
        let segs = timeline.segments
        while seg < segs.count {
            let segment = segs[seg]
            let start = timeline.starts[seg]
            let local = offset - start
            if local >= segment.length { seg += 1; continue }
            let rate = segment.rate(at: local) * rateScale
            let brk = segment.shape.nextBreak(after: local, length: segment.length, schedule: segment.schedule)
            if rate <= 0 {
                offset = start + max(brk, local + 1)
                continue
            }
            let gap: Double = segment.arrivals == .poisson ? exponential1(&rng) / rate : 1 / rate
            let nl = local + max(1, Int64(gap * 1e9))
            // Poisson gaps are redrawn at rate breaks (memoryless); uniform ones run to the segment end.
            let limit = segment.arrivals == .poisson ? brk : segment.length
            if nl >= limit {
                offset = start + limit
                continue
            }
            offset = start + nl
            produced += 1
            currentSegment = seg
            return offset
        }
        return nil
    }
}
