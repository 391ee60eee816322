import Foundation
import K2Core
import K2TestSupport
import Testing

@testable import K2Bench

/// Builds reports from known values, so percentiles, merges and verdicts can be checked
/// against formulas.
enum Fixture {
    static func histogram(_ values: [(Int64, UInt64)]) -> Histogram {
        var result = Histogram(unit: .nanoseconds)
        for (v, c) in values { result.record(v, count: c) }
        return result
    }

    static func run(index: Int, latencies: [String: Histogram], rate: Double, cores: Double, seconds: Int = 5) -> BenchReport.Run {
        let iv = (1...seconds).map { second in
            BenchReport.IntervalPoint(
                t: Double(second), seconds: 1, offeredMsgs: rate, sentMsgs: rate, deliveredMsgs: [rate], sentMB: [rate * 200 / 1e6],
                backlog: [0], latenessP99Ms: 0.5, latenessMaxMs: 1)
        }
        let res = [
            ResourceSeries(
                name: "clickhouse-server", kind: "process",
                samples: (1...seconds).map {
                    ResourceSample(t: Double($0), cpuCores: cores, memoryBytes: 2_000_000_000, processes: 3)
                }),
            ResourceSeries(
                name: "k2 (harness)", kind: "harness",
                samples: (1...seconds).map {
                    ResourceSample(t: Double($0), cpuCores: 0.5, memoryBytes: 50_000_000, processes: 1)
                }),
        ]
        var lat: [BenchReport.Latency] = []
        for (key, histogram) in latencies.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: ".").map(String.init)
            lat.append(BenchReport.latency(kind: parts[0], basis: parts[1], histogram))
        }
        return BenchReport.Run(
            index: index, startedAt: "2026-01-01T00:00:00Z", measuredSeconds: Double(seconds), intervals: iv,
            latencies: lat,
            sinks: [.init(uri: "kafka://127.0.0.1:9092?topic=<x>", sent: 5, delivered: 5, failed: 0, bytes: 1000, failureReasons: [:])],
            resources: res, metrics: Assembler.metrics(intervals: iv, latencies: latencies, resources: res, sinkCount: 1))
    }

    static func report(_ runs: [BenchReport.Run], name: String = "test <workload>", reference: [Double]? = nil) throws -> BenchReport {
        BenchReport(
            tool: .init(version: "0.1.0", gitRevision: "abc1234"),
            environment: .init(
                hostname: "host&<1>", os: "Debian", kernel: "6.1", cpus: 2, memoryBytes: 24_000_000_000,
                startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:01:00Z"),
            workload: .init(
                name: name, path: "w.yaml", description: "<script>alert(1)</script>", source: "captures/x.k2cap",
                pace: "10k msg/s", warmupSeconds: 1, durationSeconds: 5, sinks: ["kafka://127.0.0.1:9092?topic=<x>"],
                repetitions: runs.count, targets: nil),
            runs: runs, metrics: try Assembler.combine(runs: runs),
            reference: reference.map { .init(name: "zstd -d", values: $0, unit: "MB/s") },
            notes: ["a note with <b>markup</b>"])
    }
}

@Suite struct ReportTests {
    @Test func percentilesFollowTheFormula() throws {
        // 10,000 values of 1 ms and one 100 s stall: p50..p99.99 are 1 ms (within bucket precision),
        // max is 100 s; with coordinated-omission correction at a 1 ms interval the stall adds
        // 99,999 values 1 ms … 99.999 s, so p50 is ~ the middle of them: (10,000 + 100,000) / 2
        // = 55,000th value ≈ 45 s.
        var histogram = Histogram(unit: .nanoseconds)
        for _ in 0..<10_000 { histogram.record(1_000_000) }
        histogram.record(100_000_000_000)
        let percentiles = BenchReport.percentilesMs(histogram)
        for label in ["p50", "p90", "p99", "p99.9", "p99.99"] {
            #expect(abs(percentiles[label]! - 1) < 0.002, "\(label) = \(percentiles[label]!)")
        }
        #expect(abs(percentiles["max"]! - 100_000) < 100)

        var corrected = Histogram(unit: .nanoseconds)
        for _ in 0..<10_000 { corrected.recordCorrectedValue(1_000_000, expectedInterval: 1_000_000) }
        corrected.recordCorrectedValue(100_000_000_000, expectedInterval: 1_000_000)
        #expect(corrected.totalCount == 110_000)
        let cp = BenchReport.percentilesMs(corrected)
        // The 55,000th value: 45,000th of the fill-ins 1 ms, 2 ms, … → 45 s.
        #expect(abs(cp["p50"]! - 45_000) / 45_000 < 0.01, "p50 = \(cp["p50"]!)")
        // p90: 99,000th value → 89,000th fill-in → 89 s.
        #expect(abs(cp["p90"]! - 89_000) / 89_000 < 0.01, "p90 = \(cp["p90"]!)")
    }

