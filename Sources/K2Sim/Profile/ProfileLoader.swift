import K2Capture
import K2Config
import K2Core

/// Reads YAML profiles (docs/sim-profiles.md) through K2Config's strict reader: unknown keys
/// (with a did-you-mean), wrong types and numbers outside what the simulator can run with are
/// each one `SimError` line naming the file, line, column and key, worded as for workloads.
package enum ProfileLoader {
    static let guide = "docs/sim-profiles.md"

    package static func load(path: String) throws(SimError) -> SimProfile {
        do { return try read(StrictMap.load(file: path, guide: guide)) } catch { throw SimError(error) }
    }

    package static func parse(yaml: String, file: String = "profile") throws(SimError) -> SimProfile {
        do { return try read(StrictMap.parse(yaml, file: file, guide: guide)) } catch { throw SimError(error) }
    }

    /// Messages per second a rate may ask for (the generator's own limit is far lower).
    static let rates: ClosedRange<Double> = 0...1e9
    /// A segment, period or fault interval: up to a year.
    static let durations: ClosedRange<Int64> = 1...365 * 86_400_000_000_000
    /// Every N messages (faults).
    static let counts: ClosedRange<Int> = 0...1_000_000_000

    static let topKeys = ["name", "seed", "venues", "venue", "start", "arrivals", "market", "binance", "kraken", "faults", "timeline"]

    static func read(_ root: StrictMap) throws(ConfigError) -> SimProfile {
        try root.expectKeys(topKeys)
        var profile = SimProfile(timeline: Timeline([]))
        if let name = try root.string("name") { profile.name = name }
        if let seed = try root.uint64("seed") { profile.seed = seed }
        for key in ["venues", "venue"] {
            guard let names = try root.strings(key) else { continue }
            var venues: [Venue] = []
            for name in names {
                do { venues.append(try Venue(parsing: name)) } catch { throw root.error(at: key, error.what, remedy: error.remedy) }
            }
            guard !venues.isEmpty else { throw root.error(at: key, "no venue given", remedy: "name at least one venue") }
            profile.venues = venues
        }
        if let start = try root.string("start") {
            guard let nanos = TimeText.parseISO8601(start) else {
                throw root.error(at: "start", "'\(start)' is not an ISO-8601 time", remedy: "write e.g. 2024-03-01T00:00:00Z")
            }
            profile.startNanos = nanos
        }
        let arrivals = try arrivalMode(root, "arrivals") ?? .poisson
        if let market = try root.map("market") { profile.market = try self.market(market, profile.market) }
        if let binance = try root.map("binance") {
            try binance.expectKeys(["combined", "depth_stream", "streams"])
            if let combined = try binance.bool("combined") { profile.binanceCombined = combined }
            if let names = try binance.strings("streams") {
                var kinds: [MessageKind] = []
                for name in names {
                    let kind: MessageKind
                    switch name {
                    case "trade": kind = .trade
                    case "aggTrade", "agg_trade": kind = .aggTrade
                    case "depth": kind = .depth
                    default: throw binance.error(at: "streams", "unknown stream '\(name)'", remedy: "use trade, aggTrade and/or depth")
                    }
                    if !kinds.contains(kind) { kinds.append(kind) }
                }
                guard !kinds.isEmpty else {
                    throw binance.error(at: "streams", "no stream given", remedy: "name at least one of trade, aggTrade, depth")
                }
                profile.binanceStreams = kinds
            }
            if let suffix = try binance.string("depth_stream") {
                guard suffix == "@depth" || suffix == "@depth@100ms" else {
                    throw binance.error(at: "depth_stream", "unknown depth stream '\(suffix)'", remedy: "use @depth or @depth@100ms")
                }
                profile.binanceDepthSuffix = suffix
            }
        }
        if let kraken = try root.map("kraken") {
            try kraken.expectKeys(["book_depth"])
            if let depth = try kraken.int("book_depth") {
                guard VenueAnswers.krakenBookDepths.contains(depth) else {
                    throw kraken.error(at: "book_depth", "Kraken offers depths 10, 25, 100, 500, 1000, not \(depth)", remedy: "pick one of those")
                }
                profile.krakenBookDepth = depth
            }
        }
        if let faults = try root.map("faults") { profile.faults = try self.faults(faults) }
        guard let segments = try root.maps("timeline") else {
            throw root.missing("timeline", "a list of shapes with durations")
        }
        guard !segments.isEmpty else {
            throw root.error(at: "timeline", "the list is empty", remedy: "write '- shape: constant' items")
        }
        var loadSegments: [LoadSegment] = []
        for (index, segment) in segments.enumerated() {
            loadSegments.append(
                try self.segment(
                    segment, arrivals: arrivals,
                    seed: profile.seed &+ UInt64(index + 1) &* 0xB5AD_4ECE_DA1C_E2A9))
        }
        profile.timeline = Timeline(loadSegments)
        return profile
    }

    /// `faults:` — every fault of `FaultPlan`; durations, or `off` for the timed ones.
    static func faults(_ map: StrictMap) throws(ConfigError) -> FaultPlan {
        try map.expectKeys([
            "drop_every", "stall_every", "stall_for", "gap_every", "duplicate_every", "reorder_every", "malformed_every", "close_after",
        ])
        func timed(_ key: String, _ current: Int64?) throws(ConfigError) -> Int64? {
            if let text = try? map.string(key), ["off", "none", "false", "no"].contains(text.lowercased()) { return nil }
            return try map.duration(key, in: durations) ?? current
        }
        var plan = FaultPlan()
        plan.dropEveryNanos = try timed("drop_every", plan.dropEveryNanos)
        plan.stallEveryNanos = try timed("stall_every", plan.stallEveryNanos)
        plan.stallForNanos = try map.duration("stall_for", in: durations) ?? plan.stallForNanos
        plan.closeAfterNanos = try timed("close_after", plan.closeAfterNanos)
        plan.gapEvery = try map.int("gap_every", in: counts) ?? plan.gapEvery
        plan.duplicateEvery = try map.int("duplicate_every", in: counts) ?? plan.duplicateEvery
        plan.reorderEvery = try map.int("reorder_every", in: counts) ?? plan.reorderEvery
        plan.malformedEvery = try map.int("malformed_every", in: counts) ?? plan.malformedEvery
        return plan
    }

    static func arrivalMode(_ map: StrictMap, _ key: String) throws(ConfigError) -> ArrivalMode? {
        guard let text = try map.string(key) else { return nil }
        guard let mode = ArrivalMode(rawValue: text) else {
            throw map.error(at: key, "unknown arrival process '\(text)'", remedy: "use poisson or uniform")
        }
        return mode
    }

    static func market(_ map: StrictMap, _ base: MarketConfig) throws(ConfigError) -> MarketConfig {
        try map.expectKeys([
            "symbols", "zipf", "book_depth", "level_spacing", "volatility", "trade_notional", "level_notional",
            "mix", "max_fills", "max_level_changes",
        ])
        var config = base
        config.symbols = try map.int("symbols", in: 1...1_000_000) ?? config.symbols
        config.zipfExponent = try map.double("zipf", in: 0...10) ?? config.zipfExponent
        config.bookDepth = try map.int("book_depth", in: 2...10_000) ?? config.bookDepth
        config.levelSpacing = try map.double("level_spacing", in: 0...1) ?? config.levelSpacing
        config.volatility = try map.double("volatility", in: 0...1) ?? config.volatility
        config.maxFills = try map.int("max_fills", in: 1...1_000) ?? config.maxFills
        config.maxLevelChanges = try map.int("max_level_changes", in: 1...1_000) ?? config.maxLevelChanges
        if let notional = try map.map("trade_notional") {
            try notional.expectKeys(["median", "sigma"])
            config.tradeNotionalMedian = try notional.double("median", in: 0...1e12) ?? config.tradeNotionalMedian
            config.tradeNotionalSigma = try notional.double("sigma", in: 0...10) ?? config.tradeNotionalSigma
        }
        if let notional = try map.map("level_notional") {
            try notional.expectKeys(["median", "sigma"])
            config.levelNotionalMedian = try notional.double("median", in: 0...1e12) ?? config.levelNotionalMedian
            config.levelNotionalSigma = try notional.double("sigma", in: 0...10) ?? config.levelNotionalSigma
        }
        if let mix = try map.map("mix") {
            try mix.expectKeys(["trade", "agg_trade", "depth"])
            config.tradeWeight = try mix.double("trade", in: 0...1e6) ?? config.tradeWeight
            config.aggTradeWeight = try mix.double("agg_trade", in: 0...1e6) ?? config.aggTradeWeight
            config.depthWeight = try mix.double("depth", in: 0...1e6) ?? config.depthWeight
            if config.tradeWeight + config.aggTradeWeight + config.depthWeight <= 0 {
                throw map.error(at: "mix", "all weights are 0", remedy: "give at least one kind a positive weight")
            }
        }
        return config
    }

    /// The keys each shape takes besides `shape`, `duration` and `arrivals`.
    static let shapeKeys: [String: [String]] = [
        "constant": ["rate"],
        "poisson": ["rate"],
        "ramp": ["from", "to"],
        "step": ["rates", "every"],
        "sine": ["mean", "amplitude", "period", "phase"],
        "bursts": ["base", "burst", "mean_on", "mean_off"],
        "flash_crash": ["rate", "multiplier", "at", "length", "drop", "recovery"],
        "market_open": ["rate", "peak", "decay"],
    ]

    static func segment(_ map: StrictMap, arrivals: ArrivalMode, seed: UInt64) throws(ConfigError) -> LoadSegment {
        let known = shapeKeys.keys.sorted().joined(separator: ", ")
        guard let shapeName = try map.string("shape") else { throw map.missing("shape", "one of " + known) }
        guard let keys = shapeKeys[shapeName] else {
            throw map.error(at: "shape", "unknown shape '\(shapeName)'", remedy: "use one of " + known)
        }
        try map.expectKeys(["shape", "duration", "arrivals"] + keys)
        guard let length = try map.duration("duration", in: durations) else {
            throw map.missing("duration", "how long the segment lasts, e.g. 60s")
        }
        var mode = try arrivalMode(map, "arrivals") ?? arrivals
        func number(_ key: String, _ range: ClosedRange<Double> = rates, default fallback: Double? = nil) throws(ConfigError) -> Double {
            if let value = try map.double(key, in: range) { return value }
            if let fallback { return fallback }
            throw map.missing(key, "the \(shapeName) shape needs " + keys.joined(separator: ", "))
        }
        func nanos(_ key: String, _ range: ClosedRange<Int64> = durations, default fallback: Int64) throws(ConfigError) -> Int64 {
            try map.duration(key, in: range) ?? fallback
        }
        let shape: LoadShape
        switch shapeName {
        case "constant": shape = .constant(rate: try number("rate"))
        case "poisson":
            shape = .constant(rate: try number("rate"))
            mode = .poisson
        case "ramp": shape = .ramp(from: try number("from"), to: try number("to"))
        case "step":
            guard let stepRates = try map.doubles("rates", in: rates) else { throw map.missing("rates", "e.g. rates: [100, 1000]") }
            guard !stepRates.isEmpty else { throw map.error(at: "rates", "the list is empty", remedy: "give at least one rate") }
            shape = .step(rates: stepRates, every: try nanos("every", default: max(1, length / Int64(stepRates.count))))
        case "sine":
            shape = .sine(
                mean: try number("mean"), amplitude: try number("amplitude", default: 0),
                period: try nanos("period", default: 86_400_000_000_000), phase: try number("phase", -1e9...1e9, default: 0))
        case "bursts":
            shape = .bursts(
                base: try number("base"), burst: try number("burst"), meanOn: try nanos("mean_on", default: 2_000_000_000),
                meanOff: try nanos("mean_off", default: 8_000_000_000))
        case "flash_crash":
            let drop = try number("drop", 0...1, default: 0.1)
            guard drop < 1 else { throw map.error(at: "drop", "must be a fraction below 1, not \(drop)", remedy: "write 0.1 for 10%") }
            shape = .flashCrash(
                rate: try number("rate"), multiplier: try number("multiplier", 0...1e6, default: 50),
                at: try nanos("at", 0...durations.upperBound, default: 0), length: try nanos("length", default: 30_000_000_000),
                drop: drop, recovery: try number("recovery", 0...1e6, default: 0.5))
        default:
            shape = .marketOpen(
                rate: try number("rate"), peak: try number("peak", 1...1e6, default: 10),
                decay: try nanos("decay", default: 300_000_000_000))
        }
        return LoadSegment(shape: shape, length: length, arrivals: mode, seed: seed)
    }
}
