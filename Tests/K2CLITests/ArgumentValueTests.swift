import ArgumentParser
import K2Replay
import Testing

@testable import k2

/// The argument types of k2's numeric flags: what each takes, what it refuses and why (the
/// words `K2.main` prints after the flag), as tables.
struct ArgumentValueTests {
    @Test(
        arguments: [
            ("500ms", 500_000_000 as Int64), ("30s", 30_000_000_000), ("1.5s", 1_500_000_000), ("1h30m", 5_400_000_000_000),
            ("2", 2_000_000_000), ("100ns", 100), ("36500d", 3_153_600_000_000_000_000),
        ] as [(String, Int64)])
    func durationParses(text: String, nanos: Int64) throws {
        #expect(try DurationArgument.parse(text).nanos == nanos)
    }

    @Test(arguments: [
        ("", "is not a duration"), ("abc", "is not a duration"), ("nan", "is not a duration"), ("inf", "is not a duration"),
        ("-1s", "is not a duration"), ("1e30", "is not a duration"), ("1000000d", "is not a duration"),
        ("0", "must be longer than zero"), ("0ms", "must be longer than zero"), ("36501d", "100 years"),
    ])
    func durationRefuses(text: String, why: String) {
        #expect(throws: ArgumentRefusal.self) { try DurationArgument.parse(text) }
        #expect(refusal { try DurationArgument.parse(text) }?.what.contains(why) == true)
    }

    @Test func durationOrOff() throws {
        for off in ["off", "none", "0", "OFF"] { #expect(try DurationOrOffArgument.parse(off).nanos == nil) }
        #expect(try DurationOrOffArgument.parse("30s").nanos == 30_000_000_000)
        #expect(refusal { try DurationOrOffArgument.parse("soon") }?.remedy.hasSuffix("or off") == true)
    }

    @Test(
        arguments: [
            ("5000", 5000.0), ("12k", 12_000), ("1.5M", 1_500_000), ("10_000", 10_000), ("300/s", 300), ("2k msg/s", 2000),
            ("1e3", 1000), ("0.000001", 1e-6), ("1e9", 1e9),
        ] as [(String, Double)])
    func rateParses(text: String, perSecond: Double) throws {
        #expect(try RateArgument.parse(text).perSecond == perSecond)
    }

    @Test(arguments: [
        ("fast", "is not a rate"), ("nan", "is not a rate"), ("inf", "is not a rate"), ("-inf", "is not a rate"), ("", "is not a rate"),
        ("0", "more than 0"), ("-5", "more than 0"), ("0.000000000001", "0.000001 msg/s"), ("1e30", "1e9 msg/s"), ("1001M", "1e9 msg/s"),
    ])
    func rateRefuses(text: String, why: String) {
        #expect(refusal { try RateArgument.parse(text) }?.what.contains(why) == true)
    }

    @Test func rateList() throws {
        #expect(try RateListArgument.parse("10k,1k,5k").perSecond == [1_000, 5_000, 10_000])
        #expect(try RateListArgument.parse("1M").perSecond == [1_000_000])
        #expect(refusal { try RateListArgument.parse("1k,fast") }?.what == "has 'fast', which is not a rate")
        #expect(refusal { try RateListArgument.parse(",") }?.what == "has no rates")
    }

    @Test(
        arguments: [
            ("1", Pace.speed(1)), ("0.01", .speed(0.01)), ("100x", .speed(100)), ("2500", .speed(2500)), ("max", .max), ("MAX", .max),
            ("0.000001", .speed(1e-6)), ("1e9x", .speed(1e9)),
        ] as [(String, Pace)])
    func speedParses(text: String, pace: Pace) throws {
        #expect(try SpeedArgument.parse(text).pace == pace)
    }

    @Test(arguments: [
        ("0", "positive"), ("-1", "positive"), ("0x", "positive"), ("-inf", "positive"), ("fast", "not a multiplier"),
        ("nan", "not a multiplier"), ("inf", "outside"), ("1e30", "outside"), ("0.0000001", "outside"),
    ])
    func speedRefuses(text: String, why: String) {
        #expect(refusal { try SpeedArgument.parse(text) }?.what.contains(why) == true)
    }

    @Test func shares() throws {
        #expect(try ShareArgument.parse("95%").fraction == 0.95)
        #expect(try ShareArgument.parse("0.5").fraction == 0.5)
        #expect(try ShareArgument.parse("100%").fraction == 1)
        for bad in ["0", "0%", "-5%", "150%", "1.5", "nan", "inf", "x%", ""] {
            #expect(throws: ArgumentRefusal.self, "\(bad)") { try ShareArgument.parse(bad) }
        }
    }

    @Test func sizes() throws {
        #expect(try SizeArgument.parse("1GB").bytes == 1_000_000_000)
        #expect(try SizeArgument.parse("512MiB").bytes == 512 * 1_048_576)
        #expect(try SizeArgument.parse("64k").bytes == 64_000)
        #expect(refusal { try SizeArgument.parse("0") }?.what == "must be more than zero bytes")
        for bad in ["1e30GB", "99999999999999999999", "10XB", "nan", "inf", "-1GB", ""] {
            #expect(refusal { try SizeArgument.parse(bad) }?.what == "is not a size", "\(bad)")
        }
    }

    @Test func ports() throws {
        #expect(try Port<AnyFreePort>.parse("9443").number == 9443)
        #expect(try Port<AnyFreePort>.parse("0").number == 0)
        #expect(try Port<NoListener>.parse("65535").number == 65535)
        #expect(
            refusal { try Port<AnyFreePort>.parse("70000") }
                == ArgumentRefusal(what: "is not a TCP port", remedy: "give 1–65535, or 0 for any free port"))
        #expect(refusal { try Port<NoListener>.parse("-1") } == ArgumentRefusal(what: "is not a TCP port", remedy: "give 1–65535, or 0 for none"))
        for bad in ["nan", "1e3", "99999999999999999999", "", "http"] {
            #expect(refusal { try Port<AnyFreePort>.parse(bad) }?.what == "is not a port number", "\(bad)")
        }
    }

