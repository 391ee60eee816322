import K2Core

/// A piecewise-constant message rate: each step holds its rate for its duration, the last step's
/// rate goes on after the steps end. A pure function from a message's sequence number to its
/// offset from the start, like `.rate`: message `n` of a step is due at the step's start +
/// (n − the messages before the step) / the step's rate.
package struct RateSchedule: Sendable, Equatable, CustomStringConvertible {
    package struct Step: Sendable, Equatable {
        /// Messages per second (> 0).
        package var rate: Double
        /// How long the step lasts (ns, ≥ 0); the last step's is ignored (it goes on).
        package var nanos: Int64
    }

    package let steps: [Step]

    /// `steps` must not be empty and every rate must be above 0.
    package init(_ steps: [Step]) {
        precondition(!steps.isEmpty && steps.allSatisfy { $0.rate > 0 }, "a rate schedule needs steps with rates above 0")
        self.steps = steps
    }

    /// A base rate with one burst: `base` until `at`, `burst` for `length`, `base` after.
    package static func burst(base: Double, burst: Double, at: Int64, length: Int64) -> RateSchedule {
        RateSchedule([Step(rate: base, nanos: at), Step(rate: burst, nanos: length), Step(rate: base, nanos: 0)])
    }

    /// Nanoseconds from the start at which message `sequence` (0-based) is due.
    @inline(__always)
    package func offset(sequence: UInt64) -> Int64 {
        var before = 0.0  // messages due before the current step
        var start: Int64 = 0  // the current step's start
        let messageIndex = Double(sequence)
        for (i, step) in steps.enumerated() {
            let inStep = step.rate * Double(step.nanos) / 1e9
            if i == steps.count - 1 || messageIndex < before + inStep {
                return start &+ Int64(((messageIndex - before) * 1e9 / step.rate).rounded())
            }
            before += inStep
            start &+= step.nanos
        }
        return start
    }

    /// The rate at `nanos` from the start.
    package func rate(at nanos: Int64) -> Double {
        var start: Int64 = 0
        for step in steps.dropLast() {
            if nanos < start &+ step.nanos { return step.rate }
            start &+= step.nanos
        }
        return steps.last!.rate
    }

    package var description: String {
        steps.enumerated().map { i, step in
            let rate = TimeText.fixed(step.rate, step.rate == step.rate.rounded() ? 0 : 2) + " msg/s"
            return i == steps.count - 1 ? rate : rate + " for " + TimeText.humanDuration(nanos: step.nanos)
        }.joined(separator: ", then ")
    }
}
