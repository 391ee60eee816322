import ArgumentParser
import Foundation
import K2Bench
import K2Config
import K2Core
import K2Net
import K2Replay

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run workloads, verify v2 targets against the v1 baseline, gate regressions.",
        discussion: "Workload files: docs/workloads.md. Reports, targets and the gate: docs/bench.md.",
        subcommands: [Run.self, Verify.self, Compare.self, Merge.self, Sweep.self, Schema.self, Clock.self]
    )
}

extension BenchCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
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
        @Option(
            parsing: .unconditional,
            help:
                "Replay only shard i of N (i/N, split by symbol, else connection, as k2 replay --shard); a rate is divided by N. Merge the shards' reports with k2 bench merge."
        )
        var shard: ShardArgument?
        @Option(
            parsing: .unconditional, help: "Serve live Prometheus metrics on http://127.0.0.1:PORT/metrics while running (0 = a free port, printed).")
        var metricsPort: Port<AnyFreePort>?
        @Option(
            help:
                "Wait until this wall-clock time, then set up and replay: @UNIX_SECONDS or 2026-12-06T10:00:00Z. Give every shard the same time so their load overlaps."
        )
        var startAt: String?
        @Option(help: "Measure this long instead of the workload's duration (e.g. 60s to check a soak workload works).")
        var duration: DurationArgument?
        @Option(
            name: .customLong("clock-ref"),
            help:
                "HOST:PORT of a clock reference (k2 bench clock, or k2 broker --control-port): this host's clock offset from it is measured and reported, and --start-at is read on its clock."
        )
        var clockReference: String?

        func run() throws {
            try reportingErrors { () throws in
                let fileWorkload = try WorkloadLoader.load(file: workload)
                let loadedWorkload = try duration.map { try fileWorkload.measuring(for: $0.nanos) } ?? fileWorkload
                let sh = shard?.shard
                let start = try startAt.map { text throws -> Int64 in
                    guard let nanos = WorkloadRun.parseStartTime(text) else {
                        throw BenchError(
                            .invalidArgument, what: "--start-at '\(text)' is not a time",
                            remedy: "give @UNIX_SECONDS (e.g. @$(( $(date +%s) + 30 ))) or 2026-12-06T10:00:00Z")
                    }
                    return nanos
                }
                let server = try startMetricsServer(port: metricsPort, announcement: "k2 bench: metrics on ")
                defer { server?.stop() }
                let out: BenchRunner.Output
                do {
                    out = try WorkloadRun.run(
                        loadedWorkload, shard: sh, metrics: server, startAt: start, clockReference: clockReference,
                        progress: quiet ? nil : { StdErr.print("k2 bench: " + $0) })
                } catch {
                    // A failed shard says why in its run directory: k2 bench merge names it as missing.
                    if sh != nil, let output { try? ReportFiles.writeFailure("\(error)", to: output) }
                    throw error
                }
                let verification = try loadedWorkload.targets.map { Verification.verify(out.report, targets: try TargetsLoader.load(file: $0)) }
                let dir = output ?? "reports/runs/\(loadedWorkload.name)\(sh.map { "-shard-\($0.index)of\($0.count)" } ?? "")-\(reportFolderStamp())"
                try ReportFiles.write(out.report, to: dir, verification: verification, intervalLogs: out.intervalLogs)
                if let verification {
                    print(verification.markdown(includeUnmeasured: false))
                    print(verification.summary + "\n")
                }
                for name in [
                    "throughput.offered.msgs_per_s", "throughput.achieved.msgs_per_s", "throughput.consumer.msgs_per_s",
                    "latency.lateness.intended.p99", "latency.publish.intended.p99", "latency.end_to_end.intended.p99",
                    "resources.harness.cpu_cores.mean", "burst.achieved.peak_msgs_per_s", "burst.backlog.clickhouse.max.rows",
                    "burst.catch_up.s", "availability.probes.percent",
                ] {
                    if let metric = out.report.metrics[name] { print("\(name): \(Units.format(metric.value)) \(metric.unit)") }
                }
                if let reference = out.report.reference { print("reference \(reference.name): \(Units.format(reference.median)) \(reference.unit)") }
                print("k2: report in \(dir)")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
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
            let verification = try reportingErrors { () throws -> Verification in
                let loadedReport = try ReportFiles.load(report)
                let loadedTargets = try TargetsLoader.load(file: targets)
                return Verification.verify(loadedReport, targets: loadedTargets)
            }
            print(verification.markdown(includeUnmeasured: !measuredOnly))
            print(verification.claimsText())
            print(verification.summary)
            if verification.failed { throw ExitCode(2) }
        }
    }

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare",
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
        @Option(
            name: .customLong("threshold"),
            help: """
                Relative threshold: "10%" (all metrics) or "PATTERN=REL[,ABS]" for metrics matching PATTERN \
                (exact name or prefix*), e.g. "latency.*=50%,2" (ABS in the metric's unit). Repeatable; first match wins.
                """)
        var thresholds: [ThresholdArgument] = []
        @Option(help: "Significance level of the test.") var alpha: Double = 0.01
        @Option(help: "Fewest samples per side for the test; below it thresholds decide alone.") var minSamples: Int = 5
        @Option(name: .customLong("metric"), help: "Gate only these metrics (exact name or prefix*); repeatable. Default: all.")
        var metrics: [String] = []
        @Flag(help: "Divide by each report's same-run reference (zstd -d MB/s) before comparing.") var normalize = false
        @Flag(
            help: "Compare each side's best sample (least disturbed repetition: min for lower-is-better, max for higher) instead of medians; no test."
        )
        var best = false
        @Option(name: .shortAndLong, help: "Also write the Markdown here (e.g. $GITHUB_STEP_SUMMARY).") var output: String?

        func validate() throws {
            guard alpha > 0, alpha < 1 else {
                throw ValidationError("--alpha \(alpha) is out of range: give a level between 0 and 1, e.g. --alpha 0.01")
            }
            try check(minSamples, in: 0...Int.max, "--min-samples", example: 5)
        }

        func run() throws {
            let comparison = try reportingErrors { () throws -> Comparison in
                let baselineReport = try ReportFiles.load(baseline)
                let cur = try ReportFiles.load(current)
                var def = Threshold(alpha: alpha, minSamples: minSamples, best: best)
                var per: [(String, Threshold)] = []
                for threshold in thresholds {
                    if let pattern = threshold.pattern {
                        per.append((pattern, threshold.applied(to: def)))
                    } else {
                        def = threshold.applied(to: def)
                    }
                }
                if normalize && (baselineReport.reference == nil || cur.reference == nil) {
                    throw BenchError(
                        .invalidArgument, what: "--normalize needs a reference in both reports",
                        remedy: "run both workloads with `reference: zstd`")
                }
                return Comparison.compare(
                    baseline: baselineReport, current: cur, metrics: metrics, thresholds: per,
                    defaultThreshold: def, normalize: normalize)
            }
            let md = comparison.markdown()
            print(md, terminator: "")
            if let output {
                try reportingErrors { () throws in
                    guard ReportFiles.append(md, to: output) else {
                        throw BenchError(.io, path: output, what: "cannot write the Markdown", remedy: "check the path")
                    }
                }
            }
            if comparison.exitCode != 0 { throw ExitCode(comparison.exitCode) }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge",
            abstract: "Merge the reports of shards that ran at the same time into one report.",
            discussion: """
                Latency histograms are merged exactly (counts added, never percentiles averaged), \
                per-interval throughput is summed over intervals aligned by the shards' start times, \
                resources are kept per shard; the start skew is reported. Writes a run directory. A shard \
                whose directory has no report (FAILED.txt from a failed shard, or nothing) is named in the \
                merged report as missing: exit 3 then, so an incomplete merge never passes for the whole run.
                """
        )
        @Argument(help: "Run directories (or report.json files) of the shards.") var reports: [String]
        @Option(name: .shortAndLong, help: "The run directory to write.") var output: String
        @Option(help: "Also print the verdict table against this targets file.") var targets: String?

        func run() throws {
            let merged = try reportingErrors { () throws -> BenchReport in
                guard reports.count >= 2 else {
                    throw BenchError(.invalidArgument, what: "give two or more reports to merge")
                }
                var loaded: [BenchReport] = []
                var missing: [ReportMerge.MissingShard] = []
                for path in reports {
                    if let reason = ReportFiles.missingReason(path) {
                        missing.append(.init(path: path, reason: reason))
                    } else {
                        loaded.append(try ReportFiles.load(path))
                    }
                }
                guard !loaded.isEmpty else {
                    throw BenchError(
                        .invalidArgument,
                        what:
                            "none of the \(reports.count) shards has a report (\(missing.map { "\($0.path): \($0.reason)" }.joined(separator: "; ")))",
                        remedy: "give the run directories the shards wrote (k2 bench run --shard i/N -o DIR)")
                }
                let merged = try ReportMerge.merge(loaded, missing: missing)
                let verification = try targets.map { Verification.verify(merged, targets: try TargetsLoader.load(file: $0)) }
                try ReportFiles.write(merged, to: output, verification: verification)
                print("k2: merged \(loaded.count) reports into \(output)")
                for note in merged.notes where note.hasPrefix("INCOMPLETE") || note.hasPrefix("shards ") || note.hasPrefix("the shards") {
                    print(note)
                }
                if let verification { print(verification.markdown(includeUnmeasured: false)); print(verification.summary) }
                return merged
            }
            if ReportMerge.isIncomplete(merged) { throw ExitCode(3) }
        }
    }
}

