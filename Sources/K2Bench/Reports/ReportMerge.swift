import Foundation
import K2Core

/// `k2 bench merge`: one report from the reports of shards that ran at the same time
/// (`k2 replay --shard i/N` on N workers). Histograms are merged exactly (counts added, never
/// percentiles averaged); throughput per interval is summed; resources are kept per shard.
public enum ReportMerge {
    public static func merge(_ reports: [BenchReport]) throws -> BenchReport {
        guard let first = reports.first else {
            throw BenchError(.invalidArgument, what: "no reports to merge", remedy: "give two or more run directories")
        }
        let shards = reports.compactMap(\.workload.shard)
        if let dup = shards.first(where: { s in shards.filter { $0 == s }.count > 1 }) {
            throw BenchError(.invalidArgument, what: "two reports are shard \(dup)", remedy: "merge the reports of different shards (k2 bench run --shard i/N, i = 0 … N-1)")
        }
        let reps = reports.map(\.runs.count).min() ?? 0
        var runs: [BenchReport.Run] = []
        for i in 0..<reps {
            let parts = reports.map { $0.runs[i] }
            // Intervals: summed index by index over the shortest shard.
            let n = parts.map(\.intervals.count).min() ?? 0
            var iv: [BenchReport.IntervalPoint] = []
            for k in 0..<n {
                let ps = parts.map { $0.intervals[k] }
                var p = ps[0]
                p.offeredMsgs = ps.map(\.offeredMsgs).reduce(0, +)
                p.sentMsgs = ps.map(\.sentMsgs).reduce(0, +)
                p.deliveredMsgs = ps.flatMap(\.deliveredMsgs)
                p.sentMB = ps.flatMap(\.sentMB)
                p.backlog = ps.flatMap(\.backlog)
                p.consumedMsgs = ps.allSatisfy { $0.consumedMsgs != nil } ? ps.compactMap(\.consumedMsgs).reduce(0, +) : nil
                p.latenessMaxMs = ps.compactMap(\.latenessMaxMs).max()
                p.latenessP99Ms = ps.compactMap(\.latenessP99Ms).max()
                iv.append(p)
            }
            var hist: [String: Histogram] = [:]
            for part in parts {
                for l in part.latencies {
                    let h = try Histogram.decode(base64: l.histogram)
                    if hist[l.key] == nil { hist[l.key] = h } else { hist[l.key]!.add(h) }
                }
            }
            let lat = hist.keys.sorted().map { key -> BenchReport.Latency in
                let kb = key.split(separator: ".").map(String.init)
                return BenchReport.latency(kind: kb[0], basis: kb.count > 1 ? kb[1] : "actual", hist[key]!)
            }
            var resources: [ResourceSeries] = []
            for (s, part) in parts.enumerated() {
                for var r in part.resources {
                    r.name = "shard \(s): " + r.name
                    resources.append(r)
                }
            }
            // Delivered per sink are concatenated per shard; "achieved" is the sum of each shard's slowest sink.
            var metrics = Assembler.metrics(intervals: iv, latencies: hist, resources: resources, sinkCount: parts.map(\.sinks.count).reduce(0, +))
            let achievedPerInterval = (0..<n).map { k in parts.map { p -> Double in
                let x = p.intervals[k]
                return (x.deliveredMsgs.min() ?? x.sentMsgs) / x.seconds
            }.reduce(0, +) }
            if !achievedPerInterval.isEmpty {
                metrics["throughput.achieved.msgs_per_s"] = .init(value: Statistics.mean(achievedPerInterval), unit: "msg/s", better: .higher, samples: achievedPerInterval)
                metrics["throughput.achieved.peak_msgs_per_s"] = .init(value: achievedPerInterval.max() ?? 0, unit: "msg/s", better: .higher)
            }
            runs.append(BenchReport.Run(index: i, startedAt: parts[0].startedAt, measuredSeconds: parts.map(\.measuredSeconds).max() ?? 0,
                                        intervals: iv, latencies: lat, sinks: parts.flatMap(\.sinks), resources: resources, metrics: metrics))
        }
        var w = first.workload
        if first.workload.shard != nil, let r = w.name.range(of: "-shard-", options: .backwards) { w.name = String(w.name[..<r.lowerBound]) }
        w.name += " (merged \(reports.count) shards)"
        w.shard = nil
        w.sinks = reports.flatMap(\.workload.sinks)
        var env = first.environment
        env.hostname = reports.map(\.environment.hostname).joined(separator: ", ")
        env.cpus = reports.map(\.environment.cpus).reduce(0, +)
        env.memoryBytes = reports.map(\.environment.memoryBytes).reduce(0, +)
        env.finishedAt = reports.map(\.environment.finishedAt).max() ?? env.finishedAt
        env.startedAt = reports.map(\.environment.startedAt).min() ?? env.startedAt
        return BenchReport(tool: first.tool, environment: env, workload: w, runs: runs, metrics: try Assembler.combine(runs: runs),
                           reference: nil, notes: reports.flatMap(\.notes) + ["merged from \(reports.count) shard reports; \(reps) repetition(s) each"])
    }
}
