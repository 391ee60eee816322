import Foundation
import K2Core
import K2Replay
import K2Sim

/// `k2 bench run`: a workload through K2Replay's engine (in-process) into the workload's sinks,
/// with the embedded broker when a sink says `kafka://embedded`, and a consumer reading the
/// topic back when `consumer:` is on.
public enum WorkloadRun {
    /// - shard: replay only shard i of N (`--shard i/N`, split as `k2 replay --shard`); a `rate:`
    ///   workload offers rate/N per shard, so the N shards together offer the workload's rate.
    /// - metrics: publish live figures there (`--metrics-port`).
    public static func run(_ workload: Workload, shard: Shard? = nil, metrics: MetricsServer? = nil,
                           progress: ((String) -> Void)? = nil) throws -> BenchRunner.Output {
        var w = workload
        if let shard {
            w.name += "-shard-\(shard.index)of\(shard.count)"
            if case let .rate(r) = w.pace { w.pace = .rate(r / Double(shard.count)) }
        }
        // The embedded broker, when a sink asks for it.
        var broker: EmbeddedBroker?
        let wantsBroker = w.embedded.broker ?? w.sinks.contains { $0.uri.hasPrefix("kafka://embedded") }
        if wantsBroker {
            var conf = EmbeddedBroker.Configuration()
            conf.partitions = w.embedded.partitions
            broker = try EmbeddedBroker(conf)
            progress?("embedded broker on \(broker!.bootstrap)")
        }
        for i in w.sinks.indices where w.sinks[i].uri.hasPrefix("kafka://embedded") {
            guard let broker else { break }
            w.sinks[i].uri = w.sinks[i].uri.replacingOccurrences(of: "kafka://embedded", with: "kafka://" + broker.bootstrap)
        }
        if w.embedded.clickhouse == true || w.probes.intervalNanos > 0 {
            throw BenchError(.run, path: w.path, what: "ClickHouse probes and the embedded ClickHouse are not wired into k2 bench run yet",
                             remedy: "remove probes:/embedded.clickhouse, or run the pipeline by hand (docs/bench.md)")
        }
        let files: [String]
        let loop: Bool
        var generated: String?
        defer { if let generated { unlink(generated) } }
        switch w.source {
        case let .captures(paths, l):
            files = paths
            loop = l
        case let .profile(name, seed):
            // A K2Sim profile (a YAML path, or a name in captures/profiles/) generated before the run, looped.
            let path = name.hasSuffix(".yaml") || name.hasSuffix(".yml") ? name : "captures/profiles/\(name).yaml"
            guard FileManager.default.fileExists(atPath: path) else {
                throw BenchError(.fileNotFound, path: w.path, what: "profile '\(name)' is neither a file nor captures/profiles/\(name).yaml",
                                 remedy: "name a profile YAML (docs/sim-profiles.md) or run from the repository root")
            }
            var profile = try ProfileLoader.load(path: path)
            profile.seed = seed
            let tmp = NSTemporaryDirectory() + "k2-bench-\(getpid())-\(profile.name).k2cap"
            progress?("generating K2Sim profile \(profile.name) (seed \(seed)) into \(tmp)")
            generated = tmp
            _ = try CaptureGenerator(profile: profile).write(path: tmp)
            files = [tmp]
            loop = true
        }
        let pace: Pace
        switch w.pace {
        case let .speed(s): pace = .speed(s)
        case let .rate(r): pace = .rate(r)
        case .max: pace = .max
        }

        let runner = BenchRunner(workload: w)
        runner.progress = progress
        runner.metricsServer = metrics
        let clock = SystemClock()
        var reader: TopicReader?
        let out = try runner.run(makeSinks: { _ in
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
            return SinkSetup(sinks: sinks, latencies: {
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
                return l
            }, consumed: current.map { r in { r.consumed } }, close: {
                let expected = sinks.first { $0.uri.hasPrefix("kafka://") }?.counts.delivered
                current?.stop(expected: expected)
            })
        }, replay: { req in
            var config = ReplayConfig(files: files)
            config.pace = pace
            config.loops = loop ? 1_000_000 : 1
            config.countUnsentOnStop = false
            config.finishTimeoutNanos = 10_000_000_000
            config.shard = shard
            let engine = ReplayEngine(config: config, sinks: req.sinks)
            let total = req.totalNanos
            let stopper = Thread {
                let deadline = clock.monotonicNanos() + total
                while clock.monotonicNanos() < deadline { usleep(20_000) }
                engine.requestStop()
            }
            stopper.start()
            let summary = try engine.runOnDedicatedThread()
            if summary.outcome == .sinkFailed {
                throw BenchError(.run, what: "the replay stopped: \(summary.stopReason ?? "a sink failed")", remedy: "check the sink (broker up, topic exists)")
            }
        })
        _ = broker
        var result = out
        if let shard { result.report.workload.shard = shard.description }
        return result
    }
}