extension BenchCommand {
    struct Sweep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sweep",
            abstract: "Capacity planning: run a workload at increasing rates until it saturates.",
            discussion: """
                Each step replaces the workload's rate and runs it (one repetition, no reference) into \
                DIR/steps/RATE. A step is sustainable when achieved ≥ --min-achieved of offered, the p99 of \
                the SLO metric < --slo, the backlog (unacknowledged, or consumer lag) ≤ --max-backlog of \
                offered, and neither the backlog nor the sender's deficit grows within the step (trend, not only \
                thresholds: docs/bench.md). --rates runs the list and stops at the first saturated step (--all runs every rate); \
                --search doubles from --min until a step saturates, then bisects to --precision. Prints and \
                writes DIR/sweep.{json,md,html}: the curve, the maximum sustainable rate, and the cores \
                needed for --project rates from CPU per message against --budget (the harness's measured at \
                max speed, DIR/steps/max, so the pacer's spin-wait is not counted). Exit 0 when a sustainable \
                rate was found, 3 when even the lowest step saturated (no number is reported), 2 on bad input.
                """
        )
        @Argument(help: "The workload YAML file.") var workload: String
        @Option(help: "Rates to run, e.g. 1k,5k,10k,50k.") var rates: RateListArgument?
        @Flag(help: "Search for the maximum sustainable rate instead of a fixed list.") var search = false
        @Option(help: "--search: lowest rate.") var min: RateArgument = "1k"
        @Option(help: "--search: highest rate.") var max: RateArgument = "1M"
        @Option(help: "--search: stop when the bracket is within this ratio.") var precision: ShareArgument = "10%"
        @Option(help: "--search: most steps.") var maxSteps: Int = 10
        @Flag(help: "--rates: run every rate, also after a step saturated.") var all = false
        @Option(help: "Latency SLO on the p99 (a duration).") var slo: DurationArgument = "1s"
        @Option(help: "Report metric the SLO applies to (default: first of freshness, end-to-end, publish, delivery, lateness p99).")
        var sloMetric: String?
        @Option(help: "Achieved must reach this share of offered.") var minAchieved: ShareArgument = "95%"
        @Option(help: "Backlog allowed at the end, in seconds of the offered rate.") var maxBacklog: DurationArgument = "1s"
        @Option(help: "Measured time per step (default: the workload's duration).") var duration: DurationArgument?
        @Option(help: "Warm-up per step (default: the workload's warm-up).") var warmup: DurationArgument?
        @Option(help: "Repetitions per step.") var repetitions: Int = 1
        @Option(help: "CPU budget in cores.") var budget: Double = 16
        @Option(help: "Rates to extrapolate the CPU for.") var project: RateListArgument = "10k,50k,1M"
        @Option(name: .shortAndLong, help: "Sweep directory to write (default reports/sweeps/NAME-TIMESTAMP).") var output: String?
        @Flag(help: "No progress lines on stderr.") var quiet = false

        func validate() throws {
            try check(maxSteps, in: 1...1000, "--max-steps", example: 10)
            try check(repetitions, in: 1...1000, "--repetitions", example: 3)
            guard budget > 0, budget.isFinite else {
                throw ValidationError("--budget \(budget) is not a number of cores: give more than 0, e.g. --budget 16")
            }
        }

        func run() throws {
            let sweep = try reportingErrors { () throws -> K2Bench.Sweep in
                let loadedWorkload = try WorkloadLoader.load(file: workload)
                let plan: SweepPlan
                switch (rates, search) {
                case let (r?, false):
                    plan = .rates(r.perSecond, continueAfterSaturation: all)
                case (nil, true):
                    let lo = min.perSecond, hi = max.perSecond
                    guard lo < hi else {
                        throw BenchError(.invalidArgument, what: "--min must be below --max", remedy: "write e.g. --min 1k --max 1M")
                    }
                    plan = .search(min: lo, max: hi, precision: precision.fraction, maxSteps: maxSteps)
                default:
                    throw BenchError(.invalidArgument, what: "give either --rates LIST or --search", remedy: "e.g. --rates 1k,5k,10k,50k")
                }
                var criteria = K2Bench.Sweep.Criteria()
                criteria.latencySLOms = Double(slo.nanos) / 1e6
                criteria.latencyMetric = sloMetric
                criteria.minAchievedShare = minAchieved.fraction
                criteria.maxBacklogSeconds = Double(maxBacklog.nanos) / 1e9
                var sweepOptions = WorkloadSweep.Options()
                sweepOptions.durationNanos = duration?.nanos
                sweepOptions.warmupNanos = warmup?.nanos
                sweepOptions.repetitions = repetitions
                sweepOptions.budgetCores = budget
                sweepOptions.targetRates = project.perSecond
                let dir = output ?? "reports/sweeps/\(loadedWorkload.name)-\(reportFolderStamp())"
                let sweepResult = try WorkloadSweep.run(
                    loadedWorkload, plan: plan, criteria: criteria, options: sweepOptions, to: dir,
                    progress: quiet ? nil : { StdErr.print("k2 bench sweep: " + $0) })
                print(sweepResult.markdown())
                print("k2: sweep in \(dir) (sweep.md, sweep.html, steps/)")
                return sweepResult
            }
            if sweep.maxSustainable == nil { throw ExitCode(3) }
        }
    }
}

