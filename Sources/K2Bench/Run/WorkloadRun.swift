import Foundation
import K2Capture
import K2Core
import K2Net
import K2Replay
import K2Sim

/// `k2 bench run`: a workload through K2Replay's engine (in-process) into the workload's sinks,
/// with the embedded broker when a sink says `kafka://embedded`, and a consumer reading the
/// topic back when `consumer:` is on.
package enum WorkloadRun {
    /// - shard: replay only shard i of N (`--shard i/N`, split as `k2 replay --shard`); a `rate:`
    ///   workload offers rate/N per shard, so the N shards together offer the workload's rate.
    /// - metrics: publish live figures there (`--metrics-port`).
    /// - startAt: wall-clock ns the first repetition waits for before its set-up and replay
    ///   (`--start-at`, a barrier for shards on several hosts).
    /// - clockReference: HOST:PORT of the shards' clock reference (`--clock-ref`): `startAt` is on its clock.
    package static func run(
        _ workload: Workload, shard: Shard? = nil, metrics: MetricsServer? = nil, startAt: Int64? = nil, clockReference: String? = nil,
        progress: ((String) -> Void)? = nil
    ) throws -> BenchRunner.Output {
        var spec = workload
        if let shard {
            spec.name += "-shard-\(shard.index)of\(shard.count)"
            if case let .rate(rate) = spec.pace { spec.pace = .rate(rate / Double(shard.count)) }
            spec.burst?.rate /= Double(shard.count)
        }
        // The embedded broker, when a sink asks for it.
        var broker: EmbeddedBroker?
        let wantsBroker = spec.embedded.broker ?? spec.sinks.contains { $0.uri.hasPrefix("kafka://embedded") }
        if wantsBroker {
            var conf = EmbeddedBroker.Configuration()
            conf.partitions = spec.embedded.partitions
            conf.brokers = spec.embedded.brokers
            broker = try EmbeddedBroker(conf)
            progress?("embedded broker on \(broker!.bootstrap)")
        }
        for i in spec.sinks.indices where spec.sinks[i].uri.hasPrefix("kafka://embedded") {
            guard let broker else { break }
            spec.sinks[i].uri = spec.sinks[i].uri.replacingOccurrences(of: "kafka://embedded", with: "kafka://" + broker.bootstrap)
        }
        // The embedded ClickHouse (and the pipeline's schema), when the workload asks for it.
        let pipeline = try PipelineSetup(workload: spec, progress: progress)
        let faultTargets = EmbeddedFaults(
            broker: broker, clickhouse: pipeline.server, workloadPath: spec.path, hasExchange: spec.sinks.contains { $0.uri.hasPrefix("ws://") })
        try faultTargets.check(spec.faults)
        let files: [String]
        let source: ReplaySourceFactory?
        let loop: Bool
        switch spec.source {
        case let .captures(paths, looped):
            files = paths
            source = nil
            loop = looped
        case let .profile(name, seed):
            // A K2Sim profile (a YAML path, or a name in captures/profiles/), generated as the engine replays it, looped.
            let path = name.hasSuffix(".yaml") || name.hasSuffix(".yml") ? name : "captures/profiles/\(name).yaml"
            guard FileManager.default.fileExists(atPath: path) else {
                throw BenchError(
                    .fileNotFound, path: spec.path, what: "profile '\(name)' is neither a file nor captures/profiles/\(name).yaml",
                    remedy: "name a profile YAML (docs/sim-profiles.md) or run from the repository root")
            }
            var profile = try ProfileLoader.load(path: path)
            profile.seed = seed
            let generatedProfile = profile
            progress?("replaying K2Sim profile \(generatedProfile.name) (seed \(seed)) as it is generated")
            source = ReplaySourceFactory(name: "k2 sim: profile \(generatedProfile.name), seed \(seed)") {
                try GeneratedReplaySource(generator: CaptureGenerator(profile: generatedProfile))
            }
            files = []
            loop = true
        }
        let pace: Pace
        switch spec.pace {
        case let .speed(speed): pace = .speed(speed)
        case let .rate(rate):
            // A burst phase: the schedule starts with the warm-up, the burst is placed in the measured window.
            pace =
                spec.burst.map { .rates(.burst(base: rate, burst: $0.rate, at: spec.warmupNanos + $0.atNanos, length: $0.lengthNanos)) }
                ?? .rate(rate)
        case .max: pace = .max
        }

        let hasBroker = broker != nil
        let runner = BenchRunner(workload: spec)
        runner.progress = progress
        runner.metricsServer = metrics
        runner.startAtWallNanos = startAt
        runner.clockReference = clockReference
        let clock = SystemClock()
        var reader: TopicReader?
        let out = try runner.run(
            makeSinks: { rep in
                var sinks: [any ReplaySink] = []
                for sinkSpec in spec.sinks {
                    var uri = sinkSpec.uri
                    if !sinkSpec.options.isEmpty {
                        uri +=
                            (uri.contains("?") ? "&" : "?")
                            + sinkSpec.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
                    }
                    sinks.append(try SinkFactory.make(uri))
                }
                let exchanges = sinks.compactMap { $0 as? WebSocketSink }
                faultTargets.exchanges.value = exchanges
                // k2 as the exchange waits for its clients (`?wait=N`) here, before the repetition's
                // clock starts, so the wait is not measured as a window with nothing sent.
                for exchange in exchanges { try exchange.open() }
                if let consumer = spec.consumer {
                    let kafka = spec.sinks.first { $0.uri.hasPrefix("kafka://") }
                    let brokers = consumer.brokers ?? kafka.map { String($0.uri.dropFirst("kafka://".count).prefix { $0 != "?" && $0 != "/" }) }
                    var topic = consumer.topic
                    if topic == nil, let query = kafka?.uri.split(separator: "?", maxSplits: 1).last {
                        for kv in query.split(separator: "&") where kv.hasPrefix("topic=") { topic = String(kv.dropFirst(6)) }
                    }
                    guard let brokers, let topic, !topic.contains("{") else {
                        throw BenchError(
                            .invalidArgument, path: spec.path, what: "the consumer needs one fixed topic (the sink's topic is a template or missing)",
                            remedy: "set consumer: {topic: market.crypto.trades.binance}")
                    }
                    let topicReader = TopicReader(brokers: brokers, topic: topic)
                    try topicReader.start(measureFromWall: clock.wallNanos() + spec.warmupNanos)
                    reader = topicReader
                    usleep(300_000)  // let kcat reach the end offsets before the first message
                }
                let current = reader
                // The ledger (runs with faults): the topic's messages before the repetition.
                let ledgerStart = spec.keepsLedger ? LedgerStart(sinks: spec.sinks) : nil
                let probes = try pipeline.startRepetition(rep, sinks: spec.sinks, warmupNanos: spec.warmupNanos, durationNanos: spec.durationNanos)
                // After the probes start (their run id is known; the reader reads from the topic's beginning).
                let idReader = ledgerStart?.startReading(sink: sinks.first { $0.uri.hasPrefix("kafka://") }, probes: probes)
                let queryStage = try pipeline.startQueries(rep, warmupNanos: spec.warmupNanos, durationNanos: spec.durationNanos)
                let httpStage = try pipeline.startHTTP(rep, warmupNanos: spec.warmupNanos, durationNanos: spec.durationNanos)
                var httpFigures: StageFigures?
                var probeResult: FreshnessProbes.Result?
                var queryFigures: StageFigures?
                var aloneFigures: StageFigures?
                var storageFigures: (metrics: [String: BenchReport.Metric], notes: [String])?
                var ledger: RunLedger?
                // Started by the runner with the replay; its origin places the ledger's first ids.
                let scheduler = spec.faults.isEmpty ? nil : FaultScheduler(faults: spec.faults, injector: faultTargets)
                var setup = SinkSetup(
                    sinks: sinks,
                    latencies: {
                        var latencies: [String: Histogram] = [:]
                        for sink in sinks where sink.uri.hasPrefix("kafka://") || sink.uri.hasPrefix("clickhouse://") || sink.uri.hasPrefix("mock://")
                        {
                            let kind = sink.uri.hasPrefix("kafka://") ? "publish" : sink.uri.hasPrefix("mock://") ? "delivery" : "insert"
                            let st = sink.stats
                            if latencies[kind + ".intended"] == nil {
                                latencies[kind + ".intended"] = st.latencyFromIntended
                                latencies[kind + ".actual"] = st.latencyFromActual
                            } else {
                                latencies[kind + ".intended"]!.add(st.latencyFromIntended)
                                latencies[kind + ".actual"]!.add(st.latencyFromActual)
                            }
                        }
                        if let current { for (k, v) in current.latencies { latencies[k] = v } }
                        if let probes { for (k, v) in probes.latencies { latencies[k] = v } }
                        if let queryFigures { for (k, v) in queryFigures.latencies { latencies[k] = v } }
                        if let aloneFigures { for (k, v) in aloneFigures.latencies { latencies[k] = v } }
                        if let httpFigures { for (k, v) in httpFigures.latencies { latencies[k] = v } }
                        return latencies
                    }, consumed: current.map { r in { r.consumed } },
                    close: {
                        let expected = sinks.first { $0.uri.hasPrefix("kafka://") }?.counts.delivered
                        current?.stop(expected: expected)
                        probeResult = probes?.stop()
                        if let queryStage {
                            let stopped = queryStage.stop()
                            queryFigures = QueryStage.figures(stopped.classes, error: stopped.error)
                        }
                        // After the measured window and the resource sampler: the queries alone (queries.alone).
                        aloneFigures = pipeline.runQueriesAlone(rep)
                        if let httpStage {
                            let stopped = httpStage.stop()
                            httpFigures = HTTPStage.figures(stopped.requests, error: stopped.error)
                        }
                        storageFigures = pipeline.measureStorage(rep)
                        if let ledgerStart, let kafka = sinks.first(where: { $0.uri.hasPrefix("kafka://") }) {
                            ledger = ledgerStart.finish(
                                sink: kafka, reader: idReader?.reader, probes: probes, pipeline: pipeline, rep: rep,
                                measureFromNanos: scheduler?.measureFromNanos, progress: progress)
                        }
                    },
                    notes: {
                        var notes: [String] =
                            (queryFigures?.notes ?? []) + (aloneFigures?.notes ?? []) + (storageFigures?.notes ?? []) + (httpFigures?.notes ?? [])
                            + (ledger?.notes ?? []) + (idReader?.error.map { [$0] } ?? [])
                        guard let probes, let probeSummary = probeResult else { return notes }
                        if probeSummary.lost > 0 {
                            notes.append(
                                "\(probeSummary.lost) of \(probeSummary.sent) freshness probes never became visible in ClickHouse within \(TimeText.humanDuration(nanos: probes.configuration.timeoutNanos))"
                                    + " (probe ids \(probeSummary.lostIDs.map(String.init).joined(separator: ", ")); "
                                    + (probeSummary.undelivered == 0
                                        ? "the broker acknowledged every probe, so the pipeline lost them)"
                                        : "\(probeSummary.undelivered) probes were not acknowledged by the broker: \(probeSummary.undeliveredReasons.prefix(3).joined(separator: "; ")))")
                            )
                        }
                        if let error = probes.lastError { notes.append("freshness probes: \(error)") }
                        return notes
                    })
                if let scheduler {
                    scheduler.progress = progress
                    setup.faults = scheduler
                }
                if let probes { setup.probeTimeline = { probes.timeline() } }
                if let probes, probes.configuration.rowsTable != nil {
                    setup.landed = { probes.landedSinceStart() }
                    setup.landedSink = spec.sinks.firstIndex { $0.uri.hasPrefix("kafka://") } ?? 0
                }
                setup.metrics = {
                    var figures: [String: BenchReport.Metric] = queryFigures?.metrics ?? [:]
                    for (name, metric) in aloneFigures?.metrics ?? [:] { figures[name] = metric }
                    for (name, metric) in storageFigures?.metrics ?? [:] { figures[name] = metric }
                    for (name, metric) in httpFigures?.metrics ?? [:] { figures[name] = metric }
                    for (name, metric) in ledger?.metrics ?? [:] { figures[name] = metric }
                    // Services: the watched processes and cgroups, the harness, the embedded broker.
                    let system = spec.watch.processes.count + spec.watch.cgroups.count + (hasBroker ? 1 : 0)
                    if system > 0 {
                        figures["services.count"] = .init(value: Double(system + (spec.watch.harness ? 1 : 0)), unit: "services", better: .lower)
                    }
                    guard let probeSummary = probeResult else { return figures }
                    if let rows = probeSummary.rowsPerSecond {
                        figures["throughput.clickhouse.rows_per_s"] = .init(value: rows, unit: "rows/s", better: .higher)
                    }
                    figures["freshness.probes.lost"] = .init(value: Double(probeSummary.lost), unit: "probes", better: .lower)
                    if probeSummary.sent > 0 {
                        // Availability: probes answered (visible in ClickHouse) within probes.timeout / probes sent.
                        figures["availability.probes.percent"] = .init(
                            value: Double(probeSummary.answeredInTime) / Double(probeSummary.sent) * 100, unit: "%", better: .higher)
                        figures["availability.probes.sent"] = .init(value: Double(probeSummary.sent), unit: "probes", better: .higher)
                    }
                    return figures
                }
                return setup
            },
            replay: { req in
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
                let summary = try engine.runOnDedicatedThread(progress: req.progress)
                if summary.outcome == .sinkFailed {
                    throw BenchError(
                        .run, what: "the replay stopped: \(summary.stopReason ?? "a sink failed")", remedy: "check the sink (broker up, topic exists)"
                    )
                }
                if summary.outcome == .damagedInput {
                    // The stop reason's place and what (its remedy names replay's --allow-torn, which a workload lacks).
                    let damage = summary.stopReason?.components(separatedBy: " — ").first ?? "a damaged frame"
                    throw BenchError(
                        .run, path: spec.path, what: "the replay stopped at a damaged capture frame: \(damage)",
                        remedy: "replace the capture, or cut the damaged part out with `k2 capture slice` (`k2 capture verify` finds it)")
                }
                if let shard, summary.messages == 0, summary.outcome != .interrupted {
                    throw BenchError(
                        .run, path: spec.path,
                        what: "shard \(shard) replayed no messages: the split (by symbol, else connection) gave it none of the source's",
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
    package static func parseStartTime(_ text: String) -> Int64? {
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
                var configuration = LocalClickHouse.Configuration()
                configuration.settings = w.embedded.clickhouseSettings
                server = try LocalClickHouse(configuration)
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
            throw BenchError(
                .invalidArgument, path: w.path,
                what: "probes need the pipeline's tables in the embedded ClickHouse, and embedded.clickhouse_schema is not set",
                remedy: "set embedded.clickhouse_schema: v2-pipeline.sql (shipped in reports/workloads/)")
        }
    }

    /// Creates the repetition's database from the schema and starts the probes (nil without probes).
    func startRepetition(_ rep: Int, sinks: [Workload.SinkSpec], warmupNanos: Int64, durationNanos: Int64) throws -> FreshnessProbes? {
        guard port != 0 else { return nil }
        let spec = workload
        guard let kafka = sinks.first(where: { $0.uri.hasPrefix("kafka://") }) else {
            throw BenchError(
                .invalidArgument, path: spec.path, what: "a ClickHouse pipeline needs a kafka:// sink (the topic the Kafka engine reads)",
                remedy: "add e.g. kafka://embedded?topic=market.crypto.trades.binance to sinks")
        }
        let brokers = String(kafka.uri.dropFirst("kafka://".count).prefix { $0 != "?" && $0 != "/" })
        var topic: String?
        if let query = kafka.uri.split(separator: "?", maxSplits: 1).dropFirst().first {
            for kv in query.split(separator: "&") where kv.hasPrefix("topic=") { topic = String(kv.dropFirst(6)) }
        }
        guard let topic, !topic.contains("{") else {
            throw BenchError(
                .invalidArgument, path: spec.path, what: "the pipeline needs the Kafka sink's topic fixed (it is a template or missing)",
                remedy: "add ?topic=market.crypto.trades.binance to the kafka:// sink")
        }
        let database = "k2_rep\(rep + 1)"
        if let schemaPath = spec.embedded.clickhouseSchema {
            let schema: ClickHouseSchema
            do { schema = try ClickHouseSchema(path: schemaPath) } catch {
                throw BenchError(.invalidArgument, path: schemaPath, what: "\(error)")
            }
            let group = "k2-bench-\(rep + 1)-\(UInt32.random(in: 0...UInt32.max))"
            do {
                try schema.run(
                    host: host, port: port, database: database, values: ["brokers": brokers, "topic": topic, "group": group, "database": database])
            } catch {
                throw BenchError(.run, path: schemaPath, what: "\(error)", remedy: "fix the schema file")
            }
        }
        guard spec.probes.intervalNanos > 0 else { return nil }
        var configuration = FreshnessProbes.Configuration(brokers: brokers, topic: topic, port: port)
        configuration.host = host
        configuration.database = spec.embedded.clickhouseSchema != nil ? database : "default"
        configuration.table = spec.probes.table
        configuration.rowsTable = spec.probes.rowsTable
        configuration.intervalNanos = spec.probes.intervalNanos
        configuration.pollNanos = spec.probes.pollNanos
        configuration.timeoutNanos = spec.probes.timeoutNanos
        let probes: FreshnessProbes
        do {
            probes = try FreshnessProbes(configuration)
            progress?("waiting until the pipeline delivers into ClickHouse (a first probe) …")
            let secs = try probes.waitUntilFlowing()
            progress?("pipeline flowing after \(String(format: "%.1f", secs)) s")
        } catch let benchError as BenchError {
            throw benchError
        } catch {
            throw BenchError(
                .run, path: spec.path, what: "freshness probes: \(error)", remedy: "check the pipeline's schema (clickhouse_schema) and the broker")
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
            throw BenchError(
                .invalidArgument, path: workload.path, what: "\(key) '\(url)' is not http://HOST:PORT", remedy: "e.g. http://127.0.0.1:8123")
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
        return try startQueries(queries, rep, warmupNanos: warmupNanos, durationNanos: durationNanos)
    }

    /// `queries.alone`: once the replay stopped, the query classes again for that long with no
    /// ingestion (the query-only case); blocks until they ran. Nil without it.
    func runQueriesAlone(_ rep: Int) -> StageFigures? {
        guard let queries = workload.queries, queries.aloneNanos > 0 else { return nil }
        progress?("queries alone after ingestion for \(TimeText.humanDuration(nanos: queries.aloneNanos)) …")
        do {
            let stage = try startQueries(queries, rep, warmupNanos: 0, durationNanos: queries.aloneNanos)
            let clock = SystemClock()
            let end = clock.monotonicNanos() + queries.aloneNanos
            while clock.monotonicNanos() < end { usleep(UInt32(min(100_000, max(1_000, (end - clock.monotonicNanos()) / 1_000)))) }
            let stopped = stage.stop()
            return QueryStage.figures(stopped.classes, error: stopped.error, alone: true)
        } catch {
            return QueryStage.figures([], error: "\(error)", alone: true)
        }
    }

    private func startQueries(_ queries: Workload.Queries, _ rep: Int, warmupNanos: Int64, durationNanos: Int64) throws -> QueryStage {
        var (queryHost, queryPort) = (host, port)
        var (user, password): (String?, String?) = (nil, nil)
        if var url = queries.clickhouse {
            // user:password@ in the URL, like a clickhouse:// sink's (never printed: SinkURI registers the password).
            if url.contains("@") {
                let parsed = try SinkURI(parsing: url)
                (user, password) = (parsed.user, parsed.password)
                url = "http://" + parsed.authority + parsed.path
            }
            (queryHost, queryPort) = try Self.hostPort(url, key: "queries.clickhouse", workload: workload)
        }
        guard queryPort != 0 else {
            throw BenchError(
                .invalidArgument, path: workload.path, what: "queries need a ClickHouse server and none is set",
                remedy: "set queries.clickhouse: http://HOST:PORT or embedded.clickhouse: true")
        }
        var configuration = QueryStage.Configuration(host: queryHost, port: queryPort, database: queries.database ?? database(rep), queries: queries)
        configuration.nativePort = queries.nativePort ?? (queries.clickhouse == nil ? server?.tcpPort : nil) ?? 9000
        (configuration.user, configuration.password) = (user, password)
        let stage = try QueryStage(configuration)
        let now = SystemClock().wallNanos()
        stage.start(measureFromWall: now + warmupNanos, measureToWall: now + warmupNanos + durationNanos)
        progress?(
            "query stage: " + queries.classes.map { "\($0.name) \(Units.format($0.rate))/s" }.joined(separator: ", ")
                + ", at most \(queries.concurrency) in flight"
                + (queries.protocol == .native ? ", native protocol on port \(configuration.nativePort)" : ""))
        return stage
    }
}
