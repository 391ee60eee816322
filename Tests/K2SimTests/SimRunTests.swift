import Foundation
import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing
@testable import K2Sim

/// `k2 sim run`'s path: the generator as a replay source (no capture file) sends what replaying
/// the generated capture sends.
@Suite struct GeneratedSourceTests {
    let dir = TemporaryDirectory()

    static func profile(venues: [Venue] = [.binance], rate: Double = 20_000, seed: UInt64 = 5) -> SimProfile {
        var p = SimProfile.constant(rate: rate, duration: 500_000_000, venue: venues[0], seed: seed)
        p.venues = venues
        p.market.symbols = 30
        return p
    }

    /// Replays `config` at max into one mock sink: (messages, checksum, mock count).
    func replay(_ config: ReplayConfig) throws -> (UInt64, UInt64, UInt64) {
        let mock = MockSink()
        let clock = ManualClock(monotonic: 1_000)
        var c = config
        c.pace = .max
        let summary = try ReplayEngine(config: c, sinks: [mock], clock: clock, waiter: ManualWaiter(clock: clock)).run()
        #expect(summary.outcome == .completed)
        return (summary.messages, mock.checksum, mock.counts.delivered)
    }

    func records(_ path: String) throws -> [OwnedRecord] {
        let r = try CaptureReader(path: path)
        var out: [OwnedRecord] = []
        while let x = try r.next() { out.append(x.owned()) }
        return out
    }

    @Test(arguments: [[Venue.binance], [.kraken], [.binance, .kraken, .coinbase]])
    func sourceSendsWhatTheCaptureSends(_ venues: [Venue]) throws {
        let p = Self.profile(venues: venues)
        let path = dir.file("gen.k2cap")
        let written = try CaptureGenerator(profile: p).write(path: path)
        for loops in [1, 2] {
            var fileConfig = ReplayConfig(files: [path])
            fileConfig.loops = loops
            let fromFile = try replay(fileConfig)
            var srcConfig = ReplayConfig(source: ReplaySourceFactory(name: "sim") { try GeneratedReplaySource(generator: CaptureGenerator(profile: p)) })
            srcConfig.loops = loops
            let fromSource = try replay(srcConfig)
            // recv records only: the market messages and the acks.
            let acks = try records(path).filter { $0.kind == .recv }.count - Int(written.messages)
            #expect(fromFile.0 == UInt64(Int(written.messages) + acks) * UInt64(loops))
            #expect(fromSource.0 == fromFile.0, "messages: source \(fromSource.0), file \(fromFile.0)")
            #expect(fromSource.1 == fromFile.1, "mock checksum differs")
            #expect(fromSource.2 == fromFile.2)
            #expect(fromSource.0 > 8_000 * UInt64(loops))
        }
        // Every record, in order, byte for byte (the source and the writer share GeneratedRecords).
        let src = try GeneratedReplaySource(generator: CaptureGenerator(profile: p))
        try src.rewind()
        var fromSource: [OwnedRecord] = []
        while let r = try src.next() { fromSource.append(r.owned()) }
        #expect(fromSource == (try records(path)))
        // A second round gives the same records again.
        try src.rewind()
        var again = 0
        while let r = try src.next() {
            if again < fromSource.count, r.owned() != fromSource[again] { Issue.record("round 2 differs at \(again)"); break }
            again += 1
        }
        #expect(again == fromSource.count)
    }

    @Test func multiVenueRecordsAreMergedInTimeOrder() throws {
        let p = Self.profile(venues: [.binance, .kraken, .coinbase], rate: 5_000)
        let recs = GeneratedRecords(CaptureGenerator(profile: p))
        var last = Int64.min
        var perConnection = [0, 0, 0]
        var opening = true
        var n = 0
        while let r = recs.next() {
            if opening, !recs.isOpening { opening = false; last = .min }
            if !recs.isOpening {
                #expect(r.kind == .recv)
                perConnection[Int(r.connection)] += 1
            }
            if r.timestamp < last { Issue.record("record \(n) at \(r.timestamp) before \(last)"); break }
            last = r.timestamp
            n += 1
        }
        #expect(perConnection.allSatisfy { $0 > 1_000 }, "\(perConnection)")
        #expect(recs.result.records == Int64(n))
    }