extension BenchCommand {
    struct Schema: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "schema",
            abstract: "Run a pipeline schema file on a ClickHouse server: the statements for the server's version.",
            discussion: """
                What `k2 bench run` does with embedded.clickhouse_schema, on a server of your own: asks \
                SELECT version(), runs the unguarded statements and those whose `-- k2: clickhouse < V` / \
                `>= V` guard the version meets, with {brokers}, {topic}, {group}, {database} from --set \
                (docs/pipeline.md). Exit 0 when every statement ran, 2 otherwise.
                """
        )
        @Argument(help: "The schema file (e.g. reports/workloads/v2-pipeline.sql).") var file: String
        @Option(help: "ClickHouse's HTTP interface, http://HOST:PORT.") var clickhouse: String = "http://127.0.0.1:8123"
        @Option(help: "The database to create and run the statements in.") var database: String = "default"
        @Option(name: .customLong("set"), help: "A placeholder's value, KEY=VALUE (repeatable), e.g. --set brokers=127.0.0.1:9092.")
        var values: [String] = []

        func run() throws {
            try reportingErrors { () throws in
                let url = try NetURL(clickhouse)
                guard url.scheme == "http" else {
                    throw BenchError(
                        .invalidArgument, what: "--clickhouse '\(clickhouse)' is not http://HOST:PORT",
                        remedy: "e.g. --clickhouse http://127.0.0.1:8123")
                }
                var substitutions = ["database": database]
                for pair in values {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, !parts[0].isEmpty else {
                        throw BenchError(
                            .invalidArgument, what: "--set '\(pair)' is not KEY=VALUE", remedy: "e.g. --set topic=market.crypto.trades.binance")
                    }
                    substitutions[String(parts[0])] = String(parts[1])
                }
                let schema = try ClickHouseSchema(path: file)
                let applied = try schema.run(host: url.host, port: url.port, database: database, values: substitutions)
                print(
                    "k2: ClickHouse \(applied.version): ran \(applied.ran) statements of \(file) in \(database)"
                        + (applied.skipped > 0 ? " (\(applied.skipped) guarded for other versions)" : ""))
            }
        }
    }
}

extension BenchCommand {
    struct Clock: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clock",
            abstract: "Serve this host's clock to shards on other hosts (k2 bench run --clock-ref HOST:PORT).",
            discussion: """
                Answers `time` with this host's wall clock, one line per request. Each shard measures its \
                clock's offset from it (NTP-style, the shortest of 8 round trips), waits for --start-at on \
                this clock, and reports the offset; k2 bench merge aligns the shards' intervals with it. \
                Runs until SIGINT/SIGTERM. See docs/bench.md, "Scale beyond one machine".
                """
        )
        @Option(help: "Address to listen on.") var host = "0.0.0.0"
        @Option(parsing: .unconditional, help: "Port to listen on (0 = a free port, printed).") var port: Port<AnyFreePort> = 7070

        func run() throws {
            let server = try reportingErrors { try ClockReference.serve(host: host, port: port.number) }
            print("\(host):\(server.port)")
            fflush(nil)
            StdErr.print("k2 bench clock: serving time on \(host):\(server.port) (Ctrl-C stops)")
            let done = Latch<Void>()
            StopSignals.install { _ in done.set() }
            done.wait()
            server.stop()
        }
    }
}
