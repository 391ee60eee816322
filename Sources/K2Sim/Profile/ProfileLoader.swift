#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import K2Capture
import K2Core
import Yams

/// Reads YAML profiles (docs/sim-profiles.md). Every mistake is one `SimError` naming the
/// file, the line and the key: unknown keys, wrong types, negative rates, unknown shapes.
public enum ProfileLoader {
    public static func load(path: String) throws(SimError) -> SimProfile {
        let text: String
        do {
            text = try readText(path)
        } catch {
            throw SimError(location: path, what: "cannot read the profile", remedy: "check the path")
        }
        return try parse(yaml: text, file: path)
    }

    static func readText(_ path: String) throws -> String {
        guard let f = fopen(path, "rb") else { throw SimError(location: path, what: "cannot open", remedy: "") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buf[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func parse(yaml: String, file: String = "profile") throws(SimError) -> SimProfile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let e as YamlError {
            throw SimError(location: file + yamlErrorLine(e), what: "not valid YAML", remedy: "fix the syntax there")
        } catch {
            throw SimError(location: file, what: "not valid YAML", remedy: "fix the syntax")
        }
        guard let root, let top = root.mapping else {
            throw SimError(location: file, what: "the profile must be a mapping of keys", remedy: "see docs/sim-profiles.md")
        }
        let r = Reader(file: file)
        return try r.profile(top, node: root)
    }

    static func yamlErrorLine(_ e: YamlError) -> String {
        switch e {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _): return ":\(mark.line)"
        default: return ""
        }
    }

    /// Builds typed values out of YAML nodes, naming file:line and key on every error.
    struct Reader {
        let file: String

        func loc(_ n: Node) -> String { n.mark.map { "\(file):\($0.line)" } ?? file }

        func fail(_ n: Node, _ key: String, _ what: String, _ remedy: String) -> SimError {
            SimError(location: loc(n), key: key, what: what, remedy: remedy)
        }

        /// The mapping's entries by key, rejecting keys not in `allowed`.
        func entries(_ m: Node.Mapping, _ node: Node, path: String, allowed: [String]) throws(SimError) -> [(String, Node, Node)] {
            var out: [(String, Node, Node)] = []
            for (k, v) in m {
                guard let key = k.string else {
                    throw fail(k, path, "keys must be text", "write key: value")
                }
                let full = path.isEmpty ? key : path + "." + key
                guard allowed.contains(key) else {
                    throw fail(k, full, "unknown key", "known keys here: " + allowed.joined(separator: ", "))
                }
                if out.contains(where: { $0.0 == key }) {
                    throw fail(k, full, "key given twice", "keep one")
                }
                out.append((key, k, v))
            }
            return out
        }

        func scalar(_ v: Node, _ key: String) throws(SimError) -> String {
            guard let s = v.scalar?.string else {
                throw fail(v, key, "expected a single value, found a \(v.mapping != nil ? "mapping" : "list")", "write key: value")
            }
            return s
        }

        func number(_ v: Node, _ key: String, min: Double = 0) throws(SimError) -> Double {
            let s = try scalar(v, key)
            guard let d = Double(s.replacingUnderscores()), d.isFinite else {
                throw fail(v, key, "expected a number, found '\(s)'", "write a number such as 1000")
            }
            guard d >= min else {
                throw fail(v, key, "must be at least \(min == 0 ? "0" : String(min)), found \(s)",
                           key.hasSuffix("rate") || key.contains("rate") ? "rates are messages per second and cannot be negative" : "use a larger value")
            }
            return d
        }

        func fraction(_ v: Node, _ key: String) throws(SimError) -> Double {
            let d = try number(v, key)
            guard d < 1 else { throw fail(v, key, "must be a fraction below 1, found \(d)", "write 0.1 for 10%") }
            return d
        }

        func integer(_ v: Node, _ key: String, min: Int = 0) throws(SimError) -> Int {
            let s = try scalar(v, key)
            guard let i = Int(s.replacingUnderscores()) else {
                throw fail(v, key, "expected a whole number, found '\(s)'", "write e.g. 200")
            }
            guard i >= min else { throw fail(v, key, "must be at least \(min), found \(i)", "use a larger value") }
            return i
        }

        func duration(_ v: Node, _ key: String) throws(SimError) -> Int64 {
            let s = try scalar(v, key)
            guard let d = TimeText.parseDuration(s), d > 0 else {
                throw fail(v, key, "expected a positive duration, found '\(s)'", "write e.g. 30s, 5m, 1h, 250ms")
            }
            return d
        }

        func bool(_ v: Node, _ key: String) throws(SimError) -> Bool {
            let s = try scalar(v, key)
            switch s.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw fail(v, key, "expected true or false, found '\(s)'", "write true or false")
            }
        }

        func list(_ v: Node, _ key: String) throws(SimError) -> [Node] {
            if let seq = v.sequence { return Array(seq) }
            if v.scalar != nil { return [v] }
            throw fail(v, key, "expected a list", "write [a, b] or one item per '- ' line")
        }

        func profile(_ m: Node.Mapping, node: Node) throws(SimError) -> SimProfile {
            var p = SimProfile(timeline: Timeline([]))
            var arrivals = ArrivalMode.poisson
            var timelineNode: (Node, Node)?
            let keys = ["name", "seed", "venues", "venue", "start", "arrivals", "market", "binance", "kraken", "faults", "timeline"]
            for (key, k, v) in try entries(m, node, path: "", allowed: keys) {
                switch key {
                case "name": p.name = try scalar(v, key)
                case "seed":
                    let s = try scalar(v, key)
                    guard let seed = UInt64(s.replacingUnderscores()) else {
                        throw fail(v, key, "expected a whole number ≥ 0, found '\(s)'", "write e.g. 42")
                    }
                    p.seed = seed
                case "venue", "venues":
                    var vs: [Venue] = []
                    for item in try list(v, key) {
                        let name = try scalar(item, key)
                        do { vs.append(try Venue(parsing: name)) } catch {
                            throw fail(item, key, error.what, error.remedy)
                        }
                    }
                    guard !vs.isEmpty else { throw fail(v, key, "no venue given", "name at least one venue") }
                    p.venues = vs
                case "start":
                    let s = try scalar(v, key)
                    guard let t = TimeText.parseISO8601(s) else {
                        throw fail(v, key, "expected an ISO-8601 time, found '\(s)'", "write e.g. 2024-03-01T00:00:00Z")
                    }
                    p.startNanos = t
                case "arrivals": arrivals = try arrivalMode(v, key)
                case "market": p.market = try market(v, p.market)
                case "binance":
                    guard let mm = v.mapping else { throw fail(v, key, "expected a mapping", "see docs/sim-profiles.md") }
                    for (bk, _, bv) in try entries(mm, v, path: key, allowed: ["combined", "depth_stream", "streams"]) {
                        if bk == "combined" { p.binanceCombined = try bool(bv, "binance.combined") }
                        else if bk == "streams" {
                            var kinds: [MessageKind] = []
                            for item in try list(bv, "binance.streams") {
                                let name = try scalar(item, "binance.streams")
                                let k: MessageKind
                                switch name {
                                case "trade": k = .trade
                                case "aggTrade", "agg_trade": k = .aggTrade
                                case "depth": k = .depth
                                default: throw fail(item, "binance.streams", "unknown stream '\(name)'", "use trade, aggTrade and/or depth")
                                }
                                if !kinds.contains(k) { kinds.append(k) }
                            }
                            guard !kinds.isEmpty else { throw fail(bv, "binance.streams", "no stream given", "name at least one of trade, aggTrade, depth") }
                            p.binanceStreams = kinds
                        } else {
                            let s = try scalar(bv, "binance.depth_stream")
                            guard s == "@depth" || s == "@depth@100ms" else {
                                throw fail(bv, "binance.depth_stream", "unknown depth stream '\(s)'", "use @depth or @depth@100ms")
                            }
                            p.binanceDepthSuffix = s
                        }
                    }
                case "kraken":
                    guard let mm = v.mapping else { throw fail(v, key, "expected a mapping", "see docs/sim-profiles.md") }
                    for (_, _, bv) in try entries(mm, v, path: key, allowed: ["book_depth"]) {
                        let d = try integer(bv, "kraken.book_depth", min: 10)
                        guard [10, 25, 100, 500, 1000].contains(d) else {
                            throw fail(bv, "kraken.book_depth", "Kraken offers depths 10, 25, 100, 500, 1000, not \(d)", "pick one of those")
                        }
                        p.krakenBookDepth = d
                    }
                case "faults": p.faults = try faults(v)
                case "timeline": timelineNode = (k, v)
                default: break
                }
            }
            guard let (tk, tv) = timelineNode else {
                throw SimError(location: loc(node), key: "timeline", what: "missing", remedy: "add a timeline: a list of shapes with durations")
            }
            guard let seq = tv.sequence, seq.count > 0 else {
                throw fail(tk, "timeline", "expected a non-empty list of segments", "write '- shape: constant' items")
            }
            var segs: [LoadSegment] = []
            for (i, item) in seq.enumerated() {
                segs.append(try segment(item, index: i, arrivals: arrivals, seed: p.seed &+ UInt64(i + 1) &* 0xB5AD_4ECE_DA1C_E2A9))
            }
            p.timeline = Timeline(segs)
            return p
        }

        /// `faults:` — every fault of `FaultPlan`; durations, or `off` for the timed ones.
        func faults(_ v: Node) throws(SimError) -> FaultPlan {
            guard let m = v.mapping else {
                throw fail(v, "faults", "expected a mapping", "write e.g. faults: {gap_every: 500, drop_every: 30s}")
            }
            var f = FaultPlan()
            let keys = ["drop_every", "stall_every", "stall_for", "gap_every", "duplicate_every", "reorder_every", "malformed_every", "close_after"]
            func timed(_ x: Node, _ path: String) throws(SimError) -> Int64? {
                if let s = x.scalar?.string, ["off", "none", "false", "no"].contains(s.lowercased()) { return nil }
                return try duration(x, path)
            }
            for (key, _, x) in try entries(m, v, path: "faults", allowed: keys) {
                let path = "faults." + key
                switch key {
                case "drop_every": f.dropEveryNanos = try timed(x, path)
                case "stall_every": f.stallEveryNanos = try timed(x, path)
                case "stall_for": f.stallForNanos = try duration(x, path)
                case "close_after": f.closeAfterNanos = try timed(x, path)
                case "gap_every": f.gapEvery = try integer(x, path)
                case "duplicate_every": f.duplicateEvery = try integer(x, path)
                case "reorder_every": f.reorderEvery = try integer(x, path)
                case "malformed_every": f.malformedEvery = try integer(x, path)
                default: break
                }
            }
            return f
        }

        func arrivalMode(_ v: Node, _ key: String) throws(SimError) -> ArrivalMode {
            let s = try scalar(v, key)
            guard let a = ArrivalMode(rawValue: s) else {
                throw fail(v, key, "unknown arrival process '\(s)'", "use poisson or uniform")
            }
            return a
        }

        func market(_ v: Node, _ base: MarketConfig) throws(SimError) -> MarketConfig {
            guard let m = v.mapping else { throw fail(v, "market", "expected a mapping", "see docs/sim-profiles.md") }
            var c = base
            let keys = ["symbols", "zipf", "book_depth", "level_spacing", "volatility", "trade_notional", "level_notional",
                        "mix", "max_fills", "max_level_changes"]
            for (key, _, x) in try entries(m, v, path: "market", allowed: keys) {
                let path = "market." + key
                switch key {
                case "symbols": c.symbols = try integer(x, path, min: 1)
                case "zipf": c.zipfExponent = try number(x, path)
                case "book_depth": c.bookDepth = try integer(x, path, min: 2)
                case "level_spacing": c.levelSpacing = try number(x, path)
                case "volatility": c.volatility = try number(x, path)
                case "max_fills": c.maxFills = try integer(x, path, min: 1)
                case "max_level_changes": c.maxLevelChanges = try integer(x, path, min: 1)
                case "trade_notional", "level_notional":
                    guard let mm = x.mapping else { throw fail(x, path, "expected a mapping with median and sigma", "write {median: 200, sigma: 1.5}") }
                    var median = key == "trade_notional" ? c.tradeNotionalMedian : c.levelNotionalMedian
                    var sigma = key == "trade_notional" ? c.tradeNotionalSigma : c.levelNotionalSigma
                    for (nk, _, nv) in try entries(mm, x, path: path, allowed: ["median", "sigma"]) {
                        if nk == "median" { median = try number(nv, path + ".median") } else { sigma = try number(nv, path + ".sigma") }
                    }
                    if key == "trade_notional" { c.tradeNotionalMedian = median; c.tradeNotionalSigma = sigma }
                    else { c.levelNotionalMedian = median; c.levelNotionalSigma = sigma }
                case "mix":
                    guard let mm = x.mapping else { throw fail(x, path, "expected a mapping", "write {trade: 0.4, agg_trade: 0.2, depth: 0.4}") }
                    for (nk, _, nv) in try entries(mm, x, path: path, allowed: ["trade", "agg_trade", "depth"]) {
                        let w = try number(nv, path + "." + nk)
                        switch nk {
                        case "trade": c.tradeWeight = w
                        case "agg_trade": c.aggTradeWeight = w
                        default: c.depthWeight = w
                        }
                    }
                    if c.tradeWeight + c.aggTradeWeight + c.depthWeight <= 0 {
                        throw fail(x, path, "all weights are 0", "give at least one kind a positive weight")
                    }
                default: break
                }
            }
            return c
        }

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

        func segment(_ n: Node, index: Int, arrivals: ArrivalMode, seed: UInt64) throws(SimError) -> LoadSegment {
            let path = "timeline[\(index)]"
            guard let m = n.mapping else {
                throw fail(n, path, "expected a mapping with shape and duration", "write '- shape: constant' then 'rate:' and 'duration:'")
            }
            guard let shapeNode = m["shape"] else {
                throw fail(n, path + ".shape", "missing", "name a shape: " + Self.shapeKeys.keys.sorted().joined(separator: ", "))
            }
            let shapeName = try scalar(shapeNode, path + ".shape")
            guard let keys = Self.shapeKeys[shapeName] else {
                throw fail(shapeNode, path + ".shape", "unknown shape '\(shapeName)'", "use one of " + Self.shapeKeys.keys.sorted().joined(separator: ", "))
            }
            var values: [String: Node] = [:]
            var length: Int64?
            var mode = arrivals
            for (key, _, v) in try entries(m, n, path: path, allowed: ["shape", "duration", "arrivals"] + keys) {
                switch key {
                case "shape": break
                case "duration": length = try duration(v, path + ".duration")
                case "arrivals": mode = try arrivalMode(v, path + ".arrivals")
                default: values[key] = v
                }
            }
            guard let length else {
                throw fail(n, path + ".duration", "missing", "give the segment a duration such as 60s")
            }
            func num(_ k: String, _ def: Double? = nil, min: Double = 0) throws(SimError) -> Double {
                if let v = values[k] { return try number(v, path + "." + k, min: min) }
                if let def { return def }
                throw fail(n, path + "." + k, "missing", "the \(shapeName) shape needs " + keys.joined(separator: ", "))
            }
            func dur(_ k: String, _ def: Int64? = nil) throws(SimError) -> Int64 {
                if let v = values[k] { return try duration(v, path + "." + k) }
                if let def { return def }
                throw fail(n, path + "." + k, "missing", "the \(shapeName) shape needs " + keys.joined(separator: ", "))
            }
            let shape: LoadShape
            switch shapeName {
            case "constant": shape = .constant(rate: try num("rate"))
            case "poisson":
                shape = .constant(rate: try num("rate"))
                mode = .poisson
            case "ramp": shape = .ramp(from: try num("from"), to: try num("to"))
            case "step":
                guard let rv = values["rates"] else { throw fail(n, path + ".rates", "missing", "write rates: [100, 1000]") }
                var rates: [Double] = []
                for (i, item) in try list(rv, path + ".rates").enumerated() { rates.append(try number(item, path + ".rates[\(i)]")) }
                guard !rates.isEmpty else { throw fail(rv, path + ".rates", "empty", "give at least one rate") }
                shape = .step(rates: rates, every: try dur("every", length / Int64(rates.count)))
            case "sine":
                shape = .sine(mean: try num("mean"), amplitude: try num("amplitude", 0), period: try dur("period", 86_400_000_000_000),
                              phase: values["phase"] != nil ? try number(values["phase"]!, path + ".phase", min: -1e9) : 0)
            case "bursts":
                shape = .bursts(base: try num("base"), burst: try num("burst"), meanOn: try dur("mean_on", 2_000_000_000),
                                meanOff: try dur("mean_off", 8_000_000_000))
            case "flash_crash":
                var drop = 0.1
                var recovery = 0.5
                if let v = values["drop"] { drop = try fraction(v, path + ".drop") }
                if let v = values["recovery"] { recovery = try number(v, path + ".recovery") }
                shape = .flashCrash(rate: try num("rate"), multiplier: try num("multiplier", 50), at: try dur("at", 0),
                                    length: try dur("length", 30_000_000_000), drop: drop, recovery: recovery)
            case "market_open":
                shape = .marketOpen(rate: try num("rate"), peak: try num("peak", 10, min: 1), decay: try dur("decay", 300_000_000_000))
            default:
                throw fail(shapeNode, path + ".shape", "unknown shape '\(shapeName)'", "")
            }
            return LoadSegment(shape: shape, length: length, arrivals: mode, seed: seed)
        }
    }
}

extension String {
    /// `10_000` → `10000` (YAML-style digit grouping).
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