    @Test func shards() throws {
        #expect(try ShardArgument.parse("0/4").shard == Shard(index: 0, count: 4))
        #expect(try ShardArgument.parse("3/4").shard == Shard(index: 3, count: 4))
        for bad in ["4/4", "-1/4", "0/0", "1", "a/b", "0/99999999999999999999", ""] {
            #expect(refusal { try ShardArgument.parse(bad) }?.what == "is not i/N with 0 ≤ i < N", "\(bad)")
        }
    }

    @Test func thresholds() throws {
        let plain = try ThresholdArgument.parse("10%")
        #expect(plain.pattern == nil && plain.relative == 0.1 && plain.absolute == nil)
        let scoped = try ThresholdArgument.parse("latency.*=50%,2")
        #expect(scoped.pattern == "latency.*" && scoped.relative == 0.5 && scoped.absolute == 2)
        #expect(try ThresholdArgument.parse("0.2").relative == 0.2)
        for bad in ["", "x=", "nan", "inf", "-10%", "ten"] {
            #expect(refusal { try ThresholdArgument.parse(bad) }?.what.contains("relative threshold") == true, "\(bad)")
        }
        for bad in ["10%,-1", "10%,nan", "10%,", "a=1,inf"] {
            #expect(refusal { try ThresholdArgument.parse(bad) }?.what.contains("absolute threshold") == true, "\(bad)")
        }
    }

    @Test func exchangeFeedRate() throws {
        #expect(try SimExchangeCommand.FeedRate.parse("max").isUnpaced)
        #expect(try SimExchangeCommand.FeedRate.parse("0").isUnpaced)
        #expect(try SimExchangeCommand.FeedRate.parse("0.0").isUnpaced)
        #expect(try !SimExchangeCommand.FeedRate.parse("1k").isUnpaced)
        #expect(refusal { try SimExchangeCommand.FeedRate.parse("-1") }?.remedy.hasSuffix("0 (as fast as read) or max") == true)
        #expect(refusal { try SimExchangeCommand.FeedRate.parse("1e30") }?.what.contains("1e9") == true)
    }

    @Test func rotation() throws {
        guard case .every(nanos: 3_600_000_000_000) = try RecordCommand.Rotation.parse("1h") else { Issue.record("1h"); return }
        guard case .bytes(500_000_000) = try RecordCommand.Rotation.parse("500MB") else { Issue.record("500MB"); return }
        for bad in ["0", "0B", "1e30GB", "soon", "-1h"] {
            #expect(refusal { try RecordCommand.Rotation.parse(bad) }?.what == "is neither an interval nor a size", "\(bad)")
        }
    }

    /// Defaults show in the help as typed.
    @Test func defaultsAsTyped() {
        #expect(DurationArgument(stringLiteral: "10m").defaultValueDescription == "10m")
        #expect(RateArgument(stringLiteral: "1k").defaultValueDescription == "1k")
        #expect(ShareArgument(stringLiteral: "95%").defaultValueDescription == "95%")
        #expect(RateListArgument(stringLiteral: "10k,50k,1M").defaultValueDescription == "10k,50k,1M")
        #expect(Port<AnyFreePort>(integerLiteral: 9443).defaultValueDescription == "9443")
        #expect(SimExchangeCommand.FeedRate(stringLiteral: "100").defaultValueDescription == "100")
    }

    /// `K2.main`'s line: the flag from argument-parser's message, the value, the type's reasons.
    @Test func refusalLine() {
        #expect(RateArgument(argument: "1e30") == nil)
        #expect(
            ArgumentRefusal.line(for: "The value '1e30' is invalid for '--rate <rate>'")
                == "--rate '1e30' is above 1e9 msg/s (one message per nanosecond), the fastest k2 schedules; write e.g. 5000, 12k or 1.5M (messages per second)"
        )
        // Another value's message is left to argument-parser's words.
        #expect(ArgumentRefusal.line(for: "The value 'abc' is invalid for '--loop <loop>'") == nil)
    }

    @Test func integerRanges() {
        #expect(throws: Never.self) { try check(3, in: 1...Int.max, "--loop", example: 3) }
        #expect(throws: Never.self) { try check(nil as Int?, in: 1...5, "--loop", example: 3) }
        #expect(
            validationMessage { try check(0, in: 1...Int.max, "--loop", example: 3) } == "--loop 0 is out of range: give at least 1, e.g. --loop 3")
        #expect(
            validationMessage { try check(100 as Int32, in: 1...99, "--realtime", example: 10) }
                == "--realtime 100 is out of range: give 1…99, e.g. --realtime 10")
    }

    /// The refusal `body` throws, nil when it parses.
    func refusal<T>(_ body: () throws -> T) -> ArgumentRefusal? {
        do { _ = try body(); return nil } catch { return error as? ArgumentRefusal }
    }

    func validationMessage(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch { return (error as? ValidationError)?.message }
    }
}
