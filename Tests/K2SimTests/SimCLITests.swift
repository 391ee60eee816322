import Foundation
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
        let (s, _, e) = try Shell.execute("'\(Self.k2)' \(args)")
        return (s, e.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func profile(_ name: String, _ yaml: String) throws -> String {
        let p = dir.file(name)
        try yaml.write(toFile: p, atomically: true, encoding: .utf8)
        return p
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
        let p = try profile("v.yaml", "venues: [binance, nyse]\n" + Self.timeline)
        expectOneLine(try k2("sim check '\(p)'"), "v.yaml:1: venues: unknown venue 'nyse'")
        expectOneLine(try k2("sim bench --venue nasdaq --messages 10"), "unknown venue")
    }

    @Test func badProfileKeysAndValues() throws {
        let negative = try profile("neg.yaml", "timeline:\n  - shape: constant\n    rate: -5\n    duration: 1s\n")
        let shape = try profile("shape.yaml", "timeline:\n  - shape: zigzag\n    duration: 1s\n")
        let key = try profile("key.yaml", "seed: 1\nmarkt: {symbols: 3}\n" + Self.timeline)
        let fault = try profile("fault.yaml", "faults:\n  gap_every: -1\n" + Self.timeline)
        let faultKey = try profile("fkey.yaml", "faults:\n  drop: 1s\n" + Self.timeline)
        for cmd in ["sim check", "sim generate -o '\(dir.file("o.k2cap"))' --profile", "sim exchange --venue binance --port 0 --quiet --profile"] {
            expectOneLine(try k2("\(cmd) '\(negative)'"), "neg.yaml:3: timeline[0].rate: must be at least 0, found -5")
            expectOneLine(try k2("\(cmd) '\(shape)'"), "shape.yaml:2: timeline[0].shape: unknown shape 'zigzag'")
            expectOneLine(try k2("\(cmd) '\(key)'"), "key.yaml:2: markt: unknown key")
            expectOneLine(try k2("\(cmd) '\(fault)'"), "fault.yaml:2: faults.gap_every: must be at least 0, found -1")
            expectOneLine(try k2("\(cmd) '\(faultKey)'"), "fkey.yaml:2: faults.drop: unknown key")
        }
        expectOneLine(try k2("sim check '\(dir.file("missing.yaml"))'"), "missing.yaml", "cannot read")
    }

    @Test func badFlags() throws {
        expectOneLine(try k2("sim generate --rate=-5 --duration 1s -o '\(dir.file("x.k2cap"))'"), "--rate", "positive")
        expectOneLine(try k2("sim generate --rate 5 -o '\(dir.file("x.k2cap"))'"), "--rate", "needs --duration")
        expectOneLine(try k2("sim generate --rate 5 --duration soon -o '\(dir.file("x.k2cap"))'"), "--duration")
        expectOneLine(try k2("sim exchange --venue binance --port 0 --quiet --rate=-1"), "--rate", "negative")
        expectOneLine(try k2("sim exchange --venue binance --port 0 --quiet --gap-every=-1"), "--gap-every", "negative")
        expectOneLine(try k2("sim exchange --venue binance --port 0 --quiet --drop-every soon"), "--drop-every", "bad duration")
    }

    @Test func portInUse() throws {
        var o = ExchangeOptions(venue: .binance, profile: SimProfile.constant(rate: 10, duration: 60_000_000_000))
        o.verbose = false
        let ex = try ExchangeServer(o)
        defer { ex.close() }
        expectOneLine(try k2("sim exchange --venue binance --port \(ex.port) --quiet --duration 1s"), "--port \(ex.port)", "already in use")
    }

    @Test func faultsInTheProfileAreShownByCheck() throws {
        let p = try profile("f.yaml", "faults:\n  gap_every: 500\n  drop_every: 30s\n  close_after: off\n" + Self.timeline)
        let (s, out, _) = try Shell.execute("'\(Self.k2)' sim check '\(p)'")
        #expect(s == 0)
        #expect(out.contains("exchange faults: drop every 30.00s, gap every 500 messages, no lifetime limit"), "\(out)")
    }
}
