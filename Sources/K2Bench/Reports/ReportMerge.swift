import Foundation
import K2Core
import K2Replay

/// `k2 bench merge`: one report from the reports of shards that ran at the same time
/// (`k2 replay --shard i/N` on N workers). Histograms are merged exactly (counts added, never
/// percentiles averaged); throughput per interval is summed; resources are kept per shard.
package enum ReportMerge {
    /// A shard given to the merge without a report: its run directory and why (`ReportFiles.missingReason`).
    package struct MissingShard: Sendable, Equatable {
        package var path: String
        package var reason: String
        package init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }
    }

    /// Shards starting further apart than this (their first repetition) get a note: their
    /// load overlapped only in part.
    static let skewWarningSeconds = 0.25

    /// - missing: shards that failed or did not finish; with them, or when the reports' `i/N` do
    ///   not cover 0 … N-1, the merged report says it is incomplete (notes, `shards.missing`).
    package static func merge(_ reports: [BenchReport], missing: [MissingShard] = []) throws -> BenchReport {
        guard let first = reports.first else {
            throw BenchError(.invalidArgument, what: "no reports to merge", remedy: "give two or more run directories")
        }
        let shards = reports.compactMap(\.workload.shard)
        if let dup = shards.first(where: { s in shards.filter { $0 == s }.count > 1 }) {
            throw BenchError(
                .invalidArgument, what: "two reports are shard \(dup)",
                remedy: "merge the reports of different shards (k2 bench run --shard i/N, i = 0 … N-1)")
        }
        var notes: [String] = []
        var missingCount = missing.count
        let counts = Set(shards.compactMap { $0.split(separator: "/").last.flatMap { Int($0) } })
        if counts.count > 1 {
            throw BenchError(
                .invalidArgument, what: "the reports are shards of different splits (\(shards.joined(separator: ", ")))",
                remedy: "merge the shards of one run (the same N in --shard i/N)")
        }
        var absent: [String] = []
        if let total = counts.first, shards.count == reports.count {
            let present = Set(shards.compactMap { $0.split(separator: "/").first.flatMap { Int($0) } })
            absent = (0..<total).filter { !present.contains($0) }.map { "\($0)/\(total)" }
            missingCount = Swift.max(missingCount, absent.count)
        }
        if missingCount > 0 {
            notes.append(
                "INCOMPLETE: merged \(reports.count) of \(reports.count + missingCount) shards"
                    + (absent.isEmpty ? "" : "; missing shard " + absent.joined(separator: ", "))
                    + (missing.isEmpty ? "" : " (" + missing.map { "\($0.path): \($0.reason)" }.joined(separator: "; ") + ")")
                    + ". Counts and throughput cover the merged shards only: they under-count the run.")
        }
        // Start times are read on each shard's own clock; with offsets measured against one
        // reference (`--clock-ref`) they are put on the reference's time line before aligning.
        let clocks = reports.map(\.environment.clock)
        let offsets = clocks.map { $0?.offsetNanos ?? 0 }
        let measuredClocks = clocks.compactMap { $0 }
        let shardNames = reports.indices.map { reports[$0].workload.shard ?? "report \($0 + 1)" }
        if !measuredClocks.isEmpty {
            notes.append(
                "clock offsets from the reference \(Set(measuredClocks.map(\.reference)).sorted().joined(separator: ", ")): "
                    + zip(shardNames, clocks).map { name, clock in
                        clock.map { String(format: "shard %@ %+.3f ms (± %.3f)", name, $0.offsetMs, $0.roundTripMs / 2) }
                            ?? "shard \(name) not measured"
                    }.joined(separator: ", ")
                    + (measuredClocks.count < reports.count
                        ? "; shards without a measurement are taken as on the reference's clock (give every shard --clock-ref)" : ""))
        }
        let reps = reports.map(\.runs.count).min() ?? 0
        var runs: [BenchReport.Run] = []
        for i in 0..<reps {
            let parts = reports.map { $0.runs[i] }
            // Intervals: aligned by the shards' start times (a shard that started a whole interval
            // later is shifted by one), summed over the window every shard covers.
            let alignment = Alignment(parts, clockOffsets: offsets)
            if i == 0, let skew = alignment.skewSeconds {
                notes.append(
                    String(format: "shards started within %.1f ms of each other (repetition 1, by the start times in their reports", skew * 1000)
                        + (alignment.shifts.contains { $0 != 0 } ? "; intervals aligned with shifts \(alignment.shifts)" : "")
                        + (measuredClocks.count == reports.count
                            ? ", on the reference's clock: each corrected by its measured offset)."
                            : "). Each start time is read on its own host's clock: across hosts the figure includes the clocks' offsets (measure them with --clock-ref, or keep the clocks in sync with NTP/chrony).")
                )
                if skew > skewWarningSeconds {
                    notes.append(
                        String(
                            format:
                                "the shards did not start together (%.2f s apart): their load overlapped only in part; give every shard the same --start-at",
                            skew))
                }
            }
            let window = alignment.window
            var iv: [BenchReport.IntervalPoint] = []
            for k in window {
                let ps = parts.indices.map { parts[$0].intervals[k - alignment.shifts[$0]] }
                var merged = ps[0]
                merged.offeredMsgs = ps.map(\.offeredMsgs).reduce(0, +)
                merged.sentMsgs = ps.map(\.sentMsgs).reduce(0, +)
                merged.deliveredMsgs = ps.flatMap(\.deliveredMsgs)
                merged.sentMB = ps.flatMap(\.sentMB)
                merged.backlog = ps.flatMap(\.backlog)
                merged.consumedMsgs = ps.allSatisfy { $0.consumedMsgs != nil } ? ps.compactMap(\.consumedMsgs).reduce(0, +) : nil
                merged.latenessMaxMs = ps.compactMap(\.latenessMaxMs).max()
                merged.latenessP99Ms = ps.compactMap(\.latenessP99Ms).max()
                iv.append(merged)
            }
            var hist: [String: Histogram] = [:]
            for part in parts {
                for entry in part.latencies {
                    let histogram = try Histogram.decode(base64: entry.histogram)
                    if hist[entry.key] == nil { hist[entry.key] = histogram } else { hist[entry.key]!.add(histogram) }
                }
            }
            let lat = hist.keys.sorted().map { key -> BenchReport.Latency in
                let kb = key.split(separator: ".").map(String.init)
                return BenchReport.latency(kind: kb[0], basis: kb.count > 1 ? kb[1] : "actual", hist[key]!)
            }
            var resources: [ResourceSeries] = []
            for (shard, part) in parts.enumerated() {
                for var series in part.resources {
                    series.name = "shard \(shard): " + series.name
                    resources.append(series)
                }
            }
            // Delivered per sink are concatenated per shard; "achieved" is the sum of each shard's slowest sink.
            var metrics = Assembler.metrics(intervals: iv, latencies: hist, resources: resources, sinkCount: parts.map(\.sinks.count).reduce(0, +))
            let achievedPerInterval = window.map { k in
                parts.indices.map { shard -> Double in
                    let point = parts[shard].intervals[k - alignment.shifts[shard]]
                    return (point.deliveredMsgs.min() ?? point.sentMsgs) / point.seconds
                }.reduce(0, +)
            }
            if let skew = alignment.skewSeconds {
                metrics["shards.start_skew_ms"] = .init(value: skew * 1000, unit: "ms", better: .lower)
            }
            metrics["shards.missing"] = .init(value: Double(missingCount), unit: "shards", better: .lower)
            if !measuredClocks.isEmpty {
                metrics["shards.clock_offset_max_ms"] = .init(value: measuredClocks.map { abs($0.offsetMs) }.max() ?? 0, unit: "ms", better: .lower)
                metrics["shards.clock_uncertainty_max_ms"] = .init(
                    value: (measuredClocks.map(\.roundTripMs).max() ?? 0) / 2, unit: "ms", better: .lower)
            }
            if !achievedPerInterval.isEmpty {
                metrics["throughput.achieved.msgs_per_s"] = .init(
                    value: Statistics.mean(achievedPerInterval), unit: "msg/s", better: .higher, samples: achievedPerInterval)
                metrics["throughput.achieved.peak_msgs_per_s"] = .init(value: achievedPerInterval.max() ?? 0, unit: "msg/s", better: .higher)
            }
            runs.append(
                BenchReport.Run(
                    index: i, startedAt: parts[0].startedAt, measuredSeconds: parts.map(\.measuredSeconds).max() ?? 0,
                    intervals: iv, latencies: lat, sinks: parts.flatMap(\.sinks), resources: resources, metrics: metrics))
        }
        var workload = first.workload
        if first.workload.shard != nil, let shardSuffix = workload.name.range(of: "-shard-", options: .backwards) {
            workload.name = String(workload.name[..<shardSuffix.lowerBound])
        }
        workload.name += " (merged \(reports.count) shards)"
        workload.shard = nil
        workload.sinks = reports.flatMap(\.workload.sinks)
        var env = first.environment
        env.hostname = reports.map(\.environment.hostname).joined(separator: ", ")
        env.cpus = reports.map(\.environment.cpus).reduce(0, +)
        env.memoryBytes = reports.map(\.environment.memoryBytes).reduce(0, +)
        env.finishedAt = reports.map(\.environment.finishedAt).max() ?? env.finishedAt
        env.startedAt = reports.map(\.environment.startedAt).min() ?? env.startedAt
        return BenchReport(
            tool: first.tool, environment: env, workload: workload, runs: runs, metrics: try Assembler.combine(runs: runs),
            reference: nil, notes: notes + reports.flatMap(\.notes) + ["merged from \(reports.count) shard reports; \(reps) repetition(s) each"])
    }

    /// Whether a merged report lacks shards (`shards.missing` > 0).
    package static func isIncomplete(_ report: BenchReport) -> Bool {
        (report.metrics["shards.missing"]?.value ?? 0) > 0
    }

    /// How the shards' intervals line up in time: each shard's start offset from the earliest, in
    /// whole intervals (`shifts`), and the merged interval indices (in the earliest shard's
    /// numbering) that every shard covers.
    struct Alignment {
        var shifts: [Int]
        var window: Range<Int>
        /// Latest minus earliest start, nil when a start time does not parse.
        var skewSeconds: Double?

        /// - clockOffsets: per part, reference minus local clock (ns), added to its start time.
        init(_ parts: [BenchReport.Run], clockOffsets: [Int64]? = nil) {
            let starts = parts.indices.map { index in
                TimeText.parseISO8601(parts[index].startedAt).map { $0 + (clockOffsets?[index] ?? 0) }
            }
            let interval = parts.first?.intervals.first?.seconds ?? 1
            if starts.allSatisfy({ $0 != nil }), let earliest = starts.compactMap({ $0 }).min(), let latest = starts.compactMap({ $0 }).max() {
                skewSeconds = Double(latest - earliest) / 1e9
                shifts = starts.map { Int((Double($0! - earliest) / 1e9 / Swift.max(interval, 1e-3)).rounded()) }
            } else {
                skewSeconds = nil
                shifts = parts.map { _ in 0 }
            }
            let lower = shifts.max() ?? 0
            let upper = zip(shifts, parts).map { $0 + $1.intervals.count }.min() ?? 0
            window = lower..<Swift.max(lower, upper)
        }
    }
}
