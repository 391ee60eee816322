import Foundation
import K2Capture
import K2Core
import Testing
@testable import K2Sim

/// Compares the encoders' output with the venues' documented examples (Fixtures/), and the
/// first messages of each venue with checked-in golden samples (Golden/, refreshed with
/// K2_UPDATE_GOLDEN=1).
@Suite struct VenueGoldenTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    func fixture(_ name: String) throws -> JSONValue {
        let text = try String(contentsOf: Self.dir.appendingPathComponent("Fixtures/" + name), encoding: .utf8)
        return try JSONParser.parse(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The structure of a message: keys in order, value types, strings classified as
    /// decimal / timestamp / text. Arrays: the set of element structures in order of appearance.
    static func skeleton(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "bool"
        case let .number(numberText): return numberText.contains(".") ? "float" : "int"
        case let .string(text):
            if text.range(of: #"^-?[0-9]+\.[0-9]+$"#, options: .regularExpression) != nil { return "dec" }
            if text.range(of: #"^[0-9]+$"#, options: .regularExpression) != nil { return "dec" }  // "10", "100"
            if text.range(of: #"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d"#, options: .regularExpression) != nil { return "time" }
            return "str"
        case let .array(elements):
            var parts: [String] = []
            for e in elements { let shape = skeleton(e); if !parts.contains(shape) { parts.append(shape) } }
            return "[" + parts.joined(separator: "|") + "]"
        case let .object(members):
            return "{" + members.map { "\($0.0):\(skeleton($0.1))" }.joined(separator: ",") + "}"
        }
    }

    static func loose(_ s: String) -> String { s }

    func generated(_ venue: Venue, _ kind: MarketEventKind, symbol: Int = 0, combined: Bool = false, fills: Int? = nil) -> JSONValue {
        var cfg = MarketConfig()
        if let fills { cfg.maxFills = fills }
        var model = MarketModel(config: cfg, seed: 42)
        var encoder = VenueEncoder(venue: venue, universe: model.universe)
        encoder.combined = combined
        var out: [UInt8] = []
        for _ in 0..<20 { model.generate(kind, symbol: symbol) }  // walk a little
        model.generate(kind, symbol: symbol)
        encoder.encode(kind, symbol: symbol, model: model, nanos: 1_700_000_000_123_456_789, into: &out)
        return try! JSONParser.parse(out)
    }

    func same(_ ours: JSONValue, _ doc: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Self.loose(Self.skeleton(ours)) == Self.loose(Self.skeleton(doc)), "ours: \(ours.serialized())", sourceLocation: sourceLocation)
    }

    @Test func binanceMessagesHaveTheDocumentedShape() throws {
        same(generated(.binance, .trade), try fixture("binance-trade.json"))
        same(generated(.binance, .aggTrade), try fixture("binance-aggTrade.json"))
        same(generated(.binance, .depth), try fixture("binance-depthUpdate.json"))
        let model = MarketModel(config: MarketConfig(), seed: 1)
        same(try JSONParser.parse(VenueEncoder.binanceSnapshot(model: model, symbol: 0, limit: 5)), try fixture("binance-depth-snapshot.json"))
        // Combined streams wrap the payload.
        let combined = generated(.binance, .trade, combined: true)
        #expect(combined["stream"]?.stringValue == "btcusdt@trade")
        same(combined["data"]!, try fixture("binance-trade.json"))
        // Binance writes 8 decimals, always.
        let price = generated(.binance, .trade)["p"]!.stringValue!
        #expect(price.split(separator: ".")[1].count == 8)
    }

    /// `<symbol>@bookTicker`: the documented payload, after every book update of the symbol, with
    /// the book's top level and its last update id.
    @Test func binanceBookTickerHasTheDocumentedShapeAndFollowsTheBook() throws {
        var profile = SimProfile.constant(rate: 1_000, duration: 1_000_000_000, venue: .binance, seed: 42)
        profile.market.symbols = 3
        var feed = LiveFeed(profile: profile, venue: .binance)
        feed.binanceCombined = false
        var set = SubscriptionSet(symbols: 3)
        set.add(symbol: 0, kind: .ticker)
        feed.filter = set
        var buf: [UInt8] = []
        var lastU: Int64 = 0
        var seen = 0
        while seen < 20, let event = feed.next(into: &buf) {
            #expect(event.kind == .ticker && event.symbol == 0)
            let message = try JSONParser.parse(buf)
            same(message, try fixture("binance-bookTicker.json"))
            let updateID = message["u"]!.int64Value!
            #expect(updateID > lastU)
            #expect(updateID == feed.model.lastUpdateId(0))
            #expect(Double(message["b"]!.stringValue!)! < Double(message["a"]!.stringValue!)!)
            lastU = updateID
            seen += 1
            buf.removeAll()
        }
        #expect(seen == 20)
        let stream = try BinanceProtocol.parsePath("/stream?streams=btcusdt@bookTicker", universe: feed.universe)
        #expect(stream.subscriptions.kinds(symbol: 0) == [.ticker])
    }

    /// Kraken and Coinbase `ticker`: the documented message after each trade event of a symbol
    /// subscribed to it (and only then), with the trades so far.
    @Test(arguments: [Venue.kraken, .coinbase])
    func tickerHasTheDocumentedShapeAndFollowsTheTrades(_ venue: Venue) throws {
        var profile = SimProfile.constant(rate: 1_000, duration: 1_000_000_000, venue: venue, seed: 42)
        profile.market.symbols = 3
        var feed = LiveFeed(profile: profile, venue: venue)
        var set = SubscriptionSet(symbols: 3)
        set.add(symbol: 0, kind: .ticker)
        feed.filter = set
        var buf: [UInt8] = []
        var seen = 0
        var lastSequence: Int64 = -1
        while seen < 10, let event = feed.next(into: &buf) {
            #expect(event.kind == .ticker && event.symbol == 0)
            let message = try JSONParser.parse(buf)
            let stats = feed.tickerStats[0]
            #expect(stats.trades > 0)
            if venue == .kraken {
                same(message, try fixture("kraken-ticker.json"))
                #expect(message.arrayValue?[1]["t"]?.arrayValue?.first?.int64Value == stats.trades)
            } else {
                same(message, try fixture("coinbase-ticker.json"))   // the fixture is the snapshot; updates have the same members
                #expect(message["events"]?.arrayValue?.first?["type"]?.stringValue == "update")
                let sequence = message["sequence_num"]!.int64Value!
                #expect(sequence == lastSequence + 1)
                lastSequence = sequence
            }
            seen += 1
            buf.removeAll()
        }
        #expect(seen == 10)
        if venue == .coinbase {
            same(try JSONParser.parse(feed.coinbaseTickerSnapshot(symbol: 0, nanos: 1_775_572_203_000_000_000, sequence: 12)),
                 try fixture("coinbase-ticker.json"))
        }
    }

    @Test func krakenMessagesHaveTheDocumentedShape() throws {
        same(generated(.kraken, .aggTrade, fills: 2), try fixture("kraken-trade.json"))
        // A book update with one side, and with both sides as two objects.
        var model = MarketModel(config: MarketConfig(), seed: 42)
        let encoder = VenueEncoder(venue: .kraken, universe: model.universe)
        var sawOne = false
        var sawBoth = false
        for _ in 0..<200 {
            model.generate(.depth, symbol: 0)
            var enc = encoder
            var out: [UInt8] = []
            enc.encode(.depth, symbol: 0, model: model, nanos: 1_534_614_248_456_738_000, into: &out)
            let message = try JSONParser.parse(out)
            // The checksum "c" is in the last object; the older documented examples have none.
            let parts = message.arrayValue!
            #expect(parts[parts.count - 3]["c"]?.stringValue.flatMap { UInt32($0) } != nil)
            let noChecksum = JSONValue.array(parts.map { part in
                if case let .object(members) = part { return .object(members.filter { $0.0 != "c" }) }
                return part
            })
            if model.askChanges.isEmpty || model.bidChanges.isEmpty {
                if !model.bidChanges.isEmpty { continue }
                same(noChecksum, try fixture("kraken-book-asks.json"))
                sawOne = true
            } else {
                same(noChecksum, try fixture("kraken-book-both.json"))
                same(message, try fixture("kraken-book-checksum.json"))
                sawBoth = true
            }
        }
        #expect(sawOne && sawBoth)
        same(try JSONParser.parse(KrakenProtocol.systemStatus(connectionID: 1)), try fixture("kraken-systemStatus.json"))
        same(try JSONParser.parse(KrakenProtocol.heartbeat), try fixture("kraken-heartbeat.json"))
        let universe = SymbolUniverse(count: 10)
        var set = SubscriptionSet(symbols: 10)
        let request = KrakenProtocol.parseRequest(KrakenProtocol.subscribeRequest(pairs: ["XBT/USD"], name: "trade"))!
        let frames = KrakenProtocol.handle(request, set: &set, universe: universe, bookDepth: 25).frames
        #expect(frames.count == 1)
        same(try JSONParser.parse(frames[0]), try fixture("kraken-subscriptionStatus.json"))
        // Kraken v1 prices carry 5 decimals for XBT/USD, volumes 8.
        let trade = generated(.kraken, .trade).arrayValue![1].arrayValue![0].arrayValue!
        #expect(trade[0].stringValue!.split(separator: ".")[1].count == 5)
        #expect(trade[1].stringValue!.split(separator: ".")[1].count == 8)
        #expect(trade[2].stringValue!.split(separator: ".")[1].count == 6)
    }

    @Test func coinbaseMessagesHaveTheDocumentedShape() throws {
        let doc = try fixture("coinbase-market_trades.json")
        same(generated(.coinbase, .trade), doc)
        same(generated(.coinbase, .depth), try fixture("coinbase-l2_data.json"))
        same(try JSONParser.parse(CoinbaseProtocol.heartbeat(counter: 3049, nanos: 1_687_552_286_122_969_572, uptimeNanos: 91_717_525_857_105, sequence: 0)),
             try fixture("coinbase-heartbeats-venue.json"))
        // The level2 snapshot (sent first after a level2 subscription) is the documented l2_data example.
        let model = MarketModel(config: MarketConfig(), seed: 42)
        let encoder = VenueEncoder(venue: .coinbase, universe: model.universe)
        let snapshot = try JSONParser.parse(encoder.coinbaseBookSnapshot(model: model, symbol: 0, nanos: 1_675_974_770_714_964_855, sequence: 0))
        same(snapshot, try fixture("coinbase-l2_data.json"))
        let levels = snapshot["events"]!.arrayValue![0]["updates"]!.arrayValue!
        #expect(levels.count == 2 * model.bookDepth)
        #expect(levels.first?["side"]?.stringValue == "bid" && levels.last?["side"]?.stringValue == "offer")
        #expect(generated(.coinbase, .trade)["channel"]?.stringValue == "market_trades")
    }

    /// The first messages per venue, byte for byte, so any format change is deliberate.
    @Test(arguments: Venue.allCases)
    func goldenSamples(_ venue: Venue) throws {
        var profile = SimProfile.constant(rate: 1_000, duration: 1_000_000_000, venue: venue, seed: 42)
        profile.market.symbols = 50
        var feed = LiveFeed(profile: profile, venue: venue)
        var text = ""
        var buf: [UInt8] = []
        for _ in 0..<12 {
            buf.removeAll(keepingCapacity: true)
            guard feed.next(into: &buf) != nil else { break }
            text += String(decoding: buf, as: UTF8.self) + "\n"
        }
        if venue == .binance { text += String(decoding: feed.snapshot(symbol: 0, limit: 5), as: UTF8.self) + "\n" }
        let url = Self.dir.appendingPathComponent("Golden/\(venue.rawValue).ndjson")
        if ProcessInfo.processInfo.environment["K2_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(text == golden, "refresh with K2_UPDATE_GOLDEN=1 if the change is intended")
    }

    @Test func sameSeedSameBytesOtherSeedOtherBytes() {
        func bytes(_ seed: UInt64, _ v: Venue) -> [UInt8] {
            let profile = SimProfile.constant(rate: 50_000, duration: 200_000_000, venue: v, seed: seed)
            var feed = LiveFeed(profile: profile, venue: v)
            var out: [UInt8] = []
            while feed.next(into: &out) != nil {}
            return out
        }
        for venue in Venue.allCases {
            let sample = bytes(9, venue)
            #expect(sample.count > 100_000)
            #expect(sample == bytes(9, venue))
            #expect(sample != bytes(10, venue))
        }
    }
}
