import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

@testable import K2Sim

/// Runs the built `k2` binary (.build/debug/k2, built by `swift build --build-tests`) on bad
/// input: every mistake is one line on stderr naming the file and key (or the flag), exit 2.
@Suite(.serialized) struct SimCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let k2 = root + "/.build/debug/k2"
    let dir = TemporaryDirectory()

    /// Exit status and stderr of `k2 ARGS`.
    func k2(_ args: String) throws -> (status: Int32, err: String) {
        #expect(FileManager.default.isExecutableFile(atPath: Self.k2), "build k2 first: swift build --build-tests")
        let (status, _, errorText) = try Shell.execute("'\(Self.k2)' \(args)")
        return (status, errorText.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func profile(_ name: String, _ yaml: String) throws -> String {
        let path = dir.file(name)
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// One line, exit 2, containing every fragment.
    func expectOneLine(_ r: (status: Int32, err: String), _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 2, "\(r.err)", sourceLocation: sourceLocation)
        #expect(!r.err.contains("\n"), "\(r.err)", sourceLocation: sourceLocation)
        #expect(r.err.hasPrefix("k2: "), "\(r.err)", sourceLocation: sourceLocation)
        for f in fragments { #expect(r.err.contains(f), "\(r.err) lacks \(f)", sourceLocation: sourceLocation) }
    }

    static let timeline = "timeline:\n  - shape: constant\n    rate: 100\n    duration: 1s\n"

    @Test func unknownVenue() throws {
        expectOneLine(try k2("sim exchange --venue nasdaq --port 0 --quiet"), "--venue", "unknown venue 'nasdaq'")
        expectOneLine(try k2("sim generate --venue nasdaq --rate 10 --duration 1s -o '\(dir.file("x.k2cap"))'"), "--venue", "unknown venue 'nasdaq'")
        let path = try profile("v.yaml", "venues: [binance, nyse]\n" + Self.timeline)
        expectOneLine(try k2("sim check '\(path)'"), "v.yaml:1:9: key 'venues': unknown venue 'nyse'")
        expectOneLine(try k2("sim bench --venue nasdaq --messages 10"), "unknown venue")
    }

    @Test func badProfileKeysAndValues() throws {
        let negative = try profile("neg.yaml", "timeline:\n  - shape: constant\n    rate: -5\n    duration: 1s\n")
        let shape = try profile("shape.yaml", "timeline:\n  - shape: zigzag\n    duration: 1s\n")
        let key = try profile("key.yaml", "seed: 1\nmarkt: {symbols: 3}\n" + Self.timeline)
        let fault = try profile("fault.yaml", "faults:\n  gap_every: -1\n" + Self.timeline)
        let faultKey = try profile("fkey.yaml", "faults:\n  drop: 1s\n" + Self.timeline)
        for cmd in ["sim check", "sim generate -o '\(dir.file("o.k2cap"))' --profile", "sim exchange --venue binance --port 0 --quiet --profile"] {
            expectOneLine(try k2("\(cmd) '\(negative)'"), "neg.yaml:3:11: key 'timeline[0].rate' must be from 0 to 1000000000, not '-5'")
            expectOneLine(try k2("\(cmd) '\(shape)'"), "shape.yaml:2:12: key 'timeline[0].shape': unknown shape 'zigzag'")
            expectOneLine(try k2("\(cmd) '\(key)'"), "key.yaml:2:1: unknown key 'markt' — did you mean 'market'?")
            expectOneLine(try k2("\(cmd) '\(fault)'"), "fault.yaml:2:14: key 'faults.gap_every' must be from 0 to 1000000000, not '-1'")
            expectOneLine(try k2("\(cmd) '\(faultKey)'"), "fkey.yaml:2:3: unknown key 'faults.drop'")
        }
        expectOneLine(try k2("sim check '\(dir.file("missing.yaml"))'"), "missing.yaml", "cannot read")
    }

    @Test func badFlags() throws {
        expectOneLine(try k2("sim generate --rate=-5 --duration 1s -o '\(dir.file("x.k2cap"))'"), "--rate", "more than 0 msg/s")
        expectOneLine(try k2("sim generate --rate 5 -o '\(dir.file("x.k2cap"))'"), "--rate", "needs --duration")
        expectOneLine(try k2("sim generate --rate 5 --duration soon -o '\(dir.file("x.k2cap"))'"), "--duration")
        expectOneLine(try k2("sim exchange --venue binance --port 0 --quiet --rate=-1"), "--rate", "more than 0 msg/s")
        expectOneLine(try k2("sim exchange --venue binance --port 0 --quiet --gap-every=-1"), "--gap-every", "out of range")
        expectOneLine(try k2("sim exchange --venue binance --port 0 --quiet --drop-every soon"), "--drop-every", "is not a duration")
    }

    @Test func portInUse() throws {
        var options = ExchangeOptions(venue: .binance, profile: SimProfile.constant(rate: 10, duration: 60_000_000_000))
        options.verbose = false
        let ex = try ExchangeServer(options)
        defer { ex.close() }
        expectOneLine(try k2("sim exchange --venue binance --port \(ex.port) --quiet --duration 1s"), "--port \(ex.port)", "already in use")
    }

    @Test func faultsInTheProfileAreShownByCheck() throws {
        let path = try profile("f.yaml", "faults:\n  gap_every: 500\n  drop_every: 30s\n  close_after: off\n" + Self.timeline)
        let (status, out, _) = try Shell.execute("'\(Self.k2)' sim check '\(path)'")
        #expect(status == 0)
        #expect(out.contains("exchange faults: drop every 30.00s, gap every 500 messages, no lifetime limit"), "\(out)")
    }

    /// The summary's message count and the mock sink's checksum from a `--report` directory.
    func figures(_ report: String) throws -> (messages: String, checksum: String) {
        let summary = try JSONParser.parse(try String(contentsOfFile: report + "/summary.json", encoding: .utf8))
        let sink = try #require(summary["sinks"]?.arrayValue?.first)
        return (summary["messages"]?.serialized() ?? "", sink["checksum"]?.stringValue ?? "")
    }

    /// `k2 sim run` replays the generator directly: the same messages and mock checksum as
    /// `k2 sim generate` + `k2 replay`, and no file in $TMPDIR; `--keep` writes the same capture.
    @Test func simRunStreamsWithoutATemporaryFile() throws {
        let tmp = dir.file("tmp")
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let profileArgs = "--rate 5000 --duration 1s --seed 3 --venue binance --symbols 20"
        let cap = dir.file("g.k2cap")
        let kept = dir.file("kept.k2cap")
        #expect(try Shell.execute("'\(Self.k2)' sim generate \(profileArgs) -o '\(cap)'").0 == 0)
        let (s1, _, e1) = try Shell.execute("'\(Self.k2)' replay '\(cap)' --speed max --sink mock:// --quiet --report '\(dir.file("r1"))'")
        #expect(s1 == 0, "\(e1)")
        let (s2, _, e2) = try Shell.execute(
            "TMPDIR='\(tmp)' '\(Self.k2)' sim run \(profileArgs) --speed max --sink mock:// --quiet --loop 2 --keep '\(kept)' --report '\(dir.file("r2"))'"
        )
        #expect(s2 == 0, "\(e2)")
        #expect(e2.contains("generated as they are replayed"), "\(e2)")
        let fromFile = try figures(dir.file("r1"))
        let fromRun = try figures(dir.file("r2"))
        #expect(Int(fromRun.messages) == 2 * (Int(fromFile.messages) ?? -1), "\(fromRun) vs \(fromFile)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty)
        // One round: the same checksum as the capture's replay.
        let (s3, _, e3) = try Shell.execute(
            "TMPDIR='\(tmp)' '\(Self.k2)' sim run \(profileArgs) --speed max --sink mock:// --quiet --report '\(dir.file("r3"))'")
        #expect(s3 == 0, "\(e3)")
        let one = try figures(dir.file("r3"))
        #expect(one.messages == fromFile.messages && one.checksum == fromFile.checksum && !one.checksum.isEmpty, "\(one) vs \(fromFile)")
        // --keep: the records of `generate`.
        func recs(_ p: String) throws -> [OwnedRecord] {
            let reader = try CaptureReader(path: p)
            var out: [OwnedRecord] = []
            while let record = try reader.next() { out.append(record.owned()) }
            return out
        }
        #expect(try recs(kept) == (try recs(cap)))
    }

    /// `--shard`, `--realtime` and `--metrics-port` reach the replay as they do for captures:
    /// the two shards of a run add up to the whole run, and bad values are replay's one line.
    @Test func simRunTakesShardRealtimeAndMetricsPort() throws {
        let profileArgs = "--rate 5000 --duration 1s --seed 5 --venue binance --symbols 20 --speed max --sink mock:// --quiet"
        var counts: [Int] = []
        for shard in ["", "--shard 0/2", "--shard 1/2"] {
            let report = dir.file("shard\(counts.count)")
            let (status, _, errorText) = try Shell.execute("'\(Self.k2)' sim run \(profileArgs) \(shard) --report '\(report)'")
            #expect(status == 0, "\(errorText)")
            counts.append(Int(try figures(report).messages) ?? -1)
        }
        #expect(counts[1] > 0 && counts[2] > 0 && counts[1] + counts[2] == counts[0], "\(counts)")
        // Refused before sim run's banner line: the error is the only line.
        for (args, message) in [
            ("--metrics-port 70000", "--metrics-port '70000' is not a TCP port"),
            ("--realtime -3", "--realtime -3 is out of range: give 1…99"),
            ("--speed max --realtime 100", "--realtime 100 is out of range: give 1…99"),
        ] {
            let result = try k2("sim run \(profileArgs.replacingOccurrences(of: "--speed max ", with: "")) \(args)")
            #expect(result.status == 2, "\(result.err)")
            #expect(result.err.hasPrefix("k2: ") && !result.err.contains("\n") && result.err.contains(message), "\(result.err)")
        }
    }
}
