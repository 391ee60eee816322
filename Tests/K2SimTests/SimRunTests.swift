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
        var profile = SimProfile.constant(rate: rate, duration: 500_000_000, venue: venues[0], seed: seed)
        profile.venues = venues
        profile.market.symbols = 30
        return profile
    }

    /// Replays `config` at max into one mock sink: (messages, checksum, mock count).
    func replay(_ config: ReplayConfig) throws -> (UInt64, UInt64, UInt64) {
        let mock = MockSink()
        let clock = ManualClock(monotonic: 1_000)
        var fastConfig = config
        fastConfig.pace = .max
        let summary = try ReplayEngine(config: fastConfig, sinks: [mock], clock: clock, waiter: ManualWaiter(clock: clock)).run()
        #expect(summary.outcome == .completed)
        return (summary.messages, mock.checksum, mock.counts.delivered)
    }

    func records(_ path: String) throws -> [OwnedRecord] {
        let reader = try CaptureReader(path: path)
        var out: [OwnedRecord] = []
        while let record = try reader.next() { out.append(record.owned()) }
        return out
    }

    @Test(arguments: [[Venue.binance], [.kraken], [.binance, .kraken, .coinbase]])
    func sourceSendsWhatTheCaptureSends(_ venues: [Venue]) throws {
        let profile = Self.profile(venues: venues)
        let path = dir.file("gen.k2cap")
        let written = try CaptureGenerator(profile: profile).write(path: path)
        for loops in [1, 2] {
            var fileConfig = ReplayConfig(files: [path])
            fileConfig.loops = loops
            let fromFile = try replay(fileConfig)
            var srcConfig = ReplayConfig(
                source: ReplaySourceFactory(name: "sim") { try GeneratedReplaySource(generator: CaptureGenerator(profile: profile)) })
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
        let src = try GeneratedReplaySource(generator: CaptureGenerator(profile: profile))
        try src.rewind()
        var fromSource: [OwnedRecord] = []
        while let record = try src.next() { fromSource.append(record.owned()) }
        #expect(fromSource == (try records(path)))
        // A second round gives the same records again.
        try src.rewind()
        var again = 0
        while let record = try src.next() {
            if again < fromSource.count, record.owned() != fromSource[again] { Issue.record("round 2 differs at \(again)"); break }
            again += 1
        }
        #expect(again == fromSource.count)
    }

    @Test func multiVenueRecordsAreMergedInTimeOrder() throws {
        let profile = Self.profile(venues: [.binance, .kraken, .coinbase], rate: 5_000)
        let recs = GeneratedRecords(CaptureGenerator(profile: profile))
        var last = Int64.min
        var perConnection = [0, 0, 0]
        var opening = true
        var seen = 0
        while let record = recs.next() {
            if opening, !recs.isOpening { opening = false; last = .min }
            if !recs.isOpening {
                #expect(record.kind == .recv)
                perConnection[Int(record.connection)] += 1
            }
            if record.timestamp < last { Issue.record("record \(seen) at \(record.timestamp) before \(last)"); break }
            last = record.timestamp
            seen += 1
        }
        #expect(perConnection.allSatisfy { $0 > 1_000 }, "\(perConnection)")
        #expect(recs.result.records == Int64(seen))
    }

    @Test func keepWritesTheReplayedRecords() throws {
        let profile = Self.profile(rate: 5_000)
        let kept = dir.file("kept.k2cap")
        let written = dir.file("written.k2cap")
        _ = try CaptureGenerator(profile: profile).write(path: written)
        let src = try GeneratedReplaySource(generator: CaptureGenerator(profile: profile), keep: kept)
        var config = ReplayConfig(source: ReplaySourceFactory(name: "sim") { src })
        config.loops = 2
        _ = try replay(config)
        try src.closeKept()
        #expect(try records(kept) == (try records(written)))
        #expect(try CaptureReader(path: kept).header.metadataValue("profile")?.stringValue == profile.name)
    }

    @Test func untilEndsEachRound() throws {
        let profile = Self.profile(rate: 5_000)
        let generator = CaptureGenerator(profile: profile)
        let cut = profile.startNanos + 100_000_000
        let src = try GeneratedReplaySource(generator: generator, until: cut)
        try src.rewind()
        var seen = 0
        var lastT = Int64.min
        while let record = try src.next() { seen += 1; lastT = record.timestamp }
        #expect(seen > 100 && lastT < cut)
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
        let reader = try CaptureReader(path: path)
        var opening: [OwnedRecord] = []
        var out: [Parsed] = []
        while let record = try reader.next() {
            guard record.kind == .recv, record.connection == 0 else { opening.append(record.owned()); continue }
            let message = try JSONParser.parse(Array(record.payload))
            guard let stream = message["stream"]?.stringValue, let data = message["data"] else { opening.append(record.owned()); continue }
            out.append(Parsed(stream: stream, data: data, ts: record.timestamp))
        }
        return (opening, out)
    }

    static func profile(seed: UInt64 = 11) -> SimProfile {
        var profile = SimProfile.constant(rate: 20_000, duration: 1_000_000_000, venue: .binance, seed: seed)
        profile.market.symbols = 20
        return profile
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
        for message in msgs {
            let sym = message.data["s"]!.stringValue!
            switch message.data["e"]!.stringValue! {
            case "trade":
                #expect(message.stream.hasSuffix("@trade"))
                let tradeID = message.data["t"]!.int64Value!
                if let previous = lastT[sym], tradeID != previous + 1 { Issue.record("\(sym): t \(tradeID) after \(previous)") }
                lastT[sym] = tradeID
                fills[sym, default: []].append((tradeID, Self.units(message.data["q"]!.stringValue!), message.ts))
                trades += 1
            case "aggTrade":
                #expect(message.stream.hasSuffix("@aggTrade"))
                let aggID = message.data["a"]!.int64Value!
                if let previous = lastA[sym], aggID != previous + 1 { Issue.record("\(sym): a \(aggID) after \(previous)") }
                lastA[sym] = aggID
                let firstID = message.data["f"]!.int64Value!, lastID = message.data["l"]!.int64Value!
                let got = fills[sym] ?? []
                #expect(got.map(\.id) == Array(firstID...lastID), "\(sym) aggTrade \(aggID): f..l \(firstID)..\(lastID), fills \(got.map(\.id))")
                #expect(got.map(\.qty).reduce(0, +) == Self.units(message.data["q"]!.stringValue!))
                #expect(got.allSatisfy { $0.ts == message.ts })
                if lastID > firstID { multi += 1 }
                fills[sym] = nil
                aggs += 1
            default:
                #expect(message.data["e"]!.stringValue! == "depthUpdate")
            }
        }
        #expect(fills.values.allSatisfy { $0.isEmpty })
        #expect(aggs > 2_000 && multi > 300 && trades > aggs)
        // The rate still counts messages (all three streams): ≈ 20,000 in 1 s.
        #expect(msgs.count > 18_000 && msgs.count < 22_000, "\(msgs.count)")
    }

    @Test func streamsSelectWhatIsWritten() throws {
        var profile = Self.profile()
        profile.binanceStreams = [.trade, .depth]
        let (opening, msgs) = try recv(profile)
        let sub = String(decoding: opening.first { $0.kind == .send }!.payload, as: UTF8.self)
        #expect(!sub.contains("@aggTrade") && sub.contains("@trade\""))
        #expect(msgs.allSatisfy { $0.data["e"]?.stringValue != "aggTrade" })
        var lastT: [String: Int64] = [:]
        for message in msgs where message.data["e"]?.stringValue == "trade" {
            let sym = message.data["s"]!.stringValue!, tradeID = message.data["t"]!.int64Value!
            if let previous = lastT[sym], tradeID != previous + 1 { Issue.record("\(sym): t \(tradeID) after \(previous)") }
            lastT[sym] = tradeID
        }
        // The same market: the @trade messages are those of the all-streams capture.
        let all = try recv(Self.profile()).messages.filter { $0.data["e"]?.stringValue == "trade" }
        let only = msgs.filter { $0.data["e"]?.stringValue == "trade" }
        #expect(only.map { $0.data.serialized() } == all.map { $0.data.serialized() })
    }

    @Test func sameSeedSameCapture() throws {
        let first = try recv(Self.profile(seed: 3)).messages.map { $0.data.serialized() }
        let second = try recv(Self.profile(seed: 3)).messages.map { $0.data.serialized() }
        #expect(first == second && !first.isEmpty)
    }

    /// The first recv messages of a generated Binance capture, byte for byte (refresh with K2_UPDATE_GOLDEN=1).
    @Test func goldenGeneratedBinance() throws {
        var profile = SimProfile.constant(rate: 1_000, duration: 1_000_000_000, venue: .binance, seed: 42)
        profile.market.symbols = 50
        let recs = GeneratedRecords(CaptureGenerator(profile: profile))
        var text = ""
        var seen = 0
        while seen < 16, let record = recs.next() {
            guard !recs.isOpening else { continue }
            text += "\(record.timestamp) " + String(decoding: record.payload, as: UTF8.self) + "\n"
            seen += 1
        }
        let url = VenueGoldenTests.dir.appendingPathComponent("Golden/binance-generated.ndjson")
        if ProcessInfo.processInfo.environment["K2_UPDATE_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(text == golden, "refresh with K2_UPDATE_GOLDEN=1 if the change is intended")
    }
}
