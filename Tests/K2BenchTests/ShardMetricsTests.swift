import Foundation
import K2Core
import K2Net
import K2TestSupport
import Testing

@testable import K2Bench
@testable import K2Replay

@Suite struct ShardMergeTests {
    /// Messages split over 4 shards with `Shard.keeps` (as `--shard i/N` does), each with a seeded
    /// latency: the merge of the 4 shard reports has exactly the histograms, percentiles and
    /// summed throughput of the report of the whole.
    @Test func mergingShardReportsEqualsTheReportOfTheWhole() throws {
        let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "BNBUSDT", "LTCUSDT"]
        let shardCount = 4
        var rng = SplitMix64(seed: 99)
        var whole = Histogram(unit: .nanoseconds)
        var parts = [Histogram](repeating: Histogram(unit: .nanoseconds), count: shardCount)
        var counts = [Double](repeating: 0, count: shardCount)
        for _ in 0..<20_000 {
            let sym = symbols[Int(rng.next() % UInt64(symbols.count))]
            // Log-uniform latency 10 µs … 1 s.
            let latency = Int64(pow(10, 4 + 5 * rng.nextDouble()))
            whole.record(latency)
            let shardIndex = (0..<shardCount).first { s in
                Array(sym.utf8).withUnsafeBytes { Shard(index: s, count: shardCount).keeps(symbol: $0, connection: 0) }
            }!
            parts[shardIndex].record(latency)
            counts[shardIndex] += 1
        }
        #expect(counts.filter { $0 > 0 }.count >= 2, "the split must put messages on several shards")
        let shards = try (0..<shardCount).map { i -> BenchReport in
            var report = try Fixture.report([Fixture.run(index: 0, latencies: ["publish.intended": parts[i]], rate: counts[i] / 5, cores: 0.25)])
            report.workload.shard = "\(i)/\(shardCount)"
            return report
        }
        let all = try Fixture.report([Fixture.run(index: 0, latencies: ["publish.intended": whole], rate: 20_000 / 5, cores: 1)])
        let merged = try ReportMerge.merge(shards)
        #expect(try merged.mergedLatencies()["publish.intended"] == whole)
        for (label, _) in BenchReport.percentiles {
            let name = "latency.publish.intended.\(label)"
            #expect(merged.metrics[name]?.value == all.metrics[name]?.value, "\(name)")
        }
        #expect(abs(merged.metrics["throughput.achieved.msgs_per_s"]!.value - all.metrics["throughput.achieved.msgs_per_s"]!.value) < 1e-6)
        #expect(abs(merged.metrics["throughput.offered.msgs_per_s"]!.value - all.metrics["throughput.offered.msgs_per_s"]!.value) < 1e-6)
        #expect(abs(merged.metrics["resources.sut.cpu_cores.mean"]!.value - 1) < 1e-9)
        #expect(merged.workload.shard == nil)

