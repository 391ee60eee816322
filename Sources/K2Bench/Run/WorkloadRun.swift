import Foundation
import K2Capture
import K2Core
import K2Net
import K2Replay
import K2Sim

/// `k2 bench run`: a workload through K2Replay's engine (in-process) into the workload's sinks,
/// with the embedded broker when a sink says `kafka://embedded`, and a consumer reading the
/// topic back when `consumer:` is on.
public enum WorkloadRun {
    /// - shard: replay only shard i of N (`--shard i/N`, split as `k2 replay --shard`); a `rate:`
    ///   workload offers rate/N per shard, so the N shards together offer the workload's rate.
    /// - metrics: publish live figures there (`--metrics-port`).
    /// - startAt: wall-clock ns the first repetition waits for before its set-up and replay
    ///   (`--start-at`, a barrier for shards on several hosts).
    public static func run(_ workload: Workload, shard: Shard? = nil, metrics: MetricsServer? = nil, startAt: Int64? = nil,
                           progress: ((String) -> Void)? = nil) throws -> BenchRunner.Output {
        var w = workload
        if let shard {
            w.name += "-shard-\(shard.index)of\(shard.count)"
            if case let .rate(r) = w.pace { w.pace = .rate(r / Double(shard.count)) }
            w.burst?.rate /= Double(shard.count)
        }
        // The embedded broker, when a sink asks for it.
        var broker: EmbeddedBroker?
        let wantsBroker = w.embedded.broker ?? w.sinks.contains { $0.uri.hasPrefix("kafka://embedded") }
        if wantsBroker {
            var conf = EmbeddedBroker.Configuration()
            conf.partitions = w.embedded.partitions
            conf.brokers = w.embedded.brokers
            broker = try EmbeddedBroker(conf)
            progress?("embedded broker on \(broker!.bootstrap)")
        }
        for i in w.sinks.indices where w.sinks[i].uri.hasPrefix("kafka://embedded") {
            guard let broker else { break }
            w.sinks[i].uri = w.sinks[i].uri.replacingOccurrences(of: "kafka://embedded", with: "kafka://" + broker.bootstrap)
        }
        // The embedded ClickHouse (and the pipeline's schema), when the workload asks for it.
        let pipeline = try PipelineSetup(workload: w, progress: progress)
        let faultTargets = EmbeddedFaults(broker: broker, clickhouse: pipeline.server, workloadPath: w.path)
        try faultTargets.check(w.faults)
        let files: [String]
        let source: ReplaySourceFactory?
        let loop: Bool
        switch w.source {
        case let .captures(paths, l):
            files = paths
            source = nil
            loop = l
        case let .profile(name, seed):
            // A K2Sim profile (a YAML path, or a name in captures/profiles/), generated as the engine replays it, looped.
            let path = name.hasSuffix(".yaml") || name.hasSuffix(".yml") ? name : "captures/profiles/\(name).yaml"
            guard FileManager.default.fileExists(atPath: path) else {
                throw BenchError(.fileNotFound, path: w.path, what: "profile '\(name)' is neither a file nor captures/profiles/\(name).yaml",
                                 remedy: "name a profile YAML (docs/sim-profiles.md) or run from the repository root")
            }
            var profile = try ProfileLoader.load(path: path)
            profile.seed = seed
            let p = profile
            progress?("replaying K2Sim profile \(p.name) (seed \(seed)) as it is generated")
            source = ReplaySourceFactory(name: "k2 sim: profile \(p.name), seed \(seed)") {
                try GeneratedReplaySource(generator: CaptureGenerator(profile: p))
            }
            files = []
            loop = true
        }
        let pace: Pace
        switch w.pace {
        case let .speed(s): pace = .speed(s)
        case let .rate(r):
            // A burst phase: the schedule starts with the warm-up, the burst is placed in the measured window.
            pace = w.burst.map { .rates(.burst(base: r, burst: $0.rate, at: w.warmupNanos + $0.atNanos, length: $0.lengthNanos)) } ?? .rate(r)
        case .max: pace = .max
        }

        let hasBroker = broker != nil
        let runner = BenchRunner(workload: w)
        runner.progress = progress
        runner.metricsServer = metrics
        runner.startAtWallNanos = startAt
        let clock = SystemClock()
        var reader: TopicReader?
        let out = try runner.run(makeSinks: { rep in
            var sinks: [any ReplaySink] = []
            for s in w.sinks {
                var uri = s.uri
                if !s.options.isEmpty {
                    uri += (uri.contains("?") ? "&" : "?") + s.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
                }
                sinks.append(try SinkFactory.make(uri))
            }
            if let c = w.consumer {
                let kafka = w.sinks.first { $0.uri.hasPrefix("kafka://") }
                let brokers = c.brokers ?? kafka.map { String($0.uri.dropFirst("kafka://".count).prefix { $0 != "?" && $0 != "/" }) }
                var topic = c.topic
                if topic == nil, let q = kafka?.uri.split(separator: "?", maxSplits: 1).last {
                    for kv in q.split(separator: "&") where kv.hasPrefix("topic=") { topic = String(kv.dropFirst(6)) }
                }
                guard let brokers, let topic, !topic.contains("{") else {
                    throw BenchError(.invalidArgument, path: w.path, what: "the consumer needs one fixed topic (the sink's topic is a template or missing)",
                                     remedy: "set consumer: {topic: market.crypto.trades.binance}")
                }
                let r = TopicReader(brokers: brokers, topic: topic)
                try r.start(measureFromWall: clock.wallNanos() + w.warmupNanos)
                reader = r
                usleep(300_000)   // let kcat reach the end offsets before the first message
            }
            let current = reader
            // The ledger (runs with faults): the topic's messages before the repetition.
            let ledgerStart = w.faults.isEmpty ? nil : LedgerStart(sinks: w.sinks)
            let probes = try pipeline.startRepetition(rep, sinks: w.sinks, warmupNanos: w.warmupNanos, durationNanos: w.durationNanos)
            let queryStage = try pipeline.startQueries(rep, warmupNanos: w.warmupNanos, durationNanos: w.durationNanos)
            let httpStage = try pipeline.startHTTP(rep, warmupNanos: w.warmupNanos, durationNanos: w.durationNanos)
            var httpFigures: (latencies: [String: Histogram], metrics: [String: BenchReport.Metric], notes: [String])?
            var probeResult: FreshnessProbes.Result?
            var queryFigures: (latencies: [String: Histogram], metrics: [String: BenchReport.Metric], notes: [String])?
            var storageFigures: (metrics: [String: BenchReport.Metric], notes: [String])?
            var ledger: RunLedger?
            var setup = SinkSetup(sinks: sinks, latencies: {
                var l: [String: Histogram] = [:]
                for s in sinks where s.uri.hasPrefix("kafka://") || s.uri.hasPrefix("clickhouse://") || s.uri.hasPrefix("mock://") {
                    let kind = s.uri.hasPrefix("kafka://") ? "publish" : s.uri.hasPrefix("mock://") ? "delivery" : "insert"
                    let st = s.stats
                    if l[kind + ".intended"] == nil {
                        l[kind + ".intended"] = st.latencyFromIntended
                        l[kind + ".actual"] = st.latencyFromActual
                    } else {
                        l[kind + ".intended"]!.add(st.latencyFromIntended)
                        l[kind + ".actual"]!.add(st.latencyFromActual)
                    }
                }
                if let current { for (k, v) in current.latencies { l[k] = v } }
                if let probes { for (k, v) in probes.latencies { l[k] = v } }
                if let queryFigures { for (k, v) in queryFigures.latencies { l[k] = v } }
                if let httpFigures { for (k, v) in httpFigures.latencies { l[k] = v } }
                return l
            }, consumed: current.map { r in { r.consumed } }, close: {
                let expected = sinks.first { $0.uri.hasPrefix("kafka://") }?.counts.delivered
                current?.stop(expected: expected)
                probeResult = probes?.stop()
                if let queryStage {
                    let stopped = queryStage.stop()
                    queryFigures = QueryStage.figures(stopped.classes, error: stopped.error)
                }
                if let httpStage {
                    let stopped = httpStage.stop()
                    httpFigures = HTTPStage.figures(stopped.requests, error: stopped.error)
                }
                storageFigures = pipeline.measureStorage(rep)
                if let ledgerStart, let kafka = sinks.first(where: { $0.uri.hasPrefix("kafka://") }) {
                    ledger = ledgerStart.finish(sink: kafka, probes: probes?.acknowledged ?? 0, pipeline: pipeline, rep: rep, progress: progress)
                }
            }, notes: {
                var n: [String] = (queryFigures?.notes ?? []) + (storageFigures?.notes ?? []) + (httpFigures?.notes ?? []) + (ledger?.notes ?? [])
                guard let probes, let r = probeResult else { return n }
                if r.lost > 0 {
                    n.append("\(r.lost) of \(r.sent) freshness probes never became visible in ClickHouse within \(TimeText.humanDuration(nanos: probes.configuration.timeoutNanos))"
                        + " (probe ids \(r.lostIDs.map(String.init).joined(separator: ", ")); "
                        + (r.undelivered == 0 ? "the broker acknowledged every probe, so the pipeline lost them)"
                                              : "\(r.undelivered) probes were not acknowledged by the broker: \(r.undeliveredReasons.prefix(3).joined(separator: "; ")))"))
                }
                if let e = probes.lastError { n.append("freshness probes: \(e)") }
                return n
            })
            if !w.faults.isEmpty {
                let scheduler = FaultScheduler(faults: w.faults, injector: faultTargets)
                scheduler.progress = progress
                setup.faults = scheduler
            }
            if let probes, probes.configuration.rowsTable != nil {
                setup.landed = { probes.landedSinceStart() }
                setup.landedSink = w.sinks.firstIndex { $0.uri.hasPrefix("kafka://") } ?? 0
            }
            setup.metrics = {
                var m: [String: BenchReport.Metric] = queryFigures?.metrics ?? [:]
                for (name, metric) in storageFigures?.metrics ?? [:] { m[name] = metric }
                for (name, metric) in httpFigures?.metrics ?? [:] { m[name] = metric }
                for (name, metric) in ledger?.metrics ?? [:] { m[name] = metric }
                // Services: the watched processes and cgroups, the harness, the embedded broker.
                let system = w.watch.processes.count + w.watch.cgroups.count + (hasBroker ? 1 : 0)
                if system > 0 {
                    m["services.count"] = .init(value: Double(system + (w.watch.harness ? 1 : 0)), unit: "services", better: .lower)
                }
                guard let r = probeResult else { return m }
                if let rows = r.rowsPerSecond {
                    m["throughput.clickhouse.rows_per_s"] = .init(value: rows, unit: "rows/s", better: .higher)
                }
                m["freshness.probes.lost"] = .init(value: Double(r.lost), unit: "probes", better: .lower)
                if r.sent > 0 {
                    // Availability: probes answered (visible in ClickHouse) within probes.timeout / probes sent.
                    m["availability.probes.percent"] = .init(value: Double(r.answeredInTime) / Double(r.sent) * 100, unit: "%", better: .higher)
                    m["availability.probes.sent"] = .init(value: Double(r.sent), unit: "probes", better: .higher)
                }
                return m
            }
            return setup
        }, replay: { req in
            var config = source.map { ReplayConfig(source: $0) } ?? ReplayConfig(files: files)
            config.pace = pace
            config.loops = loop ? 1_000_000 : 1
            config.countUnsentOnStop = false
            config.finishTimeoutNanos = 10_000_000_000
            config.shard = shard
            let engine = ReplayEngine(config: config, sinks: req.sinks)
            let total = req.totalNanos
            let runEnded = Latch<Void>()
            let stopper = JoinableThread.start {
                if runEnded.wait(timeoutNanos: total) == nil { engine.requestStop() }
            }
            defer {
                runEnded.set()
                stopper?.join()
            }
            let summary = try engine.runOnDedicatedThread()
            if summary.outcome == .sinkFailed {
                throw BenchError(.run, what: "the replay stopped: \(summary.stopReason ?? "a sink failed")", remedy: "check the sink (broker up, topic exists)")
            }
            if let shard, summary.messages == 0, summary.outcome != .interrupted {
                throw BenchError(.run, path: w.path, what: "shard \(shard) replayed no messages: the split (by symbol, else connection) gave it none of the source's",
                                 remedy: "use fewer shards, or a source with more symbols (e.g. profile: steady-138, 200 symbols)")
            }
            return summary
        })
        _ = broker
        pipeline.stop()
        var result = out
        if let shard { result.report.workload.shard = shard.description }
        return result
    }
}