    @Test func repetitionsMergeHistogramsExactly() throws {
        let first = Fixture.histogram([(1_000_000, 900), (5_000_000, 100)])
        let second = Fixture.histogram([(2_000_000, 500), (50_000_000, 500)])
        let report = try Fixture.report([
            Fixture.run(index: 0, latencies: ["publish.intended": first], rate: 10_000, cores: 2),
            Fixture.run(index: 1, latencies: ["publish.intended": second], rate: 10_000, cores: 2),
        ])
        let merged = try report.mergedLatencies()["publish.intended"]!
        var expected = first
        expected.add(second)
        #expect(merged == expected)
        #expect(merged.totalCount == 2000)
        // Merged p50: 1000th of 2000 values: 900 × 1 ms, then 500 × 2 ms → 2 ms.
        #expect(abs(report.metrics["latency.publish.intended.p50"]!.value - 2) < 0.01)
        // p90 = 1800th: 900 + 500 + 100 (5 ms) = 1500 → the 50 ms values.
        #expect(abs(report.metrics["latency.publish.intended.p90"]!.value - 50) < 0.1)
        // Not the average of the two runs' p90s (5 ms and 50 ms).
        #expect(report.metrics["latency.publish.intended.p90"]!.samples == report.runs.map { $0.metrics["latency.publish.intended.p90"]!.value })
    }

    @Test func jsonRoundTripsAndRunDirectoryHasEveryFile() throws {
        let tmp = TemporaryDirectory()
        let histogram = Fixture.histogram([(1_000_000, 100)])
        let report = try Fixture.report([Fixture.run(index: 0, latencies: ["lateness.intended": histogram], rate: 1000, cores: 1)])
        var logs = HistogramLogWriter(startNanos: 1_700_000_000_000_000_000)
        logs.append(HistogramInterval(startSeconds: 0, lengthSeconds: 1, tag: "lateness", histogram: histogram))
        let files = try ReportFiles.write(report, to: tmp.file("run"), intervalLogs: ["lateness.intended": logs.text])
        #expect(files.map { ($0 as NSString).lastPathComponent } == ["report.json", "report.md", "report.html", "lateness.intended.hlog"])
        let back = try ReportFiles.load(tmp.file("run"))
        #expect(back == report)
        let json = try String(contentsOfFile: tmp.file("run/report.json"), encoding: .utf8)
        #expect(json.contains("\"schema\" : \"k2-bench-report/1\""))
        let parsed = try HistogramLogReader.parse(try String(contentsOfFile: tmp.file("run/lateness.intended.hlog"), encoding: .utf8))
        #expect(parsed.intervals.first?.histogram == histogram)
    }

    @Test func badReportIsOneLine() {
        let tmp = TemporaryDirectory()
        _ = FileManager.default.createFile(atPath: tmp.file("r.json"), contents: Data("{\"schema\":\"k2-bench-report/1\"}".utf8))
        do { _ = try ReportFiles.load(tmp.file("r.json")); Issue.record("no error") } catch {
            #expect(error.description.contains("not a k2 bench report: missing 'tool'"))
        }
        do { _ = try ReportFiles.load(tmp.file("nope")); Issue.record("no error") } catch {
            #expect(error.code == .fileNotFound)
        }
    }

    @Test func htmlEscapesEveryStringAndIsSelfContained() throws {
        let report = try Fixture.report([
            Fixture.run(index: 0, latencies: ["publish.intended": Fixture.histogram([(1_000_000, 10)])], rate: 100, cores: 1)
        ])
        let html = ReportHTML.render(report)
        #expect(!html.contains("<script"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("host&amp;&lt;1&gt;"))
        #expect(html.contains("topic=&lt;x&gt;"))
        #expect(html.contains("&lt;b&gt;markup&lt;/b&gt;"))
        #expect(!html.contains("src=\"http") && !html.contains("href=\"http"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 6)
        let md = ReportMarkdown.render(report)
        #expect(md.contains("### Latency"))
        #expect(md.contains("| publish | intended | 10 |"))
    }
}

@Suite struct VerdictTests {
    static func targets() throws -> TargetsFile {
        try TargetsLoader.load(file: TargetsTests.repoRoot + "/reports/targets/k2-v2.yaml")
    }