        // The same shard twice is a mistake, not a merge.
        #expect(throws: BenchError.self) { try ReportMerge.merge([shards[0], shards[0]]) }
    }

    /// Shard `index` of 3 at `rate` msg/s per interval, its repetition started at `start`.
    static func shard(_ index: Int, rate: Double, start: String, seconds: Int = 5) throws -> BenchReport {
        var run = Fixture.run(
            index: 0, latencies: ["publish.intended": Fixture.histogram([(1_000_000, 10)])], rate: rate, cores: 0.25, seconds: seconds)
        run.startedAt = start
        var report = try Fixture.report([run])
        report.workload.shard = "\(index)/3"
        return report
    }

    /// Intervals are summed by time: a shard that started one interval (1 s) later is shifted,
    /// and the merged window is the time every shard covers; the skew is a metric and a note.
    @Test func intervalsAreSummedAlignedInTimeAndTheSkewIsReported() throws {
        let together = try ReportMerge.merge([
            try Self.shard(0, rate: 1_000, start: "2026-01-01T00:00:00.000Z"),
            try Self.shard(1, rate: 2_000, start: "2026-01-01T00:00:00.004Z"),
            try Self.shard(2, rate: 4_000, start: "2026-01-01T00:00:00.012Z"),
        ])
        #expect(together.runs[0].intervals.map(\.offeredMsgs) == [7_000, 7_000, 7_000, 7_000, 7_000])
        #expect(abs(together.metrics["shards.start_skew_ms"]!.value - 12) < 1e-6)
        #expect(together.metrics["shards.missing"]?.value == 0)
        #expect(together.notes.contains { $0.hasPrefix("shards started within 12.0 ms") })
        #expect(!together.notes.contains { $0.hasPrefix("the shards did not start together") })

        // Shard 2 a whole second late: its interval k is the others' k + 1; 4 intervals overlap.
        var late = try Self.shard(2, rate: 4_000, start: "2026-01-01T00:00:01.000Z")
        late.runs[0].intervals[0].offeredMsgs = 100  // its first interval, the others' second
        let shifted = try ReportMerge.merge([
            try Self.shard(0, rate: 1_000, start: "2026-01-01T00:00:00.000Z"),
            try Self.shard(1, rate: 2_000, start: "2026-01-01T00:00:00.000Z"),
            late,
        ])
        #expect(shifted.runs[0].intervals.map(\.offeredMsgs) == [3_100, 7_000, 7_000, 7_000])
        #expect(shifted.metrics["shards.start_skew_ms"]!.value == 1_000)
        #expect(shifted.notes.contains { $0.hasPrefix("the shards did not start together (1.00 s apart)") })
    }

    /// Shards on hosts whose clocks differ: shard 2's clock is 1 s ahead, so its start time reads
    /// a second late although it started with the others. With the offsets measured against one
    /// reference (`--clock-ref`) the merge puts every start on the reference's clock: no shift, the
    /// true skew, and the offsets in a note and two metrics. Without them the same reports shift.
    @Test func measuredClockOffsetsPutTheShardsOnOneTimeLine() throws {
        func measured(_ report: BenchReport, offsetMs: Double) -> BenchReport {
            var copy = report
            copy.environment.clock = ClockReference.Measurement(reference: "10.77.0.1:9093", offsetMs: offsetMs, roundTripMs: 0.2, samples: 8)
            return copy
        }
        let reports = [
            try Self.shard(0, rate: 1_000, start: "2026-01-01T00:00:00.000Z"),
            try Self.shard(1, rate: 2_000, start: "2026-01-01T00:00:00.003Z"),
            try Self.shard(2, rate: 4_000, start: "2026-01-01T00:00:01.005Z"),
        ]
        let uncorrected = try ReportMerge.merge(reports)
        #expect(abs(uncorrected.metrics["shards.start_skew_ms"]!.value - 1_005) < 1e-6)
        #expect(uncorrected.metrics["shards.clock_offset_max_ms"] == nil)

        let corrected = try ReportMerge.merge([
            measured(reports[0], offsetMs: 0.5), measured(reports[1], offsetMs: -0.5), measured(reports[2], offsetMs: -1_000),
        ])
        #expect(corrected.runs[0].intervals.map(\.offeredMsgs) == [7_000, 7_000, 7_000, 7_000, 7_000])
        // On the reference's clock: 0.5 ms, 2.5 ms and 5 ms.
        #expect(abs(corrected.metrics["shards.start_skew_ms"]!.value - 4.5) < 1e-6)
        #expect(corrected.metrics["shards.clock_offset_max_ms"]?.value == 1_000)
        #expect(abs(corrected.metrics["shards.clock_uncertainty_max_ms"]!.value - 0.1) < 1e-9)
        #expect(
            corrected.notes.contains {
                $0.hasPrefix("clock offsets from the reference 10.77.0.1:9093: shard 0/3 +0.500 ms (± 0.100), shard 1/3 -0.500 ms")
            })
        #expect(corrected.notes.contains { $0.contains("on the reference's clock: each corrected by its measured offset") })

        // One shard without a measurement is named, and taken as on the reference's clock.
        let partly = try ReportMerge.merge([measured(reports[0], offsetMs: 0), reports[1], measured(reports[2], offsetMs: -1_000)])
        #expect(partly.notes.contains { $0.contains("shard 1/3 not measured") && $0.contains("give every shard --clock-ref") })
    }

    /// A shard without a report makes the merge say so (and `isIncomplete`), never a silent under-count.
    @Test func aMissingShardMakesTheMergeIncomplete() throws {
        let merged = try ReportMerge.merge(
            [
                try Self.shard(0, rate: 1_000, start: "2026-01-01T00:00:00Z"),
                try Self.shard(2, rate: 1_000, start: "2026-01-01T00:00:00Z"),
            ], missing: [.init(path: "/reports/shard-1", reason: "failed: the replay stopped: broker down")])
        #expect(ReportMerge.isIncomplete(merged))
        #expect(merged.metrics["shards.missing"]?.value == 1)
        let note = try #require(merged.notes.first)
        #expect(
            note.hasPrefix("INCOMPLETE: merged 2 of 3 shards; missing shard 1/3 (/reports/shard-1: failed: the replay stopped: broker down)"),
            "\(note)")
        // Also without being told: the shards' i/N show the gap.
        let unnamed = try ReportMerge.merge([
            try Self.shard(0, rate: 1_000, start: "2026-01-01T00:00:00Z"),
            try Self.shard(1, rate: 1_000, start: "2026-01-01T00:00:00Z"),
        ])
        #expect(unnamed.notes.first?.hasPrefix("INCOMPLETE: merged 2 of 3 shards; missing shard 2/3.") == true)
        // `k2 bench verify` of an incomplete merge never passes: the table opens with the note.
        let targets = try TargetsLoader.load(file: TargetsTests.repoRoot + "/reports/targets/k2-v2.yaml")
        let verification = Verification.verify(merged, targets: targets)
        #expect(verification.failed)
        #expect(verification.summary.hasSuffix("INCOMPLETE (a merge without every shard): FAIL"))
        #expect(verification.markdown().hasPrefix("**INCOMPLETE: merged 2 of 3 shards"))
        let whole = try ReportMerge.merge([
            try Self.shard(0, rate: 1_000, start: "2026-01-01T00:00:00Z"),
            try Self.shard(1, rate: 1_000, start: "2026-01-01T00:00:00Z"),
            try Self.shard(2, rate: 1_000, start: "2026-01-01T00:00:00Z"),
        ])
        #expect(Verification.verify(whole, targets: targets).incomplete == nil)
    }

    @Test func aFailedShardDirectorySaysWhy() throws {
        let dir = TemporaryDirectory()
        try ReportFiles.writeFailure("bench: the replay stopped: broker down", to: dir.file("shard-1"))
        #expect(ReportFiles.missingReason(dir.file("shard-1")) == "failed: bench: the replay stopped: broker down")
        #expect(ReportFiles.missingReason(dir.file("shard-9"))?.hasPrefix("no such run directory") == true)
        try ReportFiles.write(try Self.shard(0, rate: 1, start: "2026-01-01T00:00:00Z"), to: dir.file("shard-0"))
        #expect(ReportFiles.missingReason(dir.file("shard-0")) == nil)
    }

    @Test func startTimesParse() {
        #expect(WorkloadRun.parseStartTime("@1796516058.5") == 1_796_516_058_500_000_000)
        #expect(WorkloadRun.parseStartTime("2026-12-06T10:00:00Z") == TimeText.parseISO8601("2026-12-06T10:00:00Z"))
        #expect(WorkloadRun.parseStartTime("soon") == nil)
        #expect(WorkloadRun.parseStartTime("@-5") == nil)
    }
}