extension WorkloadRun {
    /// `--start-at`: `@UNIX_SECONDS` (fractions allowed) or an ISO 8601 UTC time
    /// (`2026-12-06T10:00:00Z`); wall-clock ns, nil when it is neither.
    public static func parseStartTime(_ text: String) -> Int64? {
        if text.hasPrefix("@") {
            guard let seconds = Double(text.dropFirst()), seconds > 0, seconds < 1e11 else { return nil }
            return Int64((seconds * 1e9).rounded())
        }
        return TimeText.parseISO8601(text)
    }
}

/// The ClickHouse side of a pipeline workload: the embedded server (`embedded.clickhouse`), the
/// schema run once per repetition in a database of its own (`k2_rep1`, … with a fresh Kafka
/// consumer group), and the freshness probes, which wait until the pipeline delivers before the
/// repetition starts.
final class PipelineSetup {
    let workload: Workload
    let server: LocalClickHouse?
    let host: String
    let port: Int
    let progress: ((String) -> Void)?

    init(workload w: Workload, progress: ((String) -> Void)?) throws {
        workload = w
        self.progress = progress
        let queriesNeedIt = w.queries.map { $0.clickhouse == nil } ?? false
        let wantsServer = w.embedded.clickhouse ?? ((w.probes.intervalNanos > 0 || queriesNeedIt) && w.probes.clickhouse == nil)
        if wantsServer {
            progress?("starting the embedded ClickHouse …")
            do {
                var c = LocalClickHouse.Configuration()
                c.settings = w.embedded.clickhouseSettings
                server = try LocalClickHouse(c)
            } catch {
                throw BenchError(.run, path: w.path, what: "the embedded ClickHouse did not start: \(error)", remedy: "run scripts/install-deps.sh")
            }
            host = "127.0.0.1"
            port = server!.httpPort
            progress?("embedded ClickHouse on \(server!.httpURL) (pid \(server!.pid))")
        } else if let url = w.probes.clickhouse {
            server = nil
            let address = try Self.hostPort(url, key: "probes.clickhouse", workload: w)
            host = address.0
            port = address.1
        } else {
            server = nil
            host = ""
            port = 0
        }
        if port != 0 && w.probes.intervalNanos > 0 && w.embedded.clickhouseSchema == nil && server != nil {
            throw BenchError(.invalidArgument, path: w.path, what: "probes need the pipeline's tables in the embedded ClickHouse, and embedded.clickhouse_schema is not set",
                             remedy: "set embedded.clickhouse_schema: v2-pipeline.sql (shipped in reports/workloads/)")
        }
    }

