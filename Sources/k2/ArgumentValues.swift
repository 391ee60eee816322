import ArgumentParser
import K2Bench
import K2Config
import K2Core
import K2Replay

// The value types of k2's numeric flags. Each parses the text a user types, checks its range
// and, when it refuses a value, says why and what to write; `K2.main` prints that as one line
// naming the flag: `k2: --rate '1e30' is above 1e9 msg/s …; write e.g. 5000, 12k or 1.5M`.

/// Why a flag's value was refused: `what` follows the flag and the value, `remedy` says what to write.
struct ArgumentRefusal: Error, Equatable {
    var what: String
    var remedy: String

    /// The refusal of the last value an argument type could not take, for `K2.main`'s message:
    /// argument-parser's `ExpressibleByArgument` can only answer nil, and then says no more
    /// than "the value is invalid". Parsing happens once, on the main thread, before any command
    /// runs; the lock only makes that safe to state.
    static var last: (text: String, refusal: ArgumentRefusal)? { lock.withLock { lastRefused } }

    /// argument-parser's "The value 'TEXT' is invalid for '--flag <name>'" as one line that says
    /// why and what to write, when it is about the last refused value; nil otherwise.
    static func line(for parserMessage: String) -> String? {
        guard let (text, refusal) = last else { return nil }
        let prefix = "The value '\(text)' is invalid for '"
        guard parserMessage.hasPrefix(prefix) else { return nil }
        let flag = parserMessage.dropFirst(prefix.count).prefix { $0 != " " && $0 != "'" }
        return "\(flag) '\(text)' \(refusal.what); \(refusal.remedy)"
    }

    fileprivate static func note(_ refusal: ArgumentRefusal, for text: String) {
        lock.withLock { lastRefused = (text, refusal) }
    }

    private static let lock = Lock()
    nonisolated(unsafe) private static var lastRefused: (text: String, refusal: ArgumentRefusal)?
}

/// A flag value that parses itself and says why it cannot.
protocol CheckedArgument: ExpressibleByArgument {
    static func parse(_ text: String) throws(ArgumentRefusal) -> Self
}

extension CheckedArgument {
    init?(argument: String) {
        do {
            self = try Self.parse(argument)
        } catch {
            ArgumentRefusal.note(error, for: argument)
            return nil
        }
    }

    /// For defaults written as literals; they are valid by construction.
    init(valid text: String) {
        do { self = try Self.parse(text) } catch { preconditionFailure("default '\(text)': \(error.what)") }
    }
}

/// A flag value that keeps the text it was parsed from: defaults are written as that text
/// (`var slo: DurationArgument = "1s"`) and the help shows them as written.
protocol TextualArgument: CheckedArgument, ExpressibleByStringLiteral, Sendable where StringLiteralType == String {
    var text: String { get }
}

extension TextualArgument {
    init(stringLiteral text: String) { self.init(valid: text) }
    var defaultValueDescription: String { text }
}

/// A duration (`500ms`, `30s`, `1h30m`, `2d`; a bare number is seconds), longer than zero and
/// at most 100 years (36500d), so that adding it to any clock reading fits in Int64 nanoseconds.
struct DurationArgument: TextualArgument {
    static let maxNanos: Int64 = 36_500 * 86_400 * 1_000_000_000
    let nanos: Int64
    /// As typed (help shows defaults as written).
    let text: String

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        let remedy = "write e.g. 500ms, 30s, 10m, 1h"
        guard let nanos = TimeText.parseDuration(text.trimmingSpaces()) else {
            throw ArgumentRefusal(what: "is not a duration", remedy: remedy)
        }
        guard nanos > 0 else { throw ArgumentRefusal(what: "must be longer than zero", remedy: remedy) }
        guard nanos <= maxNanos else { throw ArgumentRefusal(what: "is longer than 100 years (36500d), the most k2 takes", remedy: remedy) }
        return Self(nanos: nanos, text: text)
    }
}

