/// `report.md`: a short Markdown summary that fits a CI job summary.
package enum ReportMarkdown {
    package static func render(_ r: BenchReport, verification: Verification? = nil) -> String {
        var out = "## k2 bench: \(r.workload.name)\n\n"
        if let result = verification {
            out += "**Verdict: \(result.summary)** (targets: `\(result.targets.path)`)\n\n"
            out += result.markdown(includeUnmeasured: false)
            out += "\n" + result.claimsText() + "\n"
        }
        let workload = r.workload
        out += "Workload `\(workload.path)`: \(workload.source), pace \(workload.pace), warm-up \(Units.format(workload.warmupSeconds)) s, "
        out +=
            "\(Units.format(workload.durationSeconds)) s measured × \(workload.repetitions), sinks \(workload.sinks.map { "`\($0)`" }.joined(separator: ", ")).\n"
        let environment = r.environment
        out +=
            "Machine `\(environment.hostname)`: \(environment.cpus) CPUs, \(SizeTextShort.gb(environment.memoryBytes)), \(environment.os) \(environment.kernel). "
        out += "k2 \(r.tool.version)" + (r.tool.gitRevision.map { " (\($0))" } ?? "") + ", \(environment.startedAt).\n\n"

        out += "### Throughput\n\n| metric | value |\n|---|---|\n"
        for name in r.metrics.keys.sorted() where name.hasPrefix("throughput.") || name.hasPrefix("reference.") {
            let metric = r.metrics[name]!
            out += "| \(name) | \(Units.format(metric.value)) \(metric.unit) |\n"
        }
        if let ref = r.reference {
            out += "| reference: \(ref.name) | \(Units.format(ref.median)) \(ref.unit) |\n"
            if let cpuMedian = ref.cpuMedian { out += "| reference: \(ref.name) per CPU-second | \(Units.format(cpuMedian)) MB/s |\n" }
        }

        let lat = (try? r.mergedLatencies()) ?? [:]
        if !lat.isEmpty {
            out +=
                "\n### Latency (ms, all repetitions merged)\n\n| kind | from | count | p50 | p90 | p99 | p99.9 | p99.99 | max |\n|---|---|---|---|---|---|---|---|---|\n"
            for key in lat.keys.sorted(by: latencyOrder) {
                let histogram = lat[key]!
                let percentiles = BenchReport.percentilesMs(histogram)
                let parts = key.split(separator: ".")
                out += "| \(parts[0]) | \(parts.count > 1 ? String(parts[1]) : "") | \(histogram.totalCount) | "
                out += ["p50", "p90", "p99", "p99.9", "p99.99", "max"].map { Units.format(percentiles[$0] ?? 0) }.joined(separator: " | ") + " |\n"
            }
        }

        for table in [
            ReportStages.bound(r), ReportStages.boundIntervals(r), ReportStages.queries(r), ReportStages.queries(r, alone: true),
            ReportStages.http(r), ReportStages.storage(r), ReportStages.burst(r),
        ].compactMap({ $0 }) { out += ReportStages.markdown(table) }
        out += ReportFaults.markdown(r)
        out += ReportLedger.markdown(r)

        if let run = r.runs.last, !run.resources.isEmpty {
            out += "\n### Resources (last repetition)\n\n| process / group | CPU mean | CPU peak | memory peak |\n|---|---|---|---|\n"
            for series in run.resources {
                out +=
                    "| \(series.name)\(series.kind == "harness" ? " — apart from the system under test" : "") | \(Units.format(series.meanCores)) cores | \(Units.format(series.peakCores)) cores | \(SizeTextShort.mb(series.peakMemory)) |\n"
            }
        }
        if let run = r.runs.last, !run.sinks.isEmpty {
            out += "\n### Sinks (last repetition)\n\n| sink | sent | delivered | failed |\n|---|---|---|---|\n"
            for sink in run.sinks {
                let reasons =
                    sink.failureReasons.isEmpty
                    ? "" : " (" + sink.failureReasons.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; ") + ")"
                out += "| `\(sink.uri)` | \(sink.sent) | \(sink.delivered) | \(sink.failed)\(reasons) |\n"
            }
        }
        if !r.notes.isEmpty {
            out += "\n### Notes\n\n" + r.notes.map { "- \($0)\n" }.joined()
        }
        return out
    }

    static let kindOrder = ["lateness", "publish", "end_to_end", "freshness"]
    static func latencyOrder(_ a: String, _ b: String) -> Bool {
        let ka = a.split(separator: ".").first.map(String.init) ?? a, kb = b.split(separator: ".").first.map(String.init) ?? b
        let ia = kindOrder.firstIndex(of: ka) ?? 99, ib = kindOrder.firstIndex(of: kb) ?? 99
        return ia != ib ? ia < ib : a > b  // "intended" before "actual"
    }
}

enum SizeTextShort {
    static func mb(_ bytes: Int64) -> String { Units.format(Double(bytes) / 1e6) + " MB" }
    static func gb(_ bytes: Int64) -> String { Units.format(Double(bytes) / 1e9) + " GB" }
}