    /// Creates the repetition's database from the schema and starts the probes (nil without probes).
    func startRepetition(_ rep: Int, sinks: [Workload.SinkSpec], warmupNanos: Int64, durationNanos: Int64) throws -> FreshnessProbes? {
        guard port != 0 else { return nil }
        let w = workload
        guard let kafka = sinks.first(where: { $0.uri.hasPrefix("kafka://") }) else {
            throw BenchError(.invalidArgument, path: w.path, what: "a ClickHouse pipeline needs a kafka:// sink (the topic the Kafka engine reads)",
                             remedy: "add e.g. kafka://embedded?topic=market.crypto.trades.binance to sinks")
        }
        let brokers = String(kafka.uri.dropFirst("kafka://".count).prefix { $0 != "?" && $0 != "/" })
        var topic: String?
        if let q = kafka.uri.split(separator: "?", maxSplits: 1).dropFirst().first {
            for kv in q.split(separator: "&") where kv.hasPrefix("topic=") { topic = String(kv.dropFirst(6)) }
        }
        guard let topic, !topic.contains("{") else {
            throw BenchError(.invalidArgument, path: w.path, what: "the pipeline needs the Kafka sink's topic fixed (it is a template or missing)",
                             remedy: "add ?topic=market.crypto.trades.binance to the kafka:// sink")
        }
        let database = "k2_rep\(rep + 1)"
        if let schemaPath = w.embedded.clickhouseSchema {
            let schema: ClickHouseSchema
            do { schema = try ClickHouseSchema(path: schemaPath) } catch {
                throw BenchError(.invalidArgument, path: schemaPath, what: "\(error)")
            }
            let group = "k2-bench-\(rep + 1)-\(UInt32.random(in: 0...UInt32.max))"
            do {
                try schema.run(host: host, port: port, database: database, values: ["brokers": brokers, "topic": topic, "group": group, "database": database])
            } catch {
                throw BenchError(.run, path: schemaPath, what: "\(error)", remedy: "fix the schema file")
            }
        }
        guard w.probes.intervalNanos > 0 else { return nil }
        var c = FreshnessProbes.Configuration(brokers: brokers, topic: topic, port: port)
        c.host = host
        c.database = w.embedded.clickhouseSchema != nil ? database : "default"
        c.table = w.probes.table
        c.rowsTable = w.probes.rowsTable
        c.intervalNanos = w.probes.intervalNanos
        c.pollNanos = w.probes.pollNanos
        c.timeoutNanos = w.probes.timeoutNanos
        let probes: FreshnessProbes
        do {
            probes = try FreshnessProbes(c)
            progress?("waiting until the pipeline delivers into ClickHouse (a first probe) …")
            let secs = try probes.waitUntilFlowing()
            progress?("pipeline flowing after \(String(format: "%.1f", secs)) s")
        } catch let e as BenchError {
            throw e
        } catch {
            throw BenchError(.run, path: w.path, what: "freshness probes: \(error)", remedy: "check the pipeline's schema (clickhouse_schema) and the broker")
        }
        let now = SystemClock().wallNanos()
        probes.start(measureFromWall: now + warmupNanos, measureToWall: now + warmupNanos + durationNanos)
        return probes
    }