@Suite struct MetricsServerTests {
    @Test func exposesPrometheusText() {
        var lat = Histogram(unit: .nanoseconds)
        lat.record(2_000_000, count: 99)
        lat.record(40_000_000)
        var counts = SinkCounts()
        counts.sent = 10
        counts.delivered = 8
        counts.failed = 1
        let text = PrometheusText.render(
            LiveMetrics.samples(
                .init(
                    workload: "ci", repetition: 0,
                    interval: .init(
                        t: 1, seconds: 1, offeredMsgs: 5_000, sentMsgs: 4_990, deliveredMsgs: [4_990], sentMB: [1], backlog: [12], consumedMsgs: 4_900
                    ),
                    sinks: [(uri: "kafka://h:9092?topic=\"t\"", counts: counts)], consumed: 7,
                    latencies: ["publish.intended": lat],
                    resources: [
                        ResourceSeries(name: "k2 (harness)", kind: "harness", samples: [.init(t: 1, cpuCores: 0.5, memoryBytes: 1_000, processes: 1)])
                    ],
                    // The sending thread waited for the sink half the interval: system-bound.
                    harness: HarnessLoad(
                        startNanos: 0, lengthNanos: 1_000_000_000, sent: 4_990, delivered: 4_990, waitedNanos: 200_000_000,
                        blockedNanos: 500_000_000, latenessP99Nanos: 3_000_000, latenessBudgetNanos: 1_000_000, cpuNanos: 400_000_000, cores: 2,
                        runQueueNanos: nil))))
        #expect(text.contains("# TYPE k2_bench_offered_messages_per_second gauge\nk2_bench_offered_messages_per_second 5000\n"))
        #expect(text.contains("k2_bench_backlog_messages{sink=\"kafka://h:9092?topic=\\\"t\\\"\"} 12\n"))
        #expect(text.contains("# TYPE k2_bench_messages_delivered_total counter\n"))
        #expect(text.contains("k2_bench_messages_failed_total{sink=\"kafka://h:9092?topic=\\\"t\\\"\"} 1\n"))
        #expect(text.contains("k2_bench_consumer_lag_messages 1\n"))
        #expect(text.contains("k2_bench_latency_seconds{kind=\"publish\",basis=\"intended\",quantile=\"0.5\"} 0.002"))
        #expect(text.contains("k2_bench_latency_seconds{kind=\"publish\",basis=\"intended\",quantile=\"1\"} 0.04"))
        #expect(text.contains("k2_bench_cpu_cores{process=\"k2 (harness)\",kind=\"harness\"} 0.5\n"))
        // One HELP/TYPE header per name.
        #expect(text.components(separatedBy: "# TYPE k2_bench_latency_seconds ").count == 2)
        // What limited the interval, as one gauge per label, and its evidence.
        #expect(
            text.contains("k2_bench_bound{bound=\"system-bound\"} 1\nk2_bench_bound{bound=\"harness-bound\"} 0\n")
                || text.contains("k2_bench_bound{bound=\"harness-bound\"} 0\nk2_bench_bound{bound=\"system-bound\"} 1\n"), "\(text)")
        #expect(text.contains("k2_bench_sending_busy_ratio 0.8\n"), "\(text)")
        #expect(text.contains("k2_bench_sink_blocked_ratio 0.5\n"), "\(text)")
        #expect(text.contains("k2_bench_interval_lateness_p99_seconds 0.003\n"), "\(text)")
    }

    /// A real run with `--metrics-port`: curl scrapes the endpoint while the replay goes on.
    @Test func curlScrapesALiveRun() throws {
        let tmp = TemporaryDirectory()
        let cap = tmp.file("m.k2cap")
        try SampleTraffic(seed: 5).write(to: cap, count: 3_000)
        let workload = try WorkloadLoader.parse(
            """
            name: live
            source: {captures: [\(cap)], loop: true}
            rate: 2k
            duration: 3s
            sinks: [mock://]
            """, file: tmp.file("w.yaml"))
        let server = try MetricsServer(port: 0)
        defer { server.stop() }
        let scraped = LockedValue<[String]>([])
        let done = LockedValue(false)
        let scraper = Thread {
            while !done.value {
                if let body = try? Shell.run("curl -s --max-time 2 http://127.0.0.1:\(server.port)/metrics") {
                    scraped.mutate { $0.append(body) }
                }
                usleep(300_000)
            }
        }
        scraper.start()
        let out = try WorkloadRun.run(workload, metrics: server)
        done.mutate { $0 = true }
        let bodies = scraped.value
        #expect(out.report.metrics["throughput.achieved.msgs_per_s"] != nil)
        let live = try #require(bodies.last { $0.contains("k2_bench_offered_messages_per_second") }, "scrapes: \(bodies.count)")
        #expect(live.contains("k2_bench_repetition{workload=\"live\"} 1"))
        #expect(live.contains("k2_bench_messages_delivered_total{sink=\"mock://\"}"))
        #expect(live.contains("k2_bench_latency_seconds{kind=\"lateness\",basis=\"intended\",quantile=\"0.99\"}"))
        #expect(live.contains("k2_bench_latency_seconds{kind=\"delivery\",basis=\"intended\",quantile=\"0.5\"}"))
        #expect(live.contains("k2_bench_cpu_cores{process=\"k2 (harness)\",kind=\"harness\"}"))
    }
}