    @Test func verifyBuildsTheTableAndFailsOnAMissedTarget() throws {
        // e2e p50 2 ms, p99 ~12 ms: pass; SUT 20 cores mean: cpu-steady and cpu-peak fail.
        let e2e = Fixture.histogram([(2_000_000, 980), (12_000_000, 20)])
        let report = try Fixture.report([Fixture.run(index: 0, latencies: ["end_to_end.intended": e2e], rate: 12_000, cores: 20)])
        let verification = Verification.verify(report, targets: try Self.targets())
        func row(_ id: String) -> Verification.Row { verification.rows.first { $0.figure.id == id }! }
        #expect(row("latency-p50").verdict == .pass)
        #expect(row("latency-p50").metric == "latency.end_to_end.intended.p50")
        #expect(abs(row("latency-p50").ratioVsV1! - 250) < 1)  // 500 ms / 2 ms
        #expect(row("latency-p99").verdict == .pass)
        #expect(row("ingestion-throughput").verdict == .pass)  // 12k ≥ 10k
        #expect(abs(row("ingestion-throughput").ratioVsV1! - 1.2) < 1e-9)  // vs 10k, the end most favourable to v1
        #expect(row("burst-throughput").verdict == .fail)  // 12k < 50k
        #expect(row("cpu-steady").verdict == .fail)
        #expect(row("ram-steady").verdict == .pass)  // 2 GB
        #expect(abs(row("ram-steady").measured! - 2) < 1e-9)
        #expect(row("services").verdict == .notMeasured)
        #expect(row("ws-to-queryable").verdict == .notMeasured)  // no freshness probes here
        #expect(row("latency-p95").verdict == .info)
        #expect(verification.failed)
        let md = verification.markdown()
        #expect(md.contains("| ingestion latency p99 (from intended send) | 5,000 ms (000) | < 1,000 ms (000, 001, 004) |"))
        #expect(md.contains("| services (containers) | 18–20 services (000, 001) | ≤ 11 services (000, 004) | not measured | not measured | – |"))
        #expect(verification.claimsText().contains("\"6x faster\" (6x, source 000) — measured: latency-p50 249.9x"))
    }

    @Test func verifyPassesWhenEveryMeasuredTargetHolds() throws {
        let e2e = Fixture.histogram([(2_000_000, 1000)])
        var run = Fixture.run(index: 0, latencies: ["end_to_end.intended": e2e], rate: 60_000, cores: 4)
        run.metrics["throughput.achieved.peak_msgs_per_s"]?.value = 60_000
        let report = try Fixture.report([run])
        let verification = Verification.verify(report, targets: try Self.targets())
        #expect(!verification.failed, "\(verification.markdown())")
        #expect(verification.summary.hasSuffix("PASS"))
    }

    @Test func compareGatesOnlyRealShifts() throws {
        var rng = SplitMix64(seed: 5)
        func runs(_ rate: Double, _ lat: Int64) -> [BenchReport.Run] {
            (0..<3).map { i in
                var run = Fixture.run(index: i, latencies: ["lateness.intended": Fixture.histogram([(lat, 100)])], rate: rate, cores: 1, seconds: 8)
                // Per-interval noise of ±2 %.
                for k in run.intervals.indices {
                    let noise = 1 + (rng.nextDouble() - 0.5) * 0.04
                    run.intervals[k].deliveredMsgs = [rate * noise]
                    run.intervals[k].sentMsgs = rate * noise
                }
                run.metrics = Assembler.metrics(
                    intervals: run.intervals, latencies: ["lateness.intended": Fixture.histogram([(lat, 100)])],
                    resources: run.resources, sinkCount: 1)
                return run
            }
        }
        let base = try Fixture.report(runs(10_000, 1_000_000))
        let same = try Fixture.report(runs(10_000, 1_000_000))
        let slower = try Fixture.report(runs(8_000, 1_000_000))
        let faster = try Fixture.report(runs(12_000, 1_000_000))
        let metric = ["throughput.achieved.msgs_per_s"]
        #expect(Comparison.compare(baseline: base, current: same, metrics: metric).exitCode == 0)
        let reg = Comparison.compare(baseline: base, current: slower, metrics: metric)
        #expect(reg.exitCode == 2)
        #expect(reg.markdown().contains("**REGRESSION**"))
        #expect(Comparison.compare(baseline: base, current: faster, metrics: metric).exitCode == 4)

        // A machine half as fast (reference halved) with half the throughput is not a regression.
        let b2 = try Fixture.report(runs(10_000, 1_000_000), reference: [800, 810, 790])
        let c2 = try Fixture.report(runs(5_000, 1_000_000), reference: [400, 405, 395])
        #expect(Comparison.compare(baseline: b2, current: c2, metrics: metric).exitCode == 2)
        let norm = Comparison.compare(baseline: b2, current: c2, metrics: metric, normalize: true)
        #expect(norm.normalized)
        #expect(norm.exitCode == 0, "\(norm.markdown())")
    }
}
