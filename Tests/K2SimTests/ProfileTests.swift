import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

@testable import K2Sim

@Suite struct ProfileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func error(_ yaml: String) -> String {
        do {
            _ = try ProfileLoader.parse(yaml: yaml, file: "p.yaml")
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func fullProfileParses() throws {
        let profile = try ProfileLoader.parse(
            yaml: """
                name: t
                seed: 7
                venues: [kraken, coinbase]
                start: 2024-03-01T00:00:00Z
                arrivals: uniform
                market:
                  symbols: 50
                  zipf: 1.2
                  mix: {trade: 1, agg_trade: 0, depth: 1}
                  trade_notional: {median: 100, sigma: 1}
                kraken:
                  book_depth: 10
                timeline:
                  - shape: constant
                    rate: 10_000
                    duration: 30s
                  - shape: bursts
                    base: 100
                    burst: 1000
                    mean_on: 1s
                    duration: 1m
                    arrivals: poisson
                """)
        #expect(profile.name == "t" && profile.seed == 7 && profile.venues == [.kraken, .coinbase])
        #expect(profile.market.symbols == 50 && profile.market.zipfExponent == 1.2 && profile.market.aggTradeWeight == 0)
        #expect(profile.krakenBookDepth == 10)
        #expect(profile.timeline.segments.count == 2)
        #expect(profile.timeline.segments[0].arrivals == .uniform && profile.timeline.segments[1].arrivals == .poisson)
        #expect(profile.timeline.segments[0].shape == .constant(rate: 10_000))
        #expect(profile.timeline.length == 90_000_000_000)
        #expect(profile.startNanos == 1_709_251_200_000_000_000)
    }

    /// The profile fuzz target's crashes: 2,000 `{` in a row overflowed the YAML parser's stack
    /// (3.48M executions), and so did deep nesting dressed up to slip past the textual check that
    /// followed (3.92M executions: a comment ended by U+2029, which YAML reads as a line break).
    /// The parser now runs on a thread with room for any nesting a 256 KiB file can spell, and a
    /// tree past 64 levels is refused with the line and column of its first node that deep.
    @Test func nestingTooDeepIsRefusedNotACrash() {
        let balanced = "x: " + String(repeating: "[", count: 2_000) + String(repeating: "]", count: 2_000) + "\n"
        #expect(
            error(balanced)
                == "p.yaml:1:67: nested deeper than 64 levels — k2's configuration files nest a few levels; check the file (docs/workloads.md, docs/sim-profiles.md)"
        )
        let block = (0..<70).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n"
        #expect(error(block).hasPrefix("p.yaml:65:65:"), "\(error(block))")
        #expect(error(block).contains("nested deeper than 64 levels"))
        let dressedUp = [
            "# Steady 10,000 messages0Z\n" + String(repeating: "{", count: 2_000) + "#ges0Z\n",
            "# a comment a line break ends\u{2029}" + String(repeating: "{", count: 20_000),
            "{a \"x, " + String(repeating: "{", count: 20_000),
            "k: " + String(repeating: "- ", count: 20_000) + "x\n",
            "k: " + String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000),
        ]
        for yaml in dressedUp {
            let message = error(yaml)
            #expect(message.hasPrefix("p.yaml:"), "\(message.prefix(200))")
            #expect(
                ["nested deeper than 64 levels", "not valid YAML", "(at most 4096 are read)"].contains { message.contains($0) },
                "\(message.prefix(200))")
        }
        // Past 4,096 brackets the file is refused before parsing (the parser's time grows with
        // the square of the nesting); under it, the nesting itself is measured.
        #expect(error(String(repeating: "[", count: 4_097)).hasPrefix("p.yaml: the file holds 4097 '{' and '['"))
        #expect(error("x: " + String(repeating: "[", count: 4_000) + String(repeating: "]", count: 4_000)).contains("nested deeper"))
        let fine = "name: it's {fine} [really]\nseed: 1\ntimeline:\n  - {shape: constant, rate: 10, duration: '1s'}\n"
        #expect(error(fine) == "no error")
    }

    /// Configuration files are read up to 256 KiB: past that a file is not one of k2's.
    @Test func aHugeFileIsRefusedWithItsSize() {
        let huge = "name: x\n" + String(repeating: "# padding\n", count: 30_000)
        #expect(
            error(huge)
                == "p.yaml: the file is 292 KiB; configuration files are read up to 256 KiB — check that this is the workload, profile or targets file meant (k2's are a few KiB)"
        )
    }

    @Test func badProfilesNameFileLineAndKey() {
        #expect(
            error("seed: 1\ntimeline:\n  - shape: constant\n    rate: 10\n    duration: 1s\nvenu: [binance]\n")
                == "p.yaml:6:1: unknown key 'venu' — did you mean 'venue'? allowed here: name, seed, venues, venue, start, arrivals, market, binance, kraken, faults, timeline"
        )
        #expect(
            error("timeline:\n  - shape: constant\n    rate: -5\n    duration: 1s\n")
                == "p.yaml:3:11: key 'timeline[0].rate' must be from 0 to 1000000000, not '-5' — see docs/sim-profiles.md")
        #expect(
            error("timeline:\n  - shape: zigzag\n    duration: 1s\n").hasPrefix(
                "p.yaml:2:12: key 'timeline[0].shape': unknown shape 'zigzag' — use one of bursts, constant,"))
        #expect(
            error("timeline:\n  - shape: constant\n    rate: fast\n    duration: 1s\n")
                == "p.yaml:3:11: key 'timeline[0].rate' must be a number, not 'fast' — see docs/sim-profiles.md")
        #expect(
            error("market:\n  symbols: [1, 2]\ntimeline:\n  - shape: constant\n    rate: 1\n    duration: 1s\n")
                == "p.yaml:2:12: key 'market.symbols' must be a whole number, not 'a list' — see docs/sim-profiles.md")
        #expect(
            error("timeline:\n  - shape: constant\n    rate: 1\n")
                == "p.yaml:2:5: missing key 'timeline[0].duration' (how long the segment lasts, e.g. 60s) — add it; see docs/sim-profiles.md")
        #expect(
            error("venues: [nasdaq]\ntimeline:\n  - shape: constant\n    rate: 1\n    duration: 1s\n")
                == "p.yaml:1:9: key 'venues': unknown venue 'nasdaq' — use binance, kraken or coinbase")
        #expect(error("name: x\n") == "p.yaml:1:1: missing key 'timeline' (a list of shapes with durations) — add it; see docs/sim-profiles.md")
        #expect(
            error("timeline:\n  - shape: ramp\n    from: 1\n    duration: 1s\n").hasPrefix(
                "p.yaml:2:5: missing key 'timeline[0].to' (the ramp shape needs from, to)"))
        #expect(error("timeline: [\n").hasPrefix("p.yaml:"))
        #expect(
            error("timeline:\n  - shape: flash_crash\n    rate: 1\n    drop: 1.5\n    duration: 1s\n").hasPrefix(
                "p.yaml:4:11: key 'timeline[0].drop' must be from 0 to 1, not '1.5'"))
    }

    static let tl = "timeline:\n  - shape: constant\n    rate: 1\n    duration: 1s\n"

    @Test func binanceStreams() throws {
        #expect(try ProfileLoader.parse(yaml: Self.tl).binanceStreams == [.trade, .aggTrade, .depth])
        #expect(try ProfileLoader.parse(yaml: "binance:\n  streams: [depth, trade]\n" + Self.tl).binanceStreams == [.depth, .trade])
        #expect(try ProfileLoader.parse(yaml: "binance: {streams: [aggTrade]}\n" + Self.tl).binanceStreams == [.aggTrade])
        #expect(
            error("binance:\n  streams: [trade, bookTicker]\n" + Self.tl)
                == "p.yaml:2:12: key 'binance.streams': unknown stream 'bookTicker' — use trade, aggTrade and/or depth")
        #expect(error("binance:\n  streams: []\n" + Self.tl).hasPrefix("p.yaml:2:12: key 'binance.streams': no stream given"))
    }

    @Test func faultsSection() throws {
        let profile = try ProfileLoader.parse(
            yaml: """
                faults:
                  drop_every: 30s
                  stall_every: 1m
                  stall_for: 250ms
                  gap_every: 500
                  duplicate_every: 7
                  reorder_every: 9
                  malformed_every: 1_000
                  close_after: 12h
                """ + "\n" + Self.tl)
        var expected = FaultPlan()
        expected.dropEveryNanos = 30_000_000_000
        expected.stallEveryNanos = 60_000_000_000
        expected.stallForNanos = 250_000_000
        expected.gapEvery = 500
        expected.duplicateEvery = 7
        expected.reorderEvery = 9
        expected.malformedEvery = 1_000
        expected.closeAfterNanos = 43_200_000_000_000
        #expect(profile.faults == expected)
        #expect(ExchangeOptions(venue: .binance, profile: profile).faults == expected)
        // Defaults: nothing but Binance's 24 h close; `off` disables a timed fault.
        #expect(try ProfileLoader.parse(yaml: Self.tl).faults == FaultPlan())
        #expect(FaultPlan().closeAfterNanos == 86_400_000_000_000 && FaultPlan().isEmpty)
        #expect(try ProfileLoader.parse(yaml: "faults: {close_after: off, drop_every: off}\n" + Self.tl).faults.closeAfterNanos == nil)
    }

    /// Numbers outside what the simulator can run with (huge, negative, NaN, infinite) are one
    /// error line each, never a trap in a conversion later (issue 17).
    @Test(arguments: [
        (
            "timeline:\n  - shape: constant\n    rate: 1e30\n    duration: 1s\n",
            "p.yaml:3:11: key 'timeline[0].rate' must be from 0 to 1000000000, not '1e30'"
        ),
        ("timeline:\n  - shape: constant\n    rate: nan\n    duration: 1s\n", "p.yaml:3:11: key 'timeline[0].rate' must be a number, not 'nan'"),
        ("timeline:\n  - shape: constant\n    rate: .inf\n    duration: 1s\n", "p.yaml:3:11: key 'timeline[0].rate' must be a number, not '.inf'"),
        (
            "timeline:\n  - shape: constant\n    rate: 1\n    duration: 100000d\n",
            "p.yaml:4:15: key 'timeline[0].duration' must be from 1ns to 365d, not '100000d'"
        ),
        (
            "timeline:\n  - shape: market_open\n    rate: 1\n    peak: 1e300\n    duration: 1s\n",
            "p.yaml:4:11: key 'timeline[0].peak' must be from 1 to 1000000"
        ),
        (
            "timeline:\n  - shape: step\n    rates: [1, -2]\n    duration: 1s\n",
            "key 'timeline[0].rates' must hold numbers from 0 to 1000000000, not '-2'"
        ),
        ("market: {symbols: 1e12}\n" + ProfileTests.tl, "p.yaml:1:19: key 'market.symbols' must be from 1 to 1000000, not '1e12'"),
        ("market: {symbols: 1e20}\n" + ProfileTests.tl, "p.yaml:1:19: key 'market.symbols' must be a whole number"),
        ("seed: -1\n" + ProfileTests.tl, "p.yaml:1:7: key 'seed' must be a whole number ≥ 0, not '-1'"),
        ("faults: {gap_every: 1e40}\n" + ProfileTests.tl, "key 'faults.gap_every' must be a whole number"),
        ("faults: {stall_for: 0s}\n" + ProfileTests.tl, "key 'faults.stall_for' must be from 1ns to 365d, not '0s'"),
    ])
    func outOfRangeNumbersAreOneLine(_ yaml: String, _ message: String) {
        let text = error(yaml)
        #expect(text.contains(message), "\(text)")
        #expect(!text.contains("\n"))
    }

    @Test func badFaultsNameFileLineAndKey() {
        #expect(
            error("faults:\n  gap_every: -3\n" + Self.tl)
                == "p.yaml:2:14: key 'faults.gap_every' must be from 0 to 1000000000, not '-3' — see docs/sim-profiles.md")
        #expect(
            error("faults:\n  drop_every: soon\n" + Self.tl)
                == "p.yaml:2:15: key 'faults.drop_every' must be a duration such as 30s, 250ms or 2m, not 'soon' — see docs/sim-profiles.md")
        #expect(error("faults:\n  stall_for: off\n" + Self.tl).hasPrefix("p.yaml:2:14: key 'faults.stall_for' must be a duration"))
        #expect(
            error("faults:\n  drop_evry: 1s\n" + Self.tl)
                == "p.yaml:2:3: unknown key 'faults.drop_evry' — did you mean 'drop_every'? allowed here: drop_every, stall_every, stall_for, gap_every, duplicate_every, reorder_every, malformed_every, close_after"
        )
        #expect(error("faults: 5\n" + Self.tl).hasPrefix("p.yaml:1:9: key 'faults' must be a mapping"))
        #expect(
            error("faults:\n  duplicate_every: 2.5\n" + Self.tl)
                == "p.yaml:2:20: key 'faults.duplicate_every' must be a whole number, not '2.5' — see docs/sim-profiles.md")
    }

    @Test func shippedProfilesLoadAndHaveTheDocumentedRates() throws {
        let dir = Self.root.appendingPathComponent("captures/profiles")
        let steady = try ProfileLoader.load(path: dir.appendingPathComponent("steady-138.yaml").path)
        #expect(steady.timeline.rate(at: 0) == 138)
        let tenK = try ProfileLoader.load(path: dir.appendingPathComponent("steady-10k.yaml").path)
        #expect(tenK.timeline.rate(at: 0) == 10_000)
        let burst = try ProfileLoader.load(path: dir.appendingPathComponent("burst-10k-50k.yaml").path)
        var lo = Double.infinity
        var hi = 0.0
        var offset: Int64 = 0
        while offset < burst.timeline.length {
            let rate = burst.timeline.rate(at: offset); lo = min(lo, rate); hi = max(hi, rate); offset += 100_000_000
        }
        #expect(lo == 10_000 && hi == 50_000)
        let crash = try ProfileLoader.load(path: dir.appendingPathComponent("flash-crash.yaml").path)
        #expect(crash.timeline.rate(at: 61_000_000_000) == 50_000)
        _ = try ProfileLoader.load(path: dir.appendingPathComponent("multi-venue-open.yaml").path)
        let faulty = try ProfileLoader.load(path: dir.appendingPathComponent("faulty-binance.yaml").path)
        #expect(faulty.faults.gapEvery == 5000 && faulty.faults.dropEveryNanos == 600_000_000_000 && faulty.faults.stallForNanos == 3_000_000_000)
    }
}