/// A duration, or `off` (also `none`, `0`) for none.
struct DurationOrOffArgument: CheckedArgument, Sendable {
    /// nil: off.
    let nanos: Int64?

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        if ["off", "none", "0"].contains(text.trimmingSpaces().lowercased()) { return Self(nanos: nil) }
        do {
            return Self(nanos: try DurationArgument.parse(text).nanos)
        } catch {
            throw ArgumentRefusal(what: error.what, remedy: error.remedy + ", or off")
        }
    }
}

/// Messages per second: `5000`, `12k`, `1.5M`, `10_000`, optionally `/s` or `msg/s`, from
/// 0.000001 (one message per 11.6 days) to 1e9 (one per nanosecond, the resolution of the
/// replay schedule and of generated receive times; faster is `--speed max`).
struct RateArgument: TextualArgument {
    static let range: ClosedRange<Double> = 1e-6...1e9
    let perSecond: Double
    let text: String

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        let remedy = "write e.g. 5000, 12k or 1.5M (messages per second)"
        guard let rate = StrictMap.parseRate(text) else { throw ArgumentRefusal(what: "is not a rate", remedy: remedy) }
        guard rate > 0 else { throw ArgumentRefusal(what: "must be more than 0 msg/s", remedy: remedy) }
        guard rate >= range.lowerBound else {
            throw ArgumentRefusal(what: "is below 0.000001 msg/s (one message per 11.6 days), the slowest k2 paces", remedy: remedy)
        }
        guard rate <= range.upperBound else {
            throw ArgumentRefusal(what: "is above 1e9 msg/s (one message per nanosecond), the fastest k2 schedules", remedy: remedy)
        }
        return Self(perSecond: rate, text: text)
    }
}

/// A replay speed: a multiplier (`1`, `0.5`, `100x`) from 0.000001 to 1e9, or `max`.
struct SpeedArgument: TextualArgument {
    static let range: ClosedRange<Double> = 1e-6...1e9
    let pace: Pace
    let text: String

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        let remedy = "write e.g. 1, 0.5, 100x or max"
        let lowered = text.trimmingSpaces().lowercased()
        if lowered == "max" { return Self(pace: .max, text: text) }
        guard let multiplier = Double(lowered.hasSuffix("x") ? String(lowered.dropLast()) : lowered), !multiplier.isNaN else {
            throw ArgumentRefusal(what: "is not a multiplier", remedy: remedy)
        }
        guard multiplier > 0 else { throw ArgumentRefusal(what: "must be a positive multiplier", remedy: remedy) }
        guard range.contains(multiplier) else {
            throw ArgumentRefusal(what: "is outside 0.000001 … 1e9, the speeds k2 schedules (faster: max)", remedy: remedy)
        }
        return Self(pace: .speed(multiplier), text: text)
    }
}

/// A share of a whole: `95%` or `0.95`, more than 0 and at most 100 %.
struct ShareArgument: TextualArgument {
    let fraction: Double
    let text: String

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        let remedy = "write e.g. 95% or 0.95"
        var number = text.trimmingSpaces()
        let percent = number.hasSuffix("%")
        if percent { number.removeLast() }
        guard let value = Double(number), value.isFinite else { throw ArgumentRefusal(what: "is not a share", remedy: remedy) }
        let fraction = percent ? value / 100 : value
        guard fraction > 0, fraction <= 1 else { throw ArgumentRefusal(what: "must be more than 0 and at most 100%", remedy: remedy) }
        return Self(fraction: fraction, text: text)
    }
}

/// A byte size: `1GB`, `512MiB`, `64k`, `1000`; more than zero.
struct SizeArgument: CheckedArgument, Sendable {
    let bytes: Int64

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        let remedy = "write e.g. 500MB, 1GB or 64KiB"
        guard let bytes = SizeText.parse(text) else { throw ArgumentRefusal(what: "is not a size", remedy: remedy) }
        guard bytes > 0 else { throw ArgumentRefusal(what: "must be more than zero bytes", remedy: remedy) }
        return Self(bytes: bytes)
    }
}

/// What 0 means for a port flag: a free port the system picks, or no listener at all.
protocol PortZeroMeaning: Sendable {
    static var meaning: String { get }
}

/// 0 = any free port (printed once listening).
enum AnyFreePort: PortZeroMeaning {
    static let meaning = "any free port"
}

/// 0 = do not listen.
enum NoListener: PortZeroMeaning {
    static let meaning = "none"
}

