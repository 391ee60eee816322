import Foundation
import K2Config
import K2Core

/// Reads workload YAML strictly: unknown keys, wrong types and missing captures are errors that
/// name the file, the line and the key (docs/workloads.md lists every key).
package enum WorkloadLoader {
    package static let topKeys = [
        "name", "description", "source", "speed", "rate", "warmup", "duration", "sinks",
        "probes", "consumer", "watch", "targets", "repetitions", "reference", "embedded", "not_tested", "queries", "storage", "burst", "http",
        "faults", "ledger",
    ]

    static let guide = "docs/workloads.md"

    package static func load(file: String, checkFiles: Bool = true) throws(BenchError) -> Workload {
        do { return try read(StrictMap.load(file: file, guide: guide), file: file, checkFiles: checkFiles) } catch { throw BenchError(error) }
    }

    package static func parse(_ text: String, file: String = "workload.yaml", checkFiles: Bool = true) throws(BenchError) -> Workload {
        do { return try read(StrictMap.parse(text, file: file, guide: guide), file: file, checkFiles: checkFiles) } catch { throw BenchError(error) }
    }

    /// What the harness can run with (every number a workload gives is checked against these).
    static let rates: ClosedRange<Double> = 1e-3...1e9
    static let speeds: ClosedRange<Double> = 1e-6...1e6
    static let runLengths: ClosedRange<Int64> = 0...365 * 86_400_000_000_000
    static let intervals: ClosedRange<Int64> = 1_000_000...86_400_000_000_000

    /// `path` relative to the folder holding `file` (absolute paths stay as they are).
    package static func resolve(_ path: String, against file: String) -> String {
        if path.hasPrefix("/") { return path }
        let dir = (file as NSString).deletingLastPathComponent
        // Workloads under reports/workloads/ name repository files from the repository root
        // (captures/…); try the path as given (from the current folder) first, then next to the file.
        if FileManager.default.fileExists(atPath: path) || dir.isEmpty { return path }
        return (dir as NSString).appendingPathComponent(path)
    }

    static func read(_ root: StrictMap, file: String, checkFiles: Bool) throws(ConfigError) -> Workload {
        try root.expectKeys(topKeys)
        guard let src = try root.map("source") else {
            throw root.missing("source", "captures: [FILE…] or profile: NAME")
        }
        try src.expectKeys(["captures", "capture", "loop", "profile", "seed"])
        let source: Workload.Source
        var captures = try src.strings("captures")
        if captures == nil { captures = try src.strings("capture") }
        let profile = try src.string("profile")
        switch (captures, profile) {
        case let (caps?, nil):
            guard !caps.isEmpty else { throw src.error(at: "captures", "the list is empty", remedy: "name at least one .k2cap file") }
            var resolved: [String] = []
            for capture in caps {
                let resolvedPath = resolve(capture, against: file)
                if checkFiles && !FileManager.default.fileExists(atPath: resolvedPath) {
                    throw src.error(
                        at: src.keys.contains("captures") ? "captures" : "capture",
                        "capture '\(capture)' does not exist (looked at \(resolvedPath))",
                        remedy: "check the path (relative paths are from the current folder or the workload's folder)")
                }
                resolved.append(resolvedPath)
            }
            source = .captures(resolved, loop: try src.bool("loop") ?? true)
        case let (nil, prof?):
            let seed = try src.uint64("seed") ?? 1
            let isFile = prof.hasSuffix(".yaml") || prof.hasSuffix(".yml")
            let profilePath = isFile ? resolve(prof, against: file) : prof
            if checkFiles && isFile && !FileManager.default.fileExists(atPath: profilePath) {
                throw src.error(at: "profile", "profile file '\(prof)' does not exist", remedy: "check the path or use a built-in profile name")
            }
            source = .profile(profilePath, seed: seed)
        case (_?, _?):
            throw src.error(at: "profile", "give either captures or profile, not both")
        case (nil, nil):
            throw src.missing("captures", "captures: [FILE…] or profile: NAME")
        }

        let defaultName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        var workload = Workload(name: try root.string("name") ?? defaultName, source: source)
        workload.path = file
        workload.description = try root.string("description") ?? ""

        let speedText = try root.string("speed")
        let rate = try root.rate("rate", in: rates)
        switch (speedText, rate) {
        case (_?, _?):
            throw root.error(at: "rate", "give either speed or rate, not both")
        case let (speed?, nil):
            if speed.lowercased() == "max" {
                workload.pace = .max
            } else {
                var normalized = speed.trimmingSpaces().lowercased()
                if normalized.hasSuffix("x") { normalized.removeLast() }
                guard let multiple = StrictMap.number(normalized), speeds.contains(multiple) else {
                    throw root.error(
                        at: "speed", "'\(speed)' is not a speed", remedy: "write a positive multiple up to 1000000 such as 1, 10x or max")
                }
                workload.pace = .speed(multiple)
            }
        case let (nil, perSecond?):
            workload.pace = .rate(perSecond)
        case (nil, nil):
            workload.pace = .speed(1)
        }

        workload.warmupNanos = try root.duration("warmup", in: runLengths) ?? 0
        workload.durationNanos = try root.duration("duration", in: runLengths) ?? 30_000_000_000
        guard workload.durationNanos > 0 else { throw root.error(at: "duration", "must be longer than 0") }

        if let items = try root.items("sinks") {
            var sinks: [Workload.SinkSpec] = []
            for item in items {
                switch item {
                case let .text(uri, _):
                    sinks.append(.init(uri: uri))
                case let .map(sinkMap):
                    guard let uri = try sinkMap.string("uri") else { throw sinkMap.missing("uri", "the sink URI, e.g. kafka://embedded/topic") }
                    var opts: [String: String] = [:]
                    for k in sinkMap.keys where k != "uri" {
                        guard let value = try sinkMap.string(k) else { continue }
                        opts[k] = value
                    }
                    sinks.append(.init(uri: uri, options: opts))
                }
            }
            guard !sinks.isEmpty else { throw root.error(at: "sinks", "the list is empty", remedy: "name at least one sink, e.g. mock://") }
            for sink in sinks where !sink.uri.contains("://") {
                throw root.error(
                    at: "sinks", "'\(sink.uri)' is not a sink URI",
                    remedy: "use mock://, kafka://HOST:PORT/TOPIC, kafka://embedded/TOPIC, clickhouse://…, file://PATH")
            }
            workload.sinks = sinks
        }

        if let probes = try root.map("probes") {
            try probes.expectKeys(["interval", "clickhouse", "table", "rows_table", "poll", "timeout"])
            workload.probes.intervalNanos = try probes.duration("interval", in: intervals) ?? 1_000_000_000
            workload.probes.clickhouse = try probes.string("clickhouse")
            workload.probes.table = try probes.string("table") ?? "k2_probes"
            workload.probes.rowsTable = try probes.string("rows_table") ?? "bronze"
            workload.probes.pollNanos = try probes.duration("poll", in: intervals) ?? 50_000_000
            workload.probes.timeoutNanos = try probes.duration("timeout", in: intervals) ?? 30_000_000_000
        }

        if root.isScalar("consumer") {
            if try root.bool("consumer") == true { workload.consumer = Workload.Consumer() }
        } else if let consumer = try root.map("consumer") {
            try consumer.expectKeys(["brokers", "topic"])
            var cons = Workload.Consumer()
            cons.brokers = try consumer.string("brokers")
            cons.topic = try consumer.string("topic")
            workload.consumer = cons
        }

        if let watch = try root.map("watch") {
            try watch.expectKeys(["processes", "cgroups", "harness", "interval"])
            workload.watch.processes = try watch.strings("processes") ?? []
            workload.watch.cgroups = try watch.strings("cgroups") ?? []
            workload.watch.harness = try watch.bool("harness") ?? true
            workload.watch.intervalNanos = try watch.duration("interval", in: 10_000_000...intervals.upperBound) ?? 1_000_000_000
        }

        if let targetsText = try root.string("targets") {
            let targetsPath = resolve(targetsText, against: file)
            if checkFiles && !FileManager.default.fileExists(atPath: targetsPath) {
                throw root.error(
                    at: "targets", "targets file '\(targetsText)' does not exist", remedy: "check the path, e.g. reports/targets/k2-v2.yaml")
            }
            workload.targets = targetsPath
        }

        workload.repetitions = try root.int("repetitions", in: 1...100) ?? 1
        workload.notTested = try root.strings("not_tested") ?? []

        if let referenceName = try root.string("reference") {
            guard let ref = Workload.Reference(rawValue: referenceName) else {
                throw root.error(at: "reference", "unknown reference '\(referenceName)'", remedy: "known: zstd")
            }
            workload.reference = ref
        }

        if let embedded = try root.map("embedded") {
            try embedded.expectKeys(["broker", "partitions", "clickhouse", "clickhouse_schema", "clickhouse_settings", "brokers"])
            if let cs = try embedded.map("clickhouse_settings") {
                for k in cs.keys {
                    guard let value = try cs.string(k) else { throw cs.error(at: k, "must be a value (number or text)") }
                    guard k.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                        throw cs.error(at: k, "'\(k)' is not a ClickHouse setting name")
                    }
                    workload.embedded.clickhouseSettings[k] = value
                }
            }
            workload.embedded.broker = try embedded.bool("broker")
            workload.embedded.partitions = try embedded.int("partitions", in: 1...256) ?? 4
            workload.embedded.brokers = try embedded.int("brokers", in: 1...16) ?? 1
            workload.embedded.clickhouse = try embedded.bool("clickhouse")
            if let schemaText = try embedded.string("clickhouse_schema") {
                let schemaPath = resolve(schemaText, against: file)
                if checkFiles && !FileManager.default.fileExists(atPath: schemaPath) {
                    throw embedded.error(at: "clickhouse_schema", "SQL file '\(schemaText)' does not exist", remedy: "check the path")
                }
                workload.embedded.clickhouseSchema = schemaPath
            }
        }
        if let queriesSection = try root.map("queries") {
            workload.queries = try queries(queriesSection, file: file, checkFiles: checkFiles)
        }
        if let st = try root.map("storage") {
            try st.expectKeys(["layers", "messages_table", "messages_per_day"])
            var storage = Workload.Storage()
            guard let layers = try st.map("layers") else {
                throw st.missing("layers", "e.g. {bronze: [bronze], silver: [trades], gold: [ohlcv_1m_agg]}")
            }
            for name in layers.keys {
                guard let tables = try layers.strings(name), !tables.isEmpty else { throw layers.missing(name, "the layer's tables, e.g. [bronze]") }
                storage.layers.append(.init(name: name, tables: tables))
            }
            storage.messagesTable = try st.string("messages_table") ?? "bronze"
            if let perDay = try st.map("messages_per_day") {
                for exchange in perDay.keys {
                    guard let text = try perDay.string(exchange), let messages = StrictMap.parseRate(text), messages > 0 else {
                        throw perDay.error(at: exchange, "is not a number of messages per day", remedy: "write e.g. 43.6M or 43_600_000")
                    }
                    storage.messagesPerDay[exchange] = messages
                }
            }
            workload.storage = storage
        }
        if let burstSection = try root.map("burst") {
            workload.burst = try burst(burstSection, workload: workload)
        }
        if let httpSection = try root.map("http") {
            workload.http = try http(httpSection)
        }
        workload.faults = try faults(in: root, durationNanos: workload.durationNanos)
        workload.ledger = try root.bool("ledger")
        return workload
    }

    /// The `http:` section: `requests: {NAME: {url, method, headers, body, rate, status, contains}}` and options.
    static func http(_ h: StrictMap) throws(ConfigError) -> Workload.HTTP {
        try h.expectKeys(["requests", "concurrency", "timeout"])
        var out = Workload.HTTP()
        out.concurrency = try h.int("concurrency", in: 1...256) ?? 4
        out.timeoutNanos = try h.duration("timeout", in: intervals) ?? 10_000_000_000
        guard let requests = try h.map("requests") else {
            throw h.missing("requests", "one entry per request, e.g. api: {url: \"{clickhouse}/ping\", rate: 20}")
        }
        for name in requests.keys {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw requests.error(
                    at: name, "'\(name)' is not a request name", remedy: "use letters, digits and _ (it becomes part of the metric names)")
            }
            guard let entry = try requests.map(name) else { throw requests.missing(name, "a mapping {url: URL, rate: N}") }
            try entry.expectKeys(["url", "method", "headers", "body", "rate", "status", "contains"])
            guard let url = try entry.string("url") else {
                throw entry.missing("url", "e.g. \"{clickhouse}/ping\" or https://api.example.com/v1/trades")
            }
            guard url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("{clickhouse}") else {
                throw entry.error(
                    at: "url", "'\(url)' is not an http:// or https:// URL", remedy: "write e.g. \"{clickhouse}/ping\" or https://host/path")
            }
            guard let rate = try entry.rate("rate", in: rates) else { throw entry.missing("rate", "requests per second, e.g. 20") }
            let body = try entry.string("body")
            let method = (try entry.string("method") ?? (body == nil ? "GET" : "POST")).uppercased()
            guard !method.isEmpty, method.allSatisfy({ $0.isLetter }) else {
                throw entry.error(at: "method", "'\(method)' is not an HTTP method", remedy: "write GET, POST, PUT, DELETE …")
            }
            var request = Workload.HTTPRequest(name: name, url: url, method: method, rate: rate)
            request.body = body
            if let headers = try entry.map("headers") {
                for key in headers.keys {
                    guard let value = try headers.string(key) else { throw headers.error(at: key, "must be a value (text)") }
                    guard !key.isEmpty, !key.contains(":"), !(key + value).contains("\n") else {
                        throw headers.error(at: key, "'\(key)' is not a header name")
                    }
                    request.headers.append("\(key): \(value)")
                }
            }
            request.status = try entry.int("status", in: 100...599) ?? 200
            request.contains = try entry.string("contains")
            out.requests.append(request)
        }
        guard !out.requests.isEmpty else {
            throw h.error(at: "requests", "no request", remedy: "add e.g. api: {url: \"{clickhouse}/ping\", rate: 20}")
        }
        return out
    }

    /// The `burst:` section: `{rate: 60k, at: 10s, for: 3s}` on top of the workload's `rate:`.
    static func burst(_ b: StrictMap, workload w: Workload) throws(ConfigError) -> Workload.Burst {
        try b.expectKeys(["rate", "at", "for"])
        guard case let .rate(base) = w.pace else {
            throw b.error(
                at: "rate", "a burst needs the workload's rate: (the rate before and after the burst)", remedy: "give e.g. rate: 12k at the top level"
            )
        }
        guard let rate = try b.rate("rate", in: rates) else { throw b.missing("rate", "the burst's rate, e.g. 60k") }
        guard rate > base else {
            throw b.error(
                at: "rate", "the burst's \(Units.format(rate)) msg/s is not above the workload's rate \(Units.format(base)) msg/s",
                remedy: "give a higher burst rate")
        }
        guard let at = try b.duration("at", in: runLengths) else { throw b.missing("at", "when the burst starts in the measured window, e.g. 10s") }
        guard let length = try b.duration("for", in: runLengths) else { throw b.missing("for", "how long the burst lasts, e.g. 3s") }
        guard length > 0 else { throw b.error(at: "for", "must be longer than 0") }
        guard at + length <= w.durationNanos else {
            throw b.error(
                at: "for", "the burst ends after the measured window (\(TimeText.humanDuration(nanos: w.durationNanos)))",
                remedy: "start it earlier, make it shorter or the duration longer (leave time to catch up)")
        }
        return Workload.Burst(rate: rate, atNanos: at, lengthNanos: length)
    }

    /// The `queries:` section: `classes: {NAME: {sql: FILE, rate: N, window: DURATION}}` and options.
    static func queries(_ q: StrictMap, file: String, checkFiles: Bool) throws(ConfigError) -> Workload.Queries {
        try q.expectKeys([
            "classes", "concurrency", "seed", "parameters_from", "clickhouse", "database", "timeout", "alone", "protocol", "native_port",
        ])
        var out = Workload.Queries()
        out.concurrency = try q.int("concurrency") ?? 4
        guard (1...256).contains(out.concurrency) else { throw q.error(at: "concurrency", "must be between 1 and 256") }
        let seed = try q.int("seed") ?? 1
        guard seed >= 0 else { throw q.error(at: "seed", "must not be negative") }
        out.seed = UInt64(seed)
        out.parametersFrom = try q.string("parameters_from") ?? "trades"
        out.clickhouse = try q.string("clickhouse")
        out.database = try q.string("database")
        if let name = try q.string("protocol") {
            guard let chosen = Workload.QueryProtocol(rawValue: name) else {
                throw q.error(at: "protocol", "'\(name)' is not a query protocol", remedy: "use http or native")
            }
            out.protocol = chosen
        }
        out.nativePort = try q.int("native_port")
        if let port = out.nativePort, !(1...65535).contains(port) {
            throw q.error(at: "native_port", "must be between 1 and 65535", remedy: "ClickHouse's tcp_port, default 9000")
        }
        out.timeoutNanos = try q.duration("timeout") ?? 30_000_000_000
        guard out.timeoutNanos > 0 else { throw q.error(at: "timeout", "must be longer than 0") }
        out.aloneNanos = try q.duration("alone") ?? 0
        guard out.aloneNanos >= 0 else {
            throw q.error(at: "alone", "must not be negative", remedy: "e.g. alone: 10s (queries alone after ingestion), or leave it out")
        }
        guard let classes = try q.map("classes") else {
            throw q.missing("classes", "one entry per query class, e.g. simple: {sql: queries/v2/simple.sql, rate: 20}")
        }
        for name in classes.keys {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw classes.error(
                    at: name, "'\(name)' is not a class name", remedy: "use letters, digits and _ (it becomes part of the metric names)")
            }
            guard let entry = try classes.map(name) else { throw classes.missing(name, "a mapping {sql: FILE, rate: N}") }
            try entry.expectKeys(["sql", "rate", "window"])
            guard let sql = try entry.string("sql") else { throw entry.missing("sql", "the class's SQL file, e.g. queries/v2/\(name).sql") }
            let path = resolve(sql, against: file)
            if checkFiles && !FileManager.default.fileExists(atPath: path) {
                throw entry.error(
                    at: "sql", "SQL file '\(sql)' does not exist (looked at \(path))",
                    remedy: "check the path (relative paths are from the current folder or the workload's folder)")
            }
            guard let rate = try entry.rate("rate") else { throw entry.missing("rate", "queries per second, e.g. 20") }
            guard rate > 0 else { throw entry.error(at: "rate", "must be more than 0") }
            var cls = Workload.QueryClass(name: name, sql: path, rate: rate)
            cls.windowNanos = try entry.duration("window") ?? cls.windowNanos
            guard cls.windowNanos > 0 else { throw entry.error(at: "window", "must be longer than 0") }
            out.classes.append(cls)
        }
        guard !out.classes.isEmpty else {
            throw q.error(at: "classes", "no query class", remedy: "add e.g. simple: {sql: queries/v2/simple.sql, rate: 20}")
        }
        return out
    }
}
