import Foundation
import K2Capture
import K2Core
import K2Net
import K2TestSupport
import Testing

@testable import K2Record
@testable import K2Sim

/// Records from the in-process exchange simulator and compares the capture with the
/// simulator's own log of what it sent, frame by frame.
@Suite(.serialized)
struct SimExchangeRecordTests {
    static func names(_ venue: Venue, _ n: Int = 2) -> [String] {
        let universe = LiveFeed(profile: SimProfile.constant(rate: 1, duration: 1_000_000_000, venue: venue), venue: venue).universe
        return (0..<n).map { universe.symbols[$0].name(for: venue) }
    }

    static func exchange(_ venue: Venue, rate: Double = 3000, log: String, _ tweak: (inout ExchangeOptions) -> Void = { _ in }) throws
        -> ExchangeServer
    {
        var simProfile = SimProfile.constant(rate: rate, duration: 3_600_000_000_000, venue: venue, seed: 7)
        simProfile.market.symbols = 5
        var options = ExchangeOptions(venue: venue, profile: simProfile)
        options.logPath = log
        options.verbose = false
        tweak(&options)
        return try ExchangeServer(options)
    }

    /// Records until `until` holds, stops the recorder, then the simulator.
    static func record(_ plan: ConnectionPlan, _ path: String, server: ExchangeServer, until: (RecordSummary) -> Bool) throws -> RecordSummary {
        let rec = try Recorder(testConfig([plan], path))
        rec.start()
        #expect(waitUntil(30) { until(rec.currentSummary()) })
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        let summary = rec.currentSummary()
        server.close()
        return summary
    }

    /// recv payloads per connection id.
    static func received(_ path: String) throws -> [UInt32: [[UInt8]]] {
        var out: [UInt32: [[UInt8]]] = [:]
        for record in try readAll(path) where record.kind == .recv { out[record.connection, default: []].append(record.payload) }
        return out
    }

    /// The recorder's recv payloads split at each `connect` record (one list per connection made).
    static func perConnect(_ path: String) throws -> [[[UInt8]]] {
        var out: [[[UInt8]]] = []
        for record in try readAll(path) {
            if record.kind == .connect { out.append([]) }
            if record.kind == .recv { out[out.count - 1].append(record.payload) }
        }
        return out
    }

    @Test func binanceCaptureHoldsExactlyTheFramesTheSimulatorSent() throws {
        let dir = TemporaryDirectory()
        let ex = try Self.exchange(.binance, log: dir.file("sim.k2cap"))
        let plan = try ConnectionPlan.venue(.binance, symbols: Self.names(.binance), channels: ["trade", "depth"], url: ex.url)
        let summary = try Self.record(plan, dir.file("rec.k2cap"), server: ex) { $0.frames >= 1500 }
        let sent = try Self.received(dir.file("sim.k2cap"))
        let got = try Self.received(dir.file("rec.k2cap"))
        #expect(sent.count == 1)
        #expect(got[0]?.count == sent[0]?.count)
        #expect(got[0] == sent[0])
        #expect(summary.gaps == 0)
        // The depth snapshot from the simulator's REST endpoint is stored for each symbol.
        let http = try readAll(dir.file("rec.k2cap")).filter { $0.kind == .http }
        #expect(http.count == 2)
        #expect(http.allSatisfy { String(decoding: $0.payload, as: UTF8.self).hasPrefix(#"{"lastUpdateId":"#) })
    }

