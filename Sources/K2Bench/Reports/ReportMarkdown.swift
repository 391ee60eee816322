/// `report.md`: a short Markdown summary that fits a CI job summary.
public enum ReportMarkdown {
    public static func render(_ r: BenchReport, verification: Verification? = nil) -> String {
        var out = "## k2 bench: \(r.workload.name)\n\n"
        if let v = verification {
            out += "**Verdict: \(v.summary)** (targets: `\(v.targets.path)`)\n\n"
            out += v.markdown(includeUnmeasured: false)
            out += "\n" + v.claimsText() + "\n"
        }
        let w = r.workload
        out += "Workload `\(w.path)`: \(w.source), pace \(w.pace), warm-up \(Units.format(w.warmupSeconds)) s, "
        out += "\(Units.format(w.durationSeconds)) s measured × \(w.repetitions), sinks \(w.sinks.map { "`\($0)`" }.joined(separator: ", ")).\n"
        let e = r.environment
        out += "Machine `\(e.hostname)`: \(e.cpus) CPUs, \(SizeTextShort.gb(e.memoryBytes)), \(e.os) \(e.kernel). "
        out += "k2 \(r.tool.version)" + (r.tool.gitRevision.map { " (\($0))" } ?? "") + ", \(e.startedAt).\n\n"

        out += "### Throughput\n\n| metric | value |\n|---|---|\n"
        for name in r.metrics.keys.sorted() where name.hasPrefix("throughput.") || name.hasPrefix("reference.") {
            let m = r.metrics[name]!
            out += "| \(name) | \(Units.format(m.value)) \(m.unit) |\n"
        }
        if let ref = r.reference {
            out += "| reference: \(ref.name) | \(Units.format(ref.median)) \(ref.unit) |\n"
            if let c = ref.cpuMedian { out += "| reference: \(ref.name) per CPU-second | \(Units.format(c)) MB/s |\n" }
        }

        let lat = (try? r.mergedLatencies()) ?? [:]
        if !lat.isEmpty {
            out += "\n### Latency (ms, all repetitions merged)\n\n| kind | from | count | p50 | p90 | p99 | p99.9 | p99.99 | max |\n|---|---|---|---|---|---|---|---|---|\n"
            for key in lat.keys.sorted(by: latencyOrder) {
                let h = lat[key]!
                let p = BenchReport.percentilesMs(h)
                let parts = key.split(separator: ".")
                out += "| \(parts[0]) | \(parts.count > 1 ? String(parts[1]) : "") | \(h.totalCount) | "
                out += ["p50", "p90", "p99", "p99.9", "p99.99", "max"].map { Units.format(p[$0] ?? 0) }.joined(separator: " | ") + " |\n"
            }
        }

        for table in [ReportStages.bound(r), ReportStages.boundIntervals(r), ReportStages.queries(r), ReportStages.http(r), ReportStages.storage(r), ReportStages.burst(r)].compactMap({ $0 }) { out += ReportStages.markdown(table) }
        out += ReportFaults.markdown(r)

        if let run = r.runs.last, !run.resources.isEmpty {
            out += "\n### Resources (last repetition)\n\n| process / group | CPU mean | CPU peak | memory peak |\n|---|---|---|---|\n"
            for s in run.resources {
                out += "| \(s.name)\(s.kind == "harness" ? " — apart from the system under test" : "") | \(Units.format(s.meanCores)) cores | \(Units.format(s.peakCores)) cores | \(SizeTextShort.mb(s.peakMemory)) |\n"
            }
        }
        if let run = r.runs.last, !run.sinks.isEmpty {
            out += "\n### Sinks (last repetition)\n\n| sink | sent | delivered | failed |\n|---|---|---|---|\n"
            for s in run.sinks {
                let reasons = s.failureReasons.isEmpty ? "" : " (" + s.failureReasons.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; ") + ")"
                out += "| `\(s.uri)` | \(s.sent) | \(s.delivered) | \(s.failed)\(reasons) |\n"
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
        return ia != ib ? ia < ib : a > b   // "intended" before "actual"
    }
}

enum SizeTextShort {
    static func mb(_ bytes: Int64) -> String { Units.format(Double(bytes) / 1e6) + " MB" }
    static func gb(_ bytes: Int64) -> String { Units.format(Double(bytes) / 1e9) + " GB" }
}