    @Test func keepWritesTheReplayedRecords() throws {
        let p = Self.profile(rate: 5_000)
        let kept = dir.file("kept.k2cap")
        let written = dir.file("written.k2cap")
        _ = try CaptureGenerator(profile: p).write(path: written)
        let src = try GeneratedReplaySource(generator: CaptureGenerator(profile: p), keep: kept)
        var config = ReplayConfig(source: ReplaySourceFactory(name: "sim") { src })
        config.loops = 2
        _ = try replay(config)
        try src.closeKept()
        #expect(try records(kept) == (try records(written)))
        #expect(try CaptureReader(path: kept).header.metadataValue("profile")?.stringValue == p.name)
    }

    @Test func untilEndsEachRound() throws {
        let p = Self.profile(rate: 5_000)
        let g = CaptureGenerator(profile: p)
        let cut = p.startNanos + 100_000_000
        let src = try GeneratedReplaySource(generator: g, until: cut)
        try src.rewind()
        var n = 0
        var lastT = Int64.min
        while let r = try src.next() { n += 1; lastT = r.timestamp }
        #expect(n > 100 && lastT < cut)
    }
}

/// `k2 sim generate` on Binance sends what the live simulator sends: every fill on `@trade`, one
/// `aggTrade` per trade event on `@aggTrade`, ids continuous.
@Suite struct GeneratedFanoutTests {
    let dir = TemporaryDirectory()

    struct Parsed { var stream: String; var data: JSONValue; var ts: Int64 }

    func recv(_ p: SimProfile) throws -> (opening: [OwnedRecord], messages: [Parsed]) {
        let path = dir.file("b.k2cap")
        _ = try CaptureGenerator(profile: p).write(path: path)
        let r = try CaptureReader(path: path)
        var opening: [OwnedRecord] = []
        var out: [Parsed] = []
        while let x = try r.next() {
            guard x.kind == .recv, x.connection == 0 else { opening.append(x.owned()); continue }
            let v = try JSONParser.parse(Array(x.payload))
            guard let s = v["stream"]?.stringValue, let d = v["data"] else { opening.append(x.owned()); continue }
            out.append(Parsed(stream: s, data: d, ts: x.timestamp))
        }
        return (opening, out)
    }

    static func profile(seed: UInt64 = 11) -> SimProfile {
        var p = SimProfile.constant(rate: 20_000, duration: 1_000_000_000, venue: .binance, seed: seed)
        p.market.symbols = 20
        return p
    }

    /// 1e-8 units of a Binance decimal string.
    static func units(_ s: String) -> Int64 {
        let parts = s.split(separator: ".")
        let frac = parts.count > 1 ? String(parts[1]).padding(toLength: 8, withPad: "0", startingAt: 0) : "00000000"
        return Int64(parts[0])! * 100_000_000 + Int64(frac)!
    }