/// The CI gate's CPU-per-message metric and the comparison it feeds.
@Suite struct GateTests {
    static func report(cpuUsPerMsg: [Double], referenceCPU: [Double]) throws -> BenchReport {
        var runs = cpuUsPerMsg.enumerated().map { i, us -> BenchReport.Run in
            var run = Fixture.run(index: i, latencies: [:], rate: 50_000, cores: 1)
            run.metrics["resources.harness.cpu_us_per_msg"] = .init(value: us, unit: "us", better: .lower)
            return run
        }
        let ref = BenchReport.Reference(name: "zstd -d", values: referenceCPU, unit: "MB/s", cpuValues: referenceCPU)
        Assembler.addReferenceCPU(&runs, reference: ref)
        return BenchReport(
            tool: .init(), environment: try Fixture.report([runs[0]]).environment, workload: try Fixture.report([runs[0]]).workload,
            runs: runs, metrics: try Assembler.combine(runs: runs), reference: ref)
    }

    static let metric = ["resources.harness.cpu_per_msg_zstd_bytes"]

    @Test func aSlowerMachineIsNotARegressionAndASlowerReplayIs() throws {
        let base = try Self.report(cpuUsPerMsg: [4.6, 4.7, 4.8], referenceCPU: [700, 690, 710])
        // The least disturbed repetition: 4.6 µs × 700 MB/s (median reference) = 3,220 bytes of zstd -d output per message.
        #expect(abs(base.metrics["resources.harness.cpu_per_msg_zstd_bytes"]!.value - 3_220) < 1e-6)
        #expect(
            base.metrics["resources.harness.cpu_per_msg_zstd_bytes"]!.samples == [base.metrics["resources.harness.cpu_per_msg_zstd_bytes"]!.value])
        let thresholds = [("*", Threshold(relative: 0.20, minSamples: 5))]  // as the gate: 3 repetitions, thresholds decide
        // Half-speed machine: twice the CPU per message, half the reference → the same.
        let slowMachine = try Self.report(cpuUsPerMsg: [9.2, 9.4, 9.6], referenceCPU: [350, 345, 355])
        #expect(Comparison.compare(baseline: base, current: slowMachine, metrics: Self.metric, thresholds: thresholds).exitCode == 0)
        // Noise of a few % is not a regression.
        let noisy = try Self.report(cpuUsPerMsg: [4.9, 4.5, 4.8], referenceCPU: [660, 720, 700])
        #expect(Comparison.compare(baseline: base, current: noisy, metrics: Self.metric, thresholds: thresholds).exitCode == 0)
        // A replay 25 % more expensive per message on the same machine is.
        let slower = try Self.report(cpuUsPerMsg: [5.75, 5.9, 6.0], referenceCPU: [700, 690, 710])
        let comparison = Comparison.compare(baseline: base, current: slower, metrics: Self.metric, thresholds: thresholds)
        #expect(comparison.exitCode == 2, "\(comparison.markdown())")
        // …and 25 % cheaper is an improvement (exit 4, which the gate passes).
        let faster = try Self.report(cpuUsPerMsg: [3.5, 3.55, 3.6], referenceCPU: [700, 690, 710])
        #expect(Comparison.compare(baseline: base, current: faster, metrics: Self.metric, thresholds: thresholds).exitCode == 4)
    }

    @Test func bestSampleIgnoresADisturbedRepetition() {
        let threshold = Threshold(relative: 2.0, absolute: 20, minSamples: 5, best: true)
        // p99 per repetition (ms): one or two repetitions starved by neighbours.
        let base = [12.6, 34.1, 40.7]
        let starved = MetricComparison.compare(name: "p99", better: .lower, baseline: base, current: [14.6, 551.6, 2_309], threshold: threshold)
        #expect(starved.verdict == .same, "\(starved.reason)")
        #expect(starved.currentMedian == 14.6)
        // Every repetition slower: a regression.
        let slow = MetricComparison.compare(name: "p99", better: .lower, baseline: base, current: [45, 60, 80], threshold: threshold)
        #expect(slow.verdict == .regression, "\(slow.reason)")
        #expect(slow.reason.contains("best samples"))
        // With medians the starved run would have been flagged.
        var med = threshold
        med.best = false
        #expect(
            MetricComparison.compare(name: "p99", better: .lower, baseline: base, current: [14.6, 551.6, 2_309], threshold: med).verdict
                == .regression)
        // Higher-is-better takes the maximum.
        #expect(
            MetricComparison.compare(
                name: "x", better: .higher, baseline: [100, 50], current: [99, 10], threshold: Threshold(relative: 0.1, best: true)
            ).verdict == .same)
    }

    @Test func referenceMeasuresWallAndCPUSpeed() throws {
        let measurement = try ReferenceWorkload.zstdMeasure(megabytes: 4, rounds: 2)
        #expect(measurement.mbPerSecond > 0)
        #expect(measurement.mbPerCPUSecond > 0)
    }

    @Test func shippedBaselinesLoadAndHoldTheGatedMetrics() throws {
        let root = TargetsTests.repoRoot
        let ci = try ReportFiles.load(root + "/reports/baselines/ci.json")
        for metric in [
            "throughput.achieved.msgs_per_s", "throughput.consumer.msgs_per_s", "latency.publish.intended.p99", "latency.end_to_end.intended.p99",
        ] {
            #expect(ci.metrics[metric] != nil, "\(metric)")
        }
        let speed = try ReportFiles.load(root + "/reports/baselines/ci-speed.json")
        #expect(speed.metrics["resources.harness.cpu_per_msg_zstd_bytes"]?.samples?.count == 1)
        #expect(speed.runs.count == 3)
        #expect(speed.reference?.cpuValues?.count == 3)
    }
}

@Suite struct ProfileSourceTests {
    /// `source: {profile: …}`: the profile is generated (seeded) before the run and replayed.
    @Test func aK2SimProfileIsGeneratedAndReplayed() throws {
        let tmp = TemporaryDirectory()
        let prof = tmp.file("tiny.yaml")
        _ = FileManager.default.createFile(
            atPath: prof,
            contents: Data(
                """
                name: tiny
                seed: 1
                venues: [binance]
                start: 2024-03-01T00:00:00Z
                market:
                  symbols: 5
                timeline:
                  - shape: constant
                    rate: 500
                    duration: 5s
                """.utf8))
        let workload = try WorkloadLoader.parse(
            """
            name: from-profile
            source: {profile: \(prof), seed: 9}
            rate: 1k
            duration: 1s
            sinks: [mock://]
            """, file: tmp.file("w.yaml"))
        let out = try WorkloadRun.run(workload)
        #expect(out.report.workload.source.contains("K2Sim profile"))
        #expect(out.report.runs[0].sinks[0].delivered > 0)
        #expect(out.report.metrics["throughput.achieved.msgs_per_s"]!.value > 0)
    }
}
