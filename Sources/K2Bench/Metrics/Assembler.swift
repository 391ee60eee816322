import K2Core

/// Turns what a repetition recorded into report metrics (names listed in docs/bench.md), and
/// repetitions into the report's top-level metrics.
package enum Assembler {
    /// Latency histograms of one repetition, keyed `kind.basis` (`publish.intended`), nanoseconds.
    package typealias Latencies = [String: Histogram]

    /// The metrics of one repetition.
    package static func metrics(
        intervals: [BenchReport.IntervalPoint], latencies: Latencies, resources: [ResourceSeries],
        sinkCount: Int
    ) -> [String: BenchReport.Metric] {
        var result: [String: BenchReport.Metric] = [:]
        let iv = intervals.filter { $0.seconds > 0 }
        if !iv.isEmpty {
            let secs = iv.map(\.seconds).reduce(0, +)
            let offered = iv.map { $0.offeredMsgs / $0.seconds }
            let sent = iv.map { $0.sentMsgs / $0.seconds }
            // Achieved: what the slowest sink acknowledged (a sink that lags holds the pipeline back).
            let achieved = iv.map { p in (p.deliveredMsgs.min() ?? p.sentMsgs) / p.seconds }
            let mb = iv.map { p in (p.sentMB.max() ?? 0) / p.seconds }
            result["throughput.offered.msgs_per_s"] = .init(
                value: iv.map(\.offeredMsgs).reduce(0, +) / secs, unit: "msg/s", better: .higher, samples: offered)
            result["throughput.sent.msgs_per_s"] = .init(value: iv.map(\.sentMsgs).reduce(0, +) / secs, unit: "msg/s", better: .higher, samples: sent)
            result["throughput.achieved.msgs_per_s"] = .init(
                value: iv.map { $0.deliveredMsgs.min() ?? $0.sentMsgs }.reduce(0, +) / secs,
                unit: "msg/s", better: .higher, samples: achieved)
            result["throughput.achieved.peak_msgs_per_s"] = .init(value: achieved.max() ?? 0, unit: "msg/s", better: .higher)
            result["throughput.achieved.mb_per_s"] = .init(
                value: iv.map { $0.sentMB.max() ?? 0 }.reduce(0, +) / secs, unit: "MB/s", better: .higher, samples: mb)
            let consumed = iv.compactMap { p in p.consumedMsgs.map { $0 / p.seconds } }
            if consumed.count == iv.count {
                result["throughput.consumer.msgs_per_s"] = .init(
                    value: iv.compactMap(\.consumedMsgs).reduce(0, +) / secs, unit: "msg/s", better: .higher, samples: consumed)
            }
            if iv.allSatisfy({ $0.landedRows != nil }) {
                result["throughput.clickhouse.rows_per_s"] = .init(
                    value: iv.compactMap(\.landedRows).reduce(0, +) / secs, unit: "rows/s", better: .higher,
                    samples: iv.map { $0.landedRows! / $0.seconds })
            }
            if let behind = iv.last?.clickhouseBehind {
                result["backlog.clickhouse.end.rows"] = .init(value: behind, unit: "rows", better: .lower)
                result["backlog.clickhouse.max.rows"] = .init(value: iv.compactMap(\.clickhouseBehind).max() ?? behind, unit: "rows", better: .lower)
            }
            if let last = iv.last, !last.backlog.isEmpty {
                result["backlog.end.messages"] = .init(value: last.backlog.max() ?? 0, unit: "messages", better: .lower)
            }
        }
        for (key, histogram) in latencies where histogram.totalCount > 0 {
            for (label, value) in BenchReport.percentilesMs(histogram) {
                result["latency.\(key).\(label)"] = .init(value: value, unit: "ms", better: .lower)
            }
        }
        let sut = resources.filter { $0.kind != "harness" }
        if let total = sum(sut) {
            result["resources.sut.cpu_cores.mean"] = .init(
                value: total.meanCores, unit: "cores", better: .lower, samples: total.samples.map(\.cpuCores))
            result["resources.sut.cpu_cores.peak"] = .init(value: total.peakCores, unit: "cores", better: .lower)
            result["resources.sut.memory_bytes.mean"] = .init(value: total.meanMemory, unit: "B", better: .lower)
            result["resources.sut.memory_bytes.peak"] = .init(value: Double(total.peakMemory), unit: "B", better: .lower)
        }
        if let harness = resources.first(where: { $0.kind == "harness" }), !harness.samples.isEmpty {
            result["resources.harness.cpu_cores.mean"] = .init(
                value: harness.meanCores, unit: "cores", better: .lower, samples: harness.samples.map(\.cpuCores))
            result["resources.harness.memory_bytes.peak"] = .init(value: Double(harness.peakMemory), unit: "B", better: .lower)
            if let rate = result["throughput.sent.msgs_per_s"]?.value, rate > 0 {
                result["resources.harness.cpu_us_per_msg"] = .init(value: harness.meanCores / rate * 1e6, unit: "us", better: .lower)
            }
        }
        // Drift over a long run (a soak): least-squares change per hour of memory and CPU.
        for (name, series) in [("sut", sum(sut)), ("harness", resources.first { $0.kind == "harness" })] {
            guard let series, let memory = slopePerHour(series.samples.map { ($0.t, Double($0.memoryBytes)) }),
                let cpu = slopePerHour(series.samples.map { ($0.t, $0.cpuCores) })
            else { continue }
            result["resources.\(name).memory_bytes.slope_per_h"] = .init(value: memory, unit: "B", better: .lower)
            result["resources.\(name).cpu_cores.slope_per_h"] = .init(value: cpu, unit: "cores", better: .lower)
        }
        if let rate = result["throughput.sent.msgs_per_s"]?.value, rate > 0, let cores = result["resources.sut.cpu_cores.mean"]?.value {
            result["resources.sut.cpu_us_per_msg"] = .init(value: cores / rate * 1e6, unit: "us", better: .lower)
        }
        // The whole cost of a message here: the harness (the feed handlers' stand-in) and the system under test.
        let perMessage = [result["resources.sut.cpu_us_per_msg"], result["resources.harness.cpu_us_per_msg"]].compactMap { $0?.value }
        if !perMessage.isEmpty {
            result["resources.total.cpu_us_per_msg"] = .init(value: perMessage.reduce(0, +), unit: "us", better: .lower)
        }
        return result
    }

    /// The least-squares slope of (seconds, value) points, per hour; nil under 10 points or
    /// 10 s (too short to call a drift).
    static func slopePerHour(_ points: [(seconds: Double, value: Double)]) -> Double? {
        guard points.count >= 10, let first = points.first, let last = points.last, last.seconds - first.seconds >= 10 else { return nil }
        let count = Double(points.count)
        let meanSeconds = points.reduce(0) { $0 + $1.seconds } / count
        let meanValue = points.reduce(0) { $0 + $1.value } / count
        let covariance = points.reduce(0) { $0 + ($1.seconds - meanSeconds) * ($1.value - meanValue) }
        let variance = points.reduce(0) { $0 + ($1.seconds - meanSeconds) * ($1.seconds - meanSeconds) }
        return variance > 0 ? covariance / variance * 3600 : nil
    }

    /// Series summed sample by sample (the system under test as one total).
    static func sum(_ series: [ResourceSeries]) -> ResourceSeries? {
        guard let sampleCount = series.map(\.samples.count).min(), sampleCount > 0 else { return nil }
        var out: [ResourceSample] = []
        for i in 0..<sampleCount {
            out.append(
                ResourceSample(
                    t: series[0].samples[i].t, cpuCores: series.map { $0.samples[i].cpuCores }.reduce(0, +),
                    memoryBytes: series.map { $0.samples[i].memoryBytes }.reduce(0, +),
                    processes: series.map { $0.samples[i].processes }.reduce(0, +)))
        }
        return ResourceSeries(name: "system under test", kind: "total", samples: out)
    }

    /// Top-level metrics: latency percentiles from the histograms merged over repetitions (exact),
    /// everything else the median of the repetitions; `samples` keep what `compare` tests.
    package static func combine(runs: [BenchReport.Run]) throws -> [String: BenchReport.Metric] {
        var out: [String: BenchReport.Metric] = [:]
        var names = Set<String>()
        for r in runs { names.formUnion(r.metrics.keys) }
        for name in names {
            let per = runs.compactMap { $0.metrics[name] }
            guard let first = per.first else { continue }
            let values = per.map(\.value)
            // Throughput-like metrics keep their per-interval samples (more samples for the test).
            let pooled = per.allSatisfy { $0.samples != nil } ? per.flatMap { $0.samples! } : values
            out[name] = .init(
                value: Statistics.median(values), unit: first.unit, better: first.direction,
                samples: name.hasPrefix("throughput.") && !name.contains("peak") ? pooled : values)
            if minimumMetrics.contains(name) {
                // A CPU cost under interference: the least disturbed repetition is the estimate.
                let least = values.min() ?? 0
                out[name] = .init(value: least, unit: first.unit, better: first.direction, samples: [least])
            }
        }
        var merged: Latencies = [:]
        for run in runs {
            for entry in run.latencies {
                let histogram = try Histogram.decode(base64: entry.histogram)
                if merged[entry.key] == nil { merged[entry.key] = histogram } else { merged[entry.key]!.add(histogram) }
            }
        }
        for (key, histogram) in merged where histogram.totalCount > 0 {
            for (label, value) in BenchReport.percentilesMs(histogram) {
                let name = "latency.\(key).\(label)"
                out[name] = .init(value: value, unit: "ms", better: .lower, samples: runs.compactMap { $0.metrics[name]?.value })
            }
        }
        return out
    }

    /// Metrics whose top-level value is the minimum over repetitions, not the median: CPU costs,
    /// which neighbours on a shared machine only ever inflate (the least disturbed repetition is
    /// the closest to the true cost). Their one sample is that minimum.
    static let minimumMetrics: Set<String> = ["resources.harness.cpu_per_msg_zstd_bytes"]

    /// Adds `resources.harness.cpu_per_msg_zstd_bytes` to every run: CPU per message in
    /// machine-independent units, the bytes `zstd -d` outputs in the same CPU time at the median
    /// speed of the repetitions' references (each the best of its rounds). A machine twice as slow
    /// doubles the CPU per message and halves the reference: the product stays.
    package static func addReferenceCPU(_ runs: inout [BenchReport.Run], reference: BenchReport.Reference?) {
        guard let ref = reference?.cpuMedian, ref > 0 else { return }
        for i in runs.indices {
            if let us = runs[i].metrics["resources.harness.cpu_us_per_msg"]?.value {
                runs[i].metrics["resources.harness.cpu_per_msg_zstd_bytes"] = .init(value: us * ref, unit: "B", better: .lower)
            }
        }
    }
}
