import ArgumentParser
import K2Bench
import K2Core

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run workloads, verify v2 targets against the v1 baseline, gate regressions.",
        discussion: "Workload files: docs/workloads.md. Reports, targets and the gate: docs/bench.md.",
        subcommands: [Run.self, Verify.self, Compare.self, Merge.self]
    )
}

extension BenchCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a workload and write a run directory (report.json, report.md, report.html, .hlog).",
            discussion: """
                The workload file's keys are in docs/workloads.md. The replay runs in-process (K2Replay's \
                engine); `kafka://embedded` sinks get an embedded broker on 127.0.0.1. When the workload \
                names targets, the verdict table is printed first. Exit 0 when the run completed (use \
                `k2 bench verify` for a pass/fail exit), 2 on bad input or a failed run.
                """
        )
        @Argument(help: "The workload YAML file.") var workload: String
        @Option(name: .shortAndLong, help: "Run directory to write (default reports/runs/NAME-TIMESTAMP).") var output: String?
        @Flag(help: "No progress lines on stderr.") var quiet = false

        func run() throws {
            try reportingErrors { () throws in
                let w = try WorkloadLoader.load(file: workload)
                let out = try WorkloadRun.run(w, progress: quiet ? nil : { StdErr.print("k2 bench: " + $0) })
                let v = try w.targets.map { Verification.verify(out.report, targets: try TargetsLoader.load(file: $0)) }
                let stamp = TimeText.iso8601(nanos: SystemClock().wallNanos(), fractionDigits: 0)
                    .replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
                let dir = output ?? "reports/runs/\(w.name)-\(stamp)"
                try ReportFiles.write(out.report, to: dir, verification: v, intervalLogs: out.intervalLogs)
                if let v {
                    print(v.markdown(includeUnmeasured: false))
                    print(v.summary + "\n")
                }
                for name in ["throughput.offered.msgs_per_s", "throughput.achieved.msgs_per_s", "throughput.consumer.msgs_per_s",
                             "latency.lateness.intended.p99", "latency.publish.intended.p99", "latency.end_to_end.intended.p99",
                             "resources.harness.cpu_cores.mean"] {
                    if let m = out.report.metrics[name] { print("\(name): \(Units.format(m.value)) \(m.unit)") }
                }
                if let r = out.report.reference { print("reference \(r.name): \(Units.format(r.median)) \(r.unit)") }
                print("k2: report in \(dir)")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the verdict table of a report against a targets file.",
            discussion: """
                Columns: figure, v1 baseline, v2 target, measured, verdict, ratio vs v1 (how many times better \
                than v1). Figures the report did not measure are shown as "not measured", never as passed. \
                Exit 0 when every measured target passes, 2 when any fails (or on bad input).
                """
        )
        @Argument(help: "A run directory (k2 bench run -o DIR) or its report.json.") var report: String
        @Option(help: "The targets file.") var targets: String = "reports/targets/k2-v2.yaml"
        @Flag(help: "Leave out figures the report did not measure.") var measuredOnly = false

        func run() throws {
            let v = try reportingErrors { () throws -> Verification in
                let r = try ReportFiles.load(report)
                let t = try TargetsLoader.load(file: targets)
                return Verification.verify(r, targets: t)
            }
            print(v.markdown(includeUnmeasured: !measuredOnly))
            print(v.claimsText())
            print(v.summary)
            if v.failed { throw ExitCode(2) }
        }
    }

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Regression gate: compare a current report with a baseline report.",
            discussion: """
                Per metric: medians of the samples (repetitions; per-interval rates for throughput), a \
                two-sided Mann-Whitney U test when both sides have enough samples, and relative/absolute \
                thresholds. A change counts only when it is over the thresholds AND significant, so noise \
                does not fail the gate. Prints Markdown. Exit 0 same, 2 any regression, 4 only improvements.
                """
        )
        @Argument(help: "The baseline report (run directory or report.json).") var baseline: String
        @Argument(help: "The current report.") var current: String
        @Option(name: .customLong("threshold"), help: """
            Relative threshold: "10%" (all metrics) or "PATTERN=REL[,ABS]" for metrics matching PATTERN \
            (exact name or prefix*), e.g. "latency.*=50%,2" (ABS in the metric's unit). Repeatable; first match wins.
            """)
        var thresholds: [String] = []
        @Option(help: "Significance level of the test.") var alpha: Double = 0.01
        @Option(help: "Fewest samples per side for the test; below it thresholds decide alone.") var minSamples: Int = 5
        @Option(name: .customLong("metric"), help: "Gate only these metrics (exact name or prefix*); repeatable. Default: all.")
        var metrics: [String] = []
        @Flag(help: "Divide by each report's same-run reference (zstd -d MB/s) before comparing.") var normalize = false
        @Option(name: .shortAndLong, help: "Also write the Markdown here (e.g. $GITHUB_STEP_SUMMARY).") var output: String?

        func run() throws {
            let c = try reportingErrors { () throws -> Comparison in
                let b = try ReportFiles.load(baseline)
                let cur = try ReportFiles.load(current)
                var def = Threshold(alpha: alpha, minSamples: minSamples)
                var per: [(String, Threshold)] = []
                for t in thresholds {
                    if let eq = t.firstIndex(of: "=") {
                        let pattern = String(t[..<eq])
                        per.append((pattern, try Self.parseThreshold(String(t[t.index(after: eq)...]), base: def)))
                    } else {
                        def = try Self.parseThreshold(t, base: def)
                    }
                }
                if normalize && (b.reference == nil || cur.reference == nil) {
                    throw BenchError(.invalidArgument, what: "--normalize needs a reference in both reports",
                                     remedy: "run both workloads with `reference: zstd`")
                }
                return Comparison.compare(baseline: b, current: cur, metrics: metrics, thresholds: per,
                                          defaultThreshold: def, normalize: normalize)
            }
            let md = c.markdown()
            print(md, terminator: "")
            if let output {
                try reportingErrors { () throws in
                    guard ReportFiles.append(md, to: output) else {
                        throw BenchError(.io, path: output, what: "cannot write the Markdown", remedy: "check the path")
                    }
                }
            }
            if c.exitCode != 0 { throw ExitCode(c.exitCode) }
        }

        /// `10%`, `0.1`, `50%,2`.
        static func parseThreshold(_ text: String, base: Threshold) throws -> Threshold {
            var t = base
            let parts = text.split(separator: ",", maxSplits: 1).map { String($0).trimmingSpaces() }
            var rel = parts[0]
            let pct = rel.hasSuffix("%")
            if pct { rel.removeLast() }
            guard let r = Double(rel), r >= 0 else {
                throw BenchError(.invalidArgument, what: "threshold '\(text)' is not a number", remedy: "write e.g. 10% or latency.*=50%,2")
            }
            t.relative = pct ? r / 100 : r
            if parts.count > 1 {
                guard let a = Double(parts[1]), a >= 0 else {
                    throw BenchError(.invalidArgument, what: "absolute threshold in '\(text)' is not a number", remedy: "write e.g. 50%,2")
                }
                t.absolute = a
            }
            return t
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge the reports of shards that ran at the same time into one report.",
            discussion: """
                Latency histograms are merged exactly (counts added, never percentiles averaged), \
                per-interval throughput is summed, resources are kept per shard. Writes a run directory.
                """
        )
        @Argument(help: "Run directories (or report.json files) of the shards.") var reports: [String]
        @Option(name: .shortAndLong, help: "The run directory to write.") var output: String
        @Option(help: "Also print the verdict table against this targets file.") var targets: String?

        func run() throws {
            try reportingErrors { () throws in
                guard reports.count >= 2 else {
                    throw BenchError(.invalidArgument, what: "give two or more reports to merge")
                }
                let merged = try ReportMerge.merge(try reports.map { try ReportFiles.load($0) })
                let v = try targets.map { Verification.verify(merged, targets: try TargetsLoader.load(file: $0)) }
                try ReportFiles.write(merged, to: output, verification: v)
                print("k2: merged \(reports.count) reports into \(output)")
                if let v { print(v.markdown(includeUnmeasured: false)); print(v.summary) }
            }
        }
    }
}