    @Test func tradesAndAggTradesAreContinuousAndMatch() throws {
        let (opening, msgs) = try recv(Self.profile())
        // The subscription names all three streams.
        let send = try #require(opening.first { $0.kind == .send })
        let sub = String(decoding: send.payload, as: UTF8.self)
        #expect(sub.contains("@trade\"") && sub.contains("@aggTrade\"") && sub.contains("@depth@100ms\""))
        var lastT: [String: Int64] = [:]
        var lastA: [String: Int64] = [:]
        var fills: [String: [(id: Int64, qty: Int64, ts: Int64)]] = [:]
        var aggs = 0, trades = 0, multi = 0
        for m in msgs {
            let sym = m.data["s"]!.stringValue!
            switch m.data["e"]!.stringValue! {
            case "trade":
                #expect(m.stream.hasSuffix("@trade"))
                let t = m.data["t"]!.int64Value!
                if let l = lastT[sym], t != l + 1 { Issue.record("\(sym): t \(t) after \(l)") }
                lastT[sym] = t
                fills[sym, default: []].append((t, Self.units(m.data["q"]!.stringValue!), m.ts))
                trades += 1
            case "aggTrade":
                #expect(m.stream.hasSuffix("@aggTrade"))
                let a = m.data["a"]!.int64Value!
                if let l = lastA[sym], a != l + 1 { Issue.record("\(sym): a \(a) after \(l)") }
                lastA[sym] = a
                let f = m.data["f"]!.int64Value!, l = m.data["l"]!.int64Value!
                let got = fills[sym] ?? []
                #expect(got.map(\.id) == Array(f...l), "\(sym) aggTrade \(a): f..l \(f)..\(l), fills \(got.map(\.id))")
                #expect(got.map(\.qty).reduce(0, +) == Self.units(m.data["q"]!.stringValue!))
                #expect(got.allSatisfy { $0.ts == m.ts })
                if l > f { multi += 1 }
                fills[sym] = nil
                aggs += 1
            default:
                #expect(m.data["e"]!.stringValue! == "depthUpdate")
            }
        }
        #expect(fills.values.allSatisfy { $0.isEmpty })
        #expect(aggs > 2_000 && multi > 300 && trades > aggs)
        // The rate still counts messages (all three streams): ≈ 20,000 in 1 s.
        #expect(msgs.count > 18_000 && msgs.count < 22_000, "\(msgs.count)")
    }

    @Test func streamsSelectWhatIsWritten() throws {
        var p = Self.profile()
        p.binanceStreams = [.trade, .depth]
        let (opening, msgs) = try recv(p)
        let sub = String(decoding: opening.first { $0.kind == .send }!.payload, as: UTF8.self)
        #expect(!sub.contains("@aggTrade") && sub.contains("@trade\""))
        #expect(msgs.allSatisfy { $0.data["e"]?.stringValue != "aggTrade" })
        var lastT: [String: Int64] = [:]
        for m in msgs where m.data["e"]?.stringValue == "trade" {
            let sym = m.data["s"]!.stringValue!, t = m.data["t"]!.int64Value!
            if let l = lastT[sym], t != l + 1 { Issue.record("\(sym): t \(t) after \(l)") }
            lastT[sym] = t
        }
        // The same market: the @trade messages are those of the all-streams capture.
        let all = try recv(Self.profile()).messages.filter { $0.data["e"]?.stringValue == "trade" }
        let only = msgs.filter { $0.data["e"]?.stringValue == "trade" }
        #expect(only.map { $0.data.serialized() } == all.map { $0.data.serialized() })
    }

    @Test func sameSeedSameCapture() throws {
        let a = try recv(Self.profile(seed: 3)).messages.map { $0.data.serialized() }
        let b = try recv(Self.profile(seed: 3)).messages.map { $0.data.serialized() }
        #expect(a == b && !a.isEmpty)
    }

    /// The first recv messages of a generated Binance capture, byte for byte (refresh with K2_UPDATE_GOLDEN=1).
    @Test func goldenGeneratedBinance() throws {
        var p = SimProfile.constant(rate: 1_000, duration: 1_000_000_000, venue: .binance, seed: 42)
        p.market.symbols = 50
        let recs = GeneratedRecords(CaptureGenerator(profile: p))
        var text = ""
        var n = 0
        while n < 16, let r = recs.next() {
            guard !recs.isOpening else { continue }
            text += "\(r.timestamp) " + String(decoding: r.payload, as: UTF8.self) + "\n"
            n += 1
        }
        let url = VenueGoldenTests.dir.appendingPathComponent("Golden/binance-generated.ndjson")
        if ProcessInfo.processInfo.environment["K2_UPDATE_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(text == golden, "refresh with K2_UPDATE_GOLDEN=1 if the change is intended")
    }
}