@Suite struct SubscriptionTests {
    let universe = SymbolUniverse(count: 20)

    @Test func binancePathsAndRequests() throws {
        let (set, combined) = try BinanceProtocol.parsePath("/stream?streams=btcusdt@trade/ethusdt@depth@100ms", universe: universe)
        #expect(combined)
        #expect(set.contains(symbol: 0, kind: .trade) && !set.contains(symbol: 0, kind: .aggTrade))
        #expect(set.contains(symbol: 1, kind: .depth))
        let (raw, c2) = try BinanceProtocol.parsePath("/ws/solusdt@aggTrade", universe: universe)
        #expect(!c2 && raw.contains(symbol: 2, kind: .aggTrade))
        #expect(throws: SimError.self) { try BinanceProtocol.parsePath("/stream?streams=nope@trade", universe: universe) }
        var subscriptions = SubscriptionSet(symbols: universe.count)
        var active: [String] = []
        let req = BinanceProtocol.parseRequest(Array(#"{"method":"SUBSCRIBE","params":["btcusdt@aggTrade","ethusdt@depth"],"id":7}"#.utf8))!
        #expect(
            String(decoding: BinanceProtocol.handle(req, set: &subscriptions, active: &active, universe: universe), as: UTF8.self)
                == #"{"result":null,"id":7}"#)
        #expect(subscriptions.contains(symbol: 0, kind: .aggTrade) && subscriptions.contains(symbol: 1, kind: .depth))
        let list = BinanceProtocol.parseRequest(Array(#"{"method":"LIST_SUBSCRIPTIONS","id":8}"#.utf8))!
        #expect(
            String(decoding: BinanceProtocol.handle(list, set: &subscriptions, active: &active, universe: universe), as: UTF8.self)
                == #"{"result":["btcusdt@aggTrade","ethusdt@depth"],"id":8}"#)
    }

    @Test func krakenAndCoinbaseSubscriptions() throws {
        var subscriptions = SubscriptionSet(symbols: universe.count)
        let request = KrakenProtocol.parseRequest(
            Array(#"{"event":"subscribe","pair":["XBT/USD","FOO/USD"],"subscription":{"name":"book","depth":25},"reqid":4}"#.utf8))!
        let (frames, books) = KrakenProtocol.handle(request, set: &subscriptions, universe: universe, bookDepth: 25)
        #expect(
            String(decoding: frames[0], as: UTF8.self)
                == #"{"channelID":101,"channelName":"book-25","event":"subscriptionStatus","pair":"XBT/USD","reqid":4,"status":"subscribed","subscription":{"depth":25,"name":"book"}}"#
        )
        #expect(String(decoding: frames[1], as: UTF8.self).contains(#""status":"error""#))
        #expect(books == [0] && subscriptions.contains(symbol: 0, kind: .depth, venue: .kraken))
        #expect(String(decoding: VenueAnswers.krakenPong(reqid: "42"), as: UTF8.self) == #"{"event":"pong","reqid":42}"#)

        var coinbaseSet = SubscriptionSet(symbols: universe.count)
        let cr = CoinbaseProtocol.parseRequest(Array(#"{"type":"subscribe","product_ids":["ETH-USD"],"channel":"market_trades"}"#.utf8))!
        #expect(CoinbaseProtocol.apply(cr, set: &coinbaseSet, universe: universe))
        #expect(
            coinbaseSet.contains(symbol: 1, kind: .aggTrade, venue: .coinbase) && !coinbaseSet.contains(symbol: 1, kind: .depth, venue: .coinbase))
        let ack = String(
            decoding: CoinbaseProtocol.subscriptions(coinbaseSet, universe: universe, heartbeats: false, nanos: 0, sequence: 3), as: UTF8.self)
        #expect(
            ack
                == #"{"channel":"subscriptions","client_id":"","timestamp":"1970-01-01T00:00:00Z","sequence_num":3,"events":[{"subscriptions":{"market_trades":["ETH-USD"]}}]}"#
        )
    }

    @Test func filteredFeedSendsOnlyTheSubscribedStreams() {
        let profile = SimProfile.constant(rate: 20_000, duration: 500_000_000, venue: .binance, seed: 4)
        var all = LiveFeed(profile: profile, venue: .binance)
        var one = LiveFeed(profile: profile, venue: .binance)
        var filter = SubscriptionSet(symbols: one.universe.count)
        filter.add(symbol: 0, kind: .depth)
        one.filter = filter
        var allBytes: [UInt8] = []
        var oneBytes: [UInt8] = []
        var expected: [[UInt8]] = []
        while let event = all.next(into: &allBytes) {
            if event.symbol == 0 && event.kind == .depth { expected.append(allBytes) }
            allBytes.removeAll(keepingCapacity: true)
        }
        var got: [[UInt8]] = []
        while let event = one.next(into: &oneBytes) {
            #expect(event.symbol == 0 && event.kind == .depth)
            got.append(oneBytes)
            oneBytes.removeAll(keepingCapacity: true)
        }
        #expect(got.count > 100 && got == expected)
    }
}

@Suite struct GeneratorTests {
    @Test func generatedCaptureLooksRecorded() throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/g.k2cap"
        var profile = SimProfile.constant(rate: 5_000, duration: 2_000_000_000, venue: .kraken, seed: 12)
        profile.venues = [.kraken, .coinbase]
        let result = try CaptureGenerator(profile: profile).write(path: path, commandLine: "test")
        let reader = try CaptureReader(path: path)
        #expect(reader.header.metadataValue("seed") == .number("12"))
        #expect(reader.header.metadataValue("exchange") == .string("kraken,coinbase"))
        var kinds: [RecordKind] = []
        var recv = 0
        var last = Int64.min
        var conns = Set<UInt32>()
        while let rec = try reader.next() {
            kinds.append(rec.kind)
            #expect(rec.timestamp >= last)
            last = rec.timestamp
            conns.insert(rec.connection)
            if rec.kind == .recv { recv += 1 }
        }
        #expect(kinds.first == .connect)
        #expect(kinds.filter { $0 == .connect }.count == 2)
        let firstRecv = kinds.firstIndex(of: .recv)!
        #expect(kinds[..<firstRecv].allSatisfy { $0 == .connect || $0 == .send })
        #expect(!kinds[firstRecv...].contains(.send))
        #expect(conns == [0, 1])
        #expect(Int64(kinds.count) == result.records)
        #expect(result.messages > 15_000 && result.messages < 25_000)
        // Same seed, same bytes (apart from the header's creation time and host).
        let path2 = dir.path + "/g2.k2cap"
        _ = try CaptureGenerator(profile: profile).write(path: path2, commandLine: "test")
        let firstReader = try CaptureReader(path: path)
        let secondReader = try CaptureReader(path: path2)
        while let record = try firstReader.next() {
            let xo = record.owned()
            let secondRecord = try secondReader.next()!.owned()
            #expect(xo == secondRecord)
        }
    }
}