    /// `@aggTrade` subscribers get aggregate trades, and `@trade` subscribers every fill of them:
    /// `a` and `t` continuous per symbol, each aggTrade's `f`..`l` the trade ids sent on @trade.
    @Test func binanceAggTradeAndTradeStreamsAreBothComplete() throws {
        let dir = TemporaryDirectory()
        let ex = try Self.exchange(.binance, log: dir.file("sim.k2cap"))
        let plan = try ConnectionPlan.venue(.binance, symbols: Self.names(.binance), channels: ["trade", "aggTrade"], url: ex.url)
        #expect(plan.url.contains("@aggTrade"))
        let summary = try Self.record(plan, dir.file("rec.k2cap"), server: ex) { $0.frames >= 1500 }
        let sent = try Self.received(dir.file("sim.k2cap"))
        let got = try Self.received(dir.file("rec.k2cap"))
        #expect(got[0] == sent[0])
        #expect(summary.gaps == 0)
        let frames = got[0] ?? []
        let aggs = frames.filter { $0.starts(with: Array(#"{"stream":"#.utf8)) && String(decoding: $0, as: UTF8.self).contains(#""e":"aggTrade""#) }
        let trades = frames.filter { String(decoding: $0, as: UTF8.self).contains(#""e":"trade""#) }
        #expect(aggs.count > 100)
        #expect(trades.count > aggs.count)
        let tradeIDs = Set(trades.compactMap { p in p.withUnsafeBytes { PayloadFields.intValue($0, key: Array("\"t\":".utf8)) } })
        for aggregate in aggs {
            let (firstID, lastID) = aggregate.withUnsafeBytes {
                (PayloadFields.intValue($0, key: Array("\"f\":".utf8))!, PayloadFields.intValue($0, key: Array("\"l\":".utf8))!)
            }
            #expect(firstID <= lastID && (firstID...lastID).allSatisfy { tradeIDs.contains($0) }, "\(String(decoding: aggregate, as: UTF8.self))")
        }
        // An @aggTrade-only subscriber gets aggTrade messages only.
        let dir2 = TemporaryDirectory()
        let ex2 = try Self.exchange(.binance, log: dir2.file("sim.k2cap"))
        let plan2 = try ConnectionPlan.venue(.binance, symbols: Self.names(.binance, 1), channels: ["aggTrade"], url: ex2.url)
        let s2 = try Self.record(plan2, dir2.file("rec.k2cap"), server: ex2) { $0.frames >= 200 }
        let only = try Self.received(dir2.file("rec.k2cap"))[0] ?? []
        #expect(only.count >= 200)
        #expect(only.allSatisfy { String(decoding: $0, as: UTF8.self).contains(#""e":"aggTrade""#) })
        #expect(s2.gaps == 0)
    }

    @Test func krakenAndCoinbaseProtocolsRecordExactly() throws {
        for venue in [Venue.kraken, .coinbase] {
            let dir = TemporaryDirectory()
            let ex = try Self.exchange(venue, log: dir.file("sim.k2cap"))
            let plan = try ConnectionPlan.venue(venue, symbols: Self.names(venue), channels: ["trade", "depth"], url: ex.url)
            let summary = try Self.record(plan, dir.file("rec.k2cap"), server: ex) { $0.frames >= 800 }
            let sent = try Self.received(dir.file("sim.k2cap"))
            let got = try Self.received(dir.file("rec.k2cap"))
            #expect(got[0] == sent[0], "\(venue)")
            #expect(summary.gaps == 0, "\(venue): Coinbase sequence_num must be continuous")
            let text = got[0]?.prefix(6).map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n") ?? ""
            #expect(text.contains(venue == .kraken ? "subscriptionStatus" : #""channel":"subscriptions""#), "\(venue)")
        }
    }

    /// Coinbase heartbeats (once a second) come between data messages that are already
    /// numbered and waiting for their time: their `sequence_num` must still keep the connection's
    /// numbering increasing (it went …253, 255 (heartbeat), 254, 256…: a gap marker per heartbeat).
    @Test func coinbaseHeartbeatsKeepSequenceNumbersIncreasing() throws {
        let dir = TemporaryDirectory()
        let ex = try Self.exchange(.coinbase, rate: 2000, log: dir.file("sim.k2cap"))
        let plan = try ConnectionPlan.venue(.coinbase, symbols: Self.names(.coinbase), channels: ["trade", "depth", "heartbeats"], url: ex.url)
        let summary = try Self.record(plan, dir.file("rec.k2cap"), server: ex) { $0.frames >= 7_000 }
        let got = try Self.received(dir.file("rec.k2cap"))[0] ?? []
        let texts = got.map { String(decoding: $0, as: UTF8.self) }
        #expect(texts.filter { $0.hasPrefix(#"{"channel":"heartbeats""#) }.count >= 2)
        var last: Int64 = -1
        for text in texts {
            guard let sequence = try JSONParser.parse(text)["sequence_num"]?.int64Value else { continue }
            #expect(sequence == last + 1, "sequence_num \(sequence) after \(last)")
            last = sequence
        }
        #expect(summary.gaps == 0)
        // The level2 subscription is answered with a snapshot of each product's book first.
        let firstL2 = texts.first { $0.hasPrefix(#"{"channel":"l2_data""#) }
        #expect(firstL2?.contains(#""type":"snapshot""#) == true)
    }

    /// Kraken `book` subscriptions get the depth they ask for: `book-N` in the status and the
    /// updates, N levels a side in the snapshot (all were answered as book-25 with 20 levels).
    @Test(arguments: [10, 100, 1000])
    func krakenBookDepthIsHonoured(_ depth: Int) throws {
        let dir = TemporaryDirectory()
        let ex = try Self.exchange(.kraken, log: dir.file("sim.k2cap"))
        let pair = Self.names(.kraken, 1)[0]
        let plan = ConnectionPlan(
            venue: .kraken, url: ex.url,
            sends: [
                #"{"event":"subscribe","pair":["\#(pair)"],"subscription":{"name":"book","depth":\#(depth)}}"#
            ])
        _ = try Self.record(plan, dir.file("rec.k2cap"), server: ex) { $0.frames >= 100 }
        let texts = (try Self.received(dir.file("rec.k2cap"))[0] ?? []).map { String(decoding: $0, as: UTF8.self) }
        let status = try #require(texts.first { $0.contains("subscriptionStatus") })
        #expect(status.contains(#""channelName":"book-\#(depth)""#) && status.contains(#""status":"subscribed""#), "\(status)")
        let snapshot = try #require(texts.first { $0.contains(#"{"as":"#) })
        let book = try JSONParser.parse(snapshot).arrayValue![1]
        #expect(book["as"]?.arrayValue?.count == depth && book["bs"]?.arrayValue?.count == depth)
        let updates = texts.filter { $0.hasPrefix("[") && !$0.contains(#"{"as":"#) }
        #expect(updates.count > 50 && updates.allSatisfy { $0.hasSuffix(#""book-\#(depth)","\#(pair)"]"#) })
    }

    /// Candles through the simulator: Coinbase `candles` (ack, a snapshot, then updates a
    /// second apart, numbered on the connection) and Binance `/ws/<symbol>@kline_1m`.
    @Test func candleChannelsAreServed() throws {
        let dir = TemporaryDirectory()
        let coinbase = try Self.exchange(.coinbase, log: dir.file("cb-sim.k2cap"))
        let product = Self.names(.coinbase, 1)[0]
        let plan = ConnectionPlan(
            venue: .coinbase, url: coinbase.url,
            sends: [
                #"{"type":"subscribe","product_ids":["\#(product)"],"channel":"candles"}"#
            ])
        _ = try Self.record(plan, dir.file("cb.k2cap"), server: coinbase) { $0.frames >= 4 }
        let texts = (try Self.received(dir.file("cb.k2cap"))[0] ?? []).map { String(decoding: $0, as: UTF8.self) }
        #expect(texts.first?.contains(#""channel":"subscriptions""#) == true && texts.first?.contains(#""candles":["\#(product)"]"#) == true)
        let candles = try texts.dropFirst().map { try JSONParser.parse($0) }
        #expect(candles.count >= 3 && candles.allSatisfy { $0["channel"]?.stringValue == "candles" })
        #expect(candles.first?["events"]?.arrayValue?.first?["type"]?.stringValue == "snapshot")
        #expect(
            candles.dropFirst().allSatisfy { $0["events"]?.arrayValue?.first?["candles"]?.arrayValue?.first?["product_id"]?.stringValue == product })
        #expect(candles.compactMap { $0["sequence_num"]?.int64Value } == Array(1...Int64(candles.count)))

        let binance = try Self.exchange(.binance, log: dir.file("bn-sim.k2cap"))
        let stream = Self.names(.binance, 1)[0].lowercased() + "@kline_1m"
        let klinePlan = ConnectionPlan(venue: .binance, url: binance.url + "/ws/" + stream, sends: [])
        _ = try Self.record(klinePlan, dir.file("bn.k2cap"), server: binance) { $0.frames >= 2 }
        let klines = try (try Self.received(dir.file("bn.k2cap"))[0] ?? []).map { try JSONParser.parse($0) }
        #expect(klines.count >= 2 && klines.allSatisfy { $0["e"]?.stringValue == "kline" && $0["k"]?["i"]?.stringValue == "1m" })
    }

    @Test func reconnectsAfterInjectedDropsWithMarkersAndNoDuplicates() throws {
        let dir = TemporaryDirectory()
        let ex = try Self.exchange(.binance, log: dir.file("sim.k2cap")) { $0.faults.dropEveryNanos = 300_000_000 }
        let plan = try ConnectionPlan.venue(.binance, symbols: Self.names(.binance), channels: ["trade"], url: ex.url)
        let summary = try Self.record(plan, dir.file("rec.k2cap"), server: ex) { $0.reconnects >= 2 && $0.frames >= 1500 }
        #expect(summary.reconnects >= 2)
        let sent = try Self.received(dir.file("sim.k2cap"))
        let segments = try Self.perConnect(dir.file("rec.k2cap"))
        #expect(segments.count == sent.count)
        for (i, seg) in segments.enumerated() {
            #expect(seg == sent[UInt32(i)] ?? [], "connection \(i)")
        }
        let recs = try readAll(dir.file("rec.k2cap"))
        let markers = recs.filter { $0.kind == .marker }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(markers.filter { $0.contains(#""marker":"reconnect""#) }.count == segments.count - 1)
        let disconnects = recs.filter { $0.kind == .disconnect }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(disconnects.first?.contains("1006") == true)
    }

    @Test func injectedGapsAppearAsMarkers() throws {
        let dir = TemporaryDirectory()
        let ex = try Self.exchange(.binance, log: dir.file("sim.k2cap")) { $0.faults.gapEvery = 40 }
        let plan = try ConnectionPlan.venue(.binance, symbols: Self.names(.binance, 1), channels: ["trade", "depth"], url: ex.url)
        let summary = try Self.record(plan, dir.file("rec.k2cap"), server: ex) { $0.gaps >= 5 }
        let skipped = try readAll(dir.file("sim.k2cap")).filter { $0.kind == .marker }.count
        #expect(summary.gaps >= 5 && summary.gaps <= skipped)
        let gaps = try readAll(dir.file("rec.k2cap")).filter { $0.kind == .marker }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(gaps.allSatisfy { $0.hasPrefix(#"{"marker":"gap""#) })
    }

    /// Issue 17: the recorder took a sequence out of a frame cut in half for a gap ("expected
    /// 164486339, got 16") and a repeated message for a gap too. Now: no gap, and as many
    /// `malformed` and `duplicate` markers as the simulator's log has faults of each kind.
    @Test(arguments: [Venue.binance, .coinbase])
    func malformedFramesAndDuplicatesAreCountedAsSuchNotAsGaps(venue: Venue) throws {
        let dir = TemporaryDirectory()
        let ex = try Self.exchange(venue, log: dir.file("sim.k2cap")) {
            $0.faults.malformedEvery = 100
            $0.faults.duplicateEvery = 70
        }
        let plan = try ConnectionPlan.venue(venue, symbols: Self.names(venue), channels: ["trade", "depth"], url: ex.url)
        let summary = try Self.record(plan, dir.file("rec.k2cap"), server: ex) { $0.malformed >= 10 && $0.duplicates >= 10 }
        #expect(try Self.received(dir.file("rec.k2cap"))[0] == Self.received(dir.file("sim.k2cap"))[0])
        let faults = try readAll(dir.file("sim.k2cap")).filter { $0.kind == .marker }.map { String(decoding: $0.payload, as: UTF8.self) }
        let injected = { (fault: String) in faults.filter { $0.contains(#""fault":"\#(fault)""#) }.count }
        let markers = try readAll(dir.file("rec.k2cap")).filter { $0.kind == .marker }.map { String(decoding: $0.payload, as: UTF8.self) }
        let written = { (name: String) in markers.filter { $0.hasPrefix(#"{"marker":"\#(name)""#) }.count }
        #expect(summary.malformed >= 10 && summary.duplicates >= 10)
        #expect(summary.gaps == 0 && written("gap") == 0, "\(markers.filter { $0.contains("gap") }.prefix(3))")
        #expect(summary.malformed == injected("malformed") && written("malformed") == summary.malformed)
        #expect(summary.duplicates == injected("duplicate") && written("duplicate") == summary.duplicates)
        // `k2 capture inspect` counts the markers by name, the simulator's faults as fault:NAME.
        let inspected = try CaptureInspector.inspect(path: dir.file("rec.k2cap"))
        #expect(inspected.byMarker.first { $0.name == "malformed" }?.count == summary.malformed)
        #expect(inspected.byMarker.first { $0.name == "duplicate" }?.count == summary.duplicates)
        let log = try CaptureInspector.inspect(path: dir.file("sim.k2cap"))
        #expect(log.byMarker.first { $0.name == "fault:malformed" }?.count == injected("malformed"))
    }

    @Test func eachFaultIsObservedByTheClient() throws {
        let dir = TemporaryDirectory()
        let ex = try Self.exchange(.binance, log: dir.file("sim.k2cap")) {
            $0.faults.duplicateEvery = 50
            $0.faults.reorderEvery = 70
            $0.faults.malformedEvery = 90
            $0.faults.closeAfterNanos = 600_000_000
            $0.faults.stallEveryNanos = 200_000_000
            $0.faults.stallForNanos = 100_000_000
            $0.pingEveryNanos = 100_000_000
        }
        let plan = try ConnectionPlan.venue(.binance, symbols: Self.names(.binance, 1), channels: ["trade"], url: ex.url)
        let rec = try Recorder(testConfig([plan], dir.file("rec.k2cap")))
        rec.start()
        // close_after ends the first connection with 1001 after 600 ms; the recorder reconnects.
        #expect(waitUntil(30) { rec.currentSummary().reconnects >= 1 })
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        let pongs = ex.stats.pongs
        ex.close()
        let got = try Self.perConnect(dir.file("rec.k2cap"))[0]
        let sent = try Self.received(dir.file("sim.k2cap"))[0] ?? []
        #expect(got == sent)
        // duplicate: the same frame twice in a row
        #expect(zip(got, got.dropFirst()).contains { $0 == $1 })
        // malformed: a frame that is not JSON
        #expect(got.contains { (try? JSONParser.parse($0)) == nil })
        // reorder: a trade id going backwards
        let ids = got.compactMap { p in p.withUnsafeBytes { PayloadFields.intValue($0, key: Array("\"t\":".utf8)) } }
        #expect(zip(ids, ids.dropFirst()).contains { $0 > $1 })
        // close after: the disconnect record carries 1001
        let disc = try readAll(dir.file("rec.k2cap")).filter { $0.kind == .disconnect }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(disc.first?.contains("1001") == true)
        // ping: the recorder answered the simulator's pings
        #expect(pongs >= 1)
        // stall: the simulator logged it and the client still got every frame (checked above)
        let faults = try readAll(dir.file("sim.k2cap")).filter { $0.kind == .marker }.map { String(decoding: $0.payload, as: UTF8.self) }
        for fault in ["duplicate", "reorder", "malformed", "stall", "close_after"] {
            #expect(faults.contains { $0.contains(#""fault":"\#(fault)""#) }, "\(fault)")
        }
    }

    /// Faults set in the profile file (not by flags) reach the client.
    @Test func faultsFromTheProfileFileAreObservedByTheClient() throws {
        let dir = TemporaryDirectory()
        let yaml = """
            seed: 7
            venues: [binance]
            market: {symbols: 5}
            faults:
              gap_every: 60
              duplicate_every: 50
              malformed_every: 90
              reorder_every: 70
              close_after: 700ms
            timeline:
              - shape: constant
                rate: 3000
                duration: 1h
            """
        try yaml.write(toFile: dir.file("p.yaml"), atomically: true, encoding: .utf8)
        let profile = try ProfileLoader.load(path: dir.file("p.yaml"))
        var options = ExchangeOptions(venue: .binance, profile: profile)
        options.logPath = dir.file("sim.k2cap")
        options.verbose = false
        let ex = try ExchangeServer(options)
        let plan = try ConnectionPlan.venue(.binance, symbols: Self.names(.binance, 1), channels: ["trade"], url: ex.url)
        let summary = try Self.record(plan, dir.file("rec.k2cap"), server: ex) { $0.reconnects >= 1 }
        let got = try Self.perConnect(dir.file("rec.k2cap"))[0]
        let sent = try Self.received(dir.file("sim.k2cap"))[0] ?? []
        #expect(got == sent)
        #expect(summary.gaps >= 1)
        #expect(zip(got, got.dropFirst()).contains { $0 == $1 })
        #expect(got.contains { (try? JSONParser.parse($0)) == nil })
        let disc = try readAll(dir.file("rec.k2cap")).filter { $0.kind == .disconnect }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(disc.first?.contains("1001") == true)
        let faults = try readAll(dir.file("sim.k2cap")).filter { $0.kind == .marker }.map { String(decoding: $0.payload, as: UTF8.self) }
        for fault in ["gap", "duplicate", "reorder", "malformed", "close_after"] {
            #expect(faults.contains { $0.contains(#""fault":"\#(fault)""#) }, "\(fault)")
        }
    }

    @Test func rejectedKrakenSubscriptionFailsRecording() throws {
        let dir = TemporaryDirectory()
        let ex = try Self.exchange(.kraken, log: dir.file("sim.k2cap"))
        defer { ex.close() }
        let plan = try ConnectionPlan.venue(.kraken, symbols: ["FOO/BAR"], channels: ["trade"], url: ex.url)
        do {
            _ = try Recorder(testConfig([plan], dir.file("rec.k2cap"))).run()
            Issue.record("no error")
        } catch {
            #expect(error.code == .subscriptionRejected)
            #expect(error.description.contains("Currency pair not supported"))
        }
    }

    @Test func portInUseIsOneLine() throws {
        let dir = TemporaryDirectory()
        let first = try Self.exchange(.binance, log: dir.file("a.k2cap"))
        defer { first.close() }
        do {
            _ = try Self.exchange(.binance, log: dir.file("b.k2cap")) { $0.port = first.port }
            Issue.record("no error")
        } catch {
            #expect("\(error)".contains("already in use"))
        }
    }
}