    func stop() { server?.stop() }

    /// `http://HOST:PORT[/…]` → (HOST, PORT); an error naming `key` otherwise.
    static func hostPort(_ url: String, key: String, workload: Workload) throws -> (String, Int) {
        let address = url.replacingOccurrences(of: "http://", with: "").split(separator: "/").first.map(String.init) ?? url
        let parts = address.split(separator: ":")
        guard parts.count == 2, let portNumber = Int(parts[1]) else {
            throw BenchError(.invalidArgument, path: workload.path, what: "\(key) '\(url)' is not http://HOST:PORT", remedy: "e.g. http://127.0.0.1:8123")
        }
        return (String(parts[0]), portNumber)
    }

    /// The repetition's database on the pipeline's server: `k2_repN` when the schema runs, else `default`.
    func database(_ rep: Int) -> String {
        port != 0 && workload.embedded.clickhouseSchema != nil ? "k2_rep\(rep + 1)" : "default"
    }

    /// Storage and compression of the repetition's tables from `system.parts` (nil without
    /// `storage:`); a failure to read them is a note, not a failed run.
    func measureStorage(_ rep: Int) -> (metrics: [String: BenchReport.Metric], notes: [String])? {
        guard let storage = workload.storage else { return nil }
        guard port != 0 else { return ([:], ["storage: no ClickHouse server to read system.parts from"]) }
        do {
            let tables = try StorageAccounting.tables(host: host, port: port, database: database(rep))
            var perDay = storage.messagesPerDay
            var ratio: Double?
            if case let .captures(paths, _) = workload.source {
                if perDay.isEmpty { perDay = try StorageAccounting.messagesPerDay(captures: paths) }
                ratio = try StorageAccounting.captureRatio(captures: paths)
            }
            return StorageAccounting.metrics(tables: tables, storage: storage, messagesPerDay: perDay, captureRatio: ratio)
        } catch {
            return ([:], ["storage: could not be measured: \(error)"])
        }
    }