/// A TCP port, 1–65535, or 0 with the meaning `Zero` gives.
struct Port<Zero: PortZeroMeaning>: CheckedArgument, ExpressibleByIntegerLiteral, Sendable {
    let number: Int

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        let remedy = "give 1–65535, or 0 for \(Zero.meaning)"
        guard let number = Int(text.trimmingSpaces()) else { throw ArgumentRefusal(what: "is not a port number", remedy: remedy) }
        guard (0...65535).contains(number) else { throw ArgumentRefusal(what: "is not a TCP port", remedy: remedy) }
        return Self(number: number)
    }

    init(integerLiteral number: Int) { self.init(valid: String(number)) }
    private init(number: Int) { self.number = number }

    var defaultValueDescription: String { String(number) }
}

/// `--shard i/N`: shard i (0-based) of N.
struct ShardArgument: CheckedArgument, Sendable {
    let shard: Shard

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        guard let shard = try? Shard(parsing: text.trimmingSpaces()) else {
            throw ArgumentRefusal(what: "is not i/N with 0 ≤ i < N", remedy: "write e.g. 0/4 … 3/4")
        }
        return Self(shard: shard)
    }
}

/// `bench compare --threshold`: `10%` or `0.1` (relative), optionally `,ABS` in the metric's
/// unit, the whole optionally after `PATTERN=` (a metric name or prefix*).
struct ThresholdArgument: CheckedArgument, Sendable {
    /// nil: the default for every metric.
    let pattern: String?
    let relative: Double
    let absolute: Double?

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        let remedy = "write e.g. 10% or latency.*=50%,2"
        var pattern: String?
        var numbers = Substring(text)
        if let equals = text.firstIndex(of: "=") {
            pattern = String(text[..<equals])
            numbers = text[text.index(after: equals)...]
        }
        let parts = numbers.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
        var relativeText = parts[0]
        let percent = relativeText.hasSuffix("%")
        if percent { relativeText.removeLast() }
        guard let relative = Double(relativeText), relative.isFinite, relative >= 0 else {
            throw ArgumentRefusal(what: "does not start with a relative threshold (a number ≥ 0, or a percentage)", remedy: remedy)
        }
        var absolute: Double?
        if parts.count > 1 {
            guard let value = Double(parts[1]), value.isFinite, value >= 0 else {
                throw ArgumentRefusal(what: "has an absolute threshold that is not a number ≥ 0", remedy: remedy)
            }
            absolute = value
        }
        return Self(pattern: pattern, relative: percent ? relative / 100 : relative, absolute: absolute)
    }

    /// `base` with this threshold's numbers.
    func applied(to base: Threshold) -> Threshold {
        var threshold = base
        threshold.relative = relative
        if let absolute { threshold.absolute = absolute }
        return threshold
    }
}

/// An integer flag's range, checked in `validate()`: one line naming the flag, the range and an example.
func check<Number: FixedWidthInteger>(_ value: Number?, in range: ClosedRange<Number>, _ flag: String, example: Number) throws(ValidationError) {
    guard let value, !range.contains(value) else { return }
    let allowed = range.upperBound == .max ? "at least \(range.lowerBound)" : "\(range.lowerBound)…\(range.upperBound)"
    throw ValidationError("\(flag) \(value) is out of range: give \(allowed), e.g. \(flag) \(example)")
}

/// Comma-separated rates (`1k,5k,10k`), each as `RateArgument`; kept in ascending order.
struct RateListArgument: TextualArgument {
    let perSecond: [Double]
    let text: String

    static func parse(_ text: String) throws(ArgumentRefusal) -> Self {
        var rates: [Double] = []
        for part in text.split(separator: ",") {
            do {
                rates.append(try RateArgument.parse(String(part)).perSecond)
            } catch {
                throw ArgumentRefusal(what: "has '\(part)', which \(error.what)", remedy: "write e.g. 1k,5k,10k,50k")
            }
        }
        guard !rates.isEmpty else { throw ArgumentRefusal(what: "has no rates", remedy: "write e.g. 1k,5k,10k,50k") }
        return Self(perSecond: rates.sorted(), text: text)
    }
}