    /// Starts the workload's query stage for repetition `rep` (nil without `queries:`): it runs
    /// in the repetition's pipeline database unless `queries.database` names another, during the
    /// measured window, while the replay feeds the pipeline.
    func startQueries(_ rep: Int, warmupNanos: Int64, durationNanos: Int64) throws -> QueryStage? {
        guard let queries = workload.queries else { return nil }
        var (queryHost, queryPort) = (host, port)
        if let url = queries.clickhouse { (queryHost, queryPort) = try Self.hostPort(url, key: "queries.clickhouse", workload: workload) }
        guard queryPort != 0 else {
            throw BenchError(.invalidArgument, path: workload.path, what: "queries need a ClickHouse server and none is set",
                             remedy: "set queries.clickhouse: http://HOST:PORT or embedded.clickhouse: true")
        }
        let stage = try QueryStage(.init(host: queryHost, port: queryPort, database: queries.database ?? database(rep), queries: queries))
        let now = SystemClock().wallNanos()
        stage.start(measureFromWall: now + warmupNanos, measureToWall: now + warmupNanos + durationNanos)
        progress?("query stage: " + queries.classes.map { "\($0.name) \(Units.format($0.rate))/s" }.joined(separator: ", ")
                  + ", at most \(queries.concurrency) in flight")
        return stage
    }
}
