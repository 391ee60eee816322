import Foundation
import K2TestSupport
import Testing

@testable import K2Bench

/// The rest of the whole verdict: "where the time goes" under failing latency rows, the burst
/// phase (`burst:`) and its figures, and availability as the uptime figure.
@Suite struct WhereTheTimeGoesTests {
    static func targets() throws -> TargetsFile {
        try TargetsLoader.load(file: TargetsTests.repoRoot + "/reports/targets/k2-v2.yaml")
    }

    @Test func aFailingIngestionLatencyNamesTheFlushAndItsSettings() throws {
        // Publish 6 ms, end to end 9 ms, freshness 1 s: the flush (freshness − end to end) holds 99 %.
        let lat = [
            "publish.intended": Fixture.histogram([(6_000_000, 1000)]),
            "end_to_end.intended": Fixture.histogram([(9_000_000, 1000)]),
            "freshness.intended": Fixture.histogram([(1_000_000_000, 100)]),
        ]
        var report = try Fixture.report([Fixture.run(index: 0, latencies: lat, rate: 12_000, cores: 1)])
        report.workload.clickhouseSettings = ["stream_flush_interval_ms": "500"]
        let verification = Verification.verify(report, targets: try Self.targets())
        func row(_ id: String) -> Verification.Row { verification.rows.first { $0.figure.id == id }! }
        let p50 = row("latency-p50")
        #expect(p50.verdict == .fail && p50.metric == "latency.freshness.intended.p50")
        let metrics = report.metrics
        func ms(_ name: String) -> String { Units.format(metrics[name]!.value) + " ms" }
        let flush = Units.format(metrics["latency.freshness.intended.p50"]!.value - metrics["latency.end_to_end.intended.p50"]!.value) + " ms"
        let line = try #require(p50.breakdown)
        #expect(
            line.hasPrefix(
                "where the time goes (p50 from the intended send): to the broker and back (publish) \(ms("latency.publish.intended.p50"))"
                    + " · broker to consumer (end to end) \(ms("latency.end_to_end.intended.p50")) · broker to queryable (freshness − end to end) \(flush)"
                    + " — the ClickHouse Kafka engine's flush holds 99 % of it: stream_flush_interval_ms = 500 (embedded.clickhouse_settings), kafka_max_block_size"
            ), "\(line)")
        #expect(line.contains("kafka_flush_interval_ms (the Kafka table's setting on current releases)"))
        // A passing or unjudged row has none; the table prints the line under it, the HTML in a row of its own.
        #expect(row("producer-ack").breakdown == nil && row("ingestion-throughput").breakdown == nil)
        let md = verification.markdown(includeUnmeasured: false)
        #expect(md.contains("\n- ingestion latency p50 (from intended send) fails: where the time goes (p50"))
        #expect(md.contains("\n- ingestion latency p99 (from intended send) fails: where the time goes (p99"))
        #expect(ReportHTML.render(report, verification: verification).contains("<td colspan=\"5\" class=\"why\">where the time goes (p50"))
    }

    @Test func withoutAFlushThePublishOrTheSlotWaitIsNamed() {
        let slow = TimeBreakdown.ingestion(
            percentile: "p99", basis: "intended", publish: 900, endToEnd: 950, freshness: nil, lateness: 1, settings: [:])
        #expect(
            slow
                == "where the time goes (p99 from the intended send): to the broker and back (publish) 900 ms · broker to consumer (end to end) 950 ms"
                + " — the broker's acknowledgement holds 95 % of it (producer batch.num.messages, linger.ms, acks; the broker's load)")
        let late = TimeBreakdown.ingestion(
            percentile: "p50", basis: "intended", publish: 600, endToEnd: nil, freshness: nil, lateness: 500, settings: [:])
        #expect(late?.contains("of it the replay's own lateness 500 ms (the harness did not keep up)") == true)
        #expect(late?.contains(" — the replay itself fell behind its schedule (lateness 500 ms): a limit of the harness") == true)
        // Probes travel apart from the replay: a publish p50 above the freshness p50 is capped at 100 %.
        let over = TimeBreakdown.ingestion(
            percentile: "p50", basis: "intended", publish: 3000, endToEnd: 3500, freshness: 1400, lateness: 100, settings: [:])
        #expect(
            over?.hasSuffix("the broker's acknowledgement holds 100 % of it (producer batch.num.messages, linger.ms, acks; the broker's load)")
                == true, "\(over ?? "")")
        let defaults = TimeBreakdown.flushSettings([:])
        #expect(defaults.hasPrefix("stream_flush_interval_ms (18.16's profile default 7,500)"))
        let query = TimeBreakdown.query(class: "cold", percentile: "p99", corrected: 900, uncorrected: 100)
        #expect(
            query
                == "where the time goes (p99, class cold): the query itself (from its actual start) 100 ms · waiting for a free slot (intended − actual start) 800 ms"
                + " — queueing holds it: raise queries.concurrency or lower the class's rate")
        #expect(TimeBreakdown.query(class: "cold", percentile: "p99", corrected: 900, uncorrected: nil) == nil)
    }

    @Test func aFailingColdPathQueryIsBrokenDownToQueueingAndTheQuery() throws {
        var run = Fixture.run(index: 0, latencies: [:], rate: 12_000, cores: 1)
        run.metrics["latency.query.cold.p99"] = .init(value: 900, unit: "ms", better: .lower)
        run.metrics["latency.query_uncorrected.cold.p99"] = .init(value: 100, unit: "ms", better: .lower)
        let verification = Verification.verify(try Fixture.report([run]), targets: try Self.targets())
        let row = try #require(verification.rows.first { $0.figure.id == "l3-cold-path" })
        #expect(row.verdict == .fail && row.breakdown?.contains("waiting for a free slot (intended − actual start) 800 ms") == true)
    }
}

@Suite struct BurstPhaseTests {
    static func interval(_ t: Double, delivered: Double, backlog: Double, behind: Double) -> BenchReport.IntervalPoint {
        var point = BenchReport.IntervalPoint(
            t: t, seconds: 1, offeredMsgs: delivered, sentMsgs: delivered, deliveredMsgs: [delivered],
            sentMB: [0], backlog: [backlog])
        point.clickhouseBehind = behind
        return point
    }

    @Test func peakBacklogAndCatchUpAfterTheBurst() {
        // 10 msg/s, a burst of 100 msg/s from 3 s to 5 s; ClickHouse at most 5 rows behind before,
        // 80 at the burst's end, back to 4 at t = 7: caught up 2 s after the burst.
        let delivered: [Double] = [10, 10, 10, 100, 100, 10, 10, 10]
        let behind: [Double] = [5, 3, 5, 50, 80, 40, 4, 2]
        let backlog: [Double] = [0, 0, 0, 30, 12, 0, 0, 0]
        let iv: [BenchReport.IntervalPoint] = (0..<8).map { (i: Int) -> BenchReport.IntervalPoint in
            Self.interval(Double(i + 1), delivered: delivered[i], backlog: backlog[i], behind: behind[i])
        }
        let burst = Workload.Burst(rate: 100, atNanos: 3_000_000_000, lengthNanos: 2_000_000_000)
        let (metrics, notes) = Assembler.burstMetrics(intervals: iv, burst: burst)
        #expect(notes.isEmpty)
        #expect(metrics["burst.offered.msgs_per_s"]?.value == 100)
        #expect(metrics["burst.achieved.peak_msgs_per_s"]?.value == 100)
        #expect(metrics["burst.backlog.broker.max.messages"]?.value == 30)
        #expect(metrics["burst.backlog.clickhouse.max.rows"]?.value == 80)
        #expect(metrics["burst.catch_up.s"]?.value == 2)

        // A harness that fell behind sent the burst late: the backlog peaks after the scheduled end
        // (90 rows at t = 6); caught up at t = 8, 3 s after the scheduled end — not at t = 5.
        let lateBehind: [Double] = [5, 3, 5, 4, 3, 90, 40, 2]
        let late: [BenchReport.IntervalPoint] = (0..<8).map { (i: Int) -> BenchReport.IntervalPoint in
            Self.interval(Double(i + 1), delivered: delivered[i], backlog: 0, behind: lateBehind[i])
        }
        #expect(Assembler.burstMetrics(intervals: late, burst: burst).metrics["burst.catch_up.s"]?.value == 3)

        // Never back to 5 rows behind: no catch-up figure, a note that says how far behind it stayed.
        let stuck: [BenchReport.IntervalPoint] = (0..<8).map { (i: Int) -> BenchReport.IntervalPoint in
            Self.interval(Double(i + 1), delivered: delivered[i], backlog: 0, behind: i < 3 ? behind[i] : 60)
        }
        let (m2, notes2) = Assembler.burstMetrics(intervals: stuck, burst: burst)
        #expect(m2["burst.catch_up.s"] == nil)
        #expect(
            notes2 == [
                "after the burst ClickHouse had not caught up by the end of the run: 60 rows behind 3 s after the burst (at most 5 before it); run longer after the burst to see the catch-up"
            ])
    }

    @Test func theBurstIsTabledAndJudgedAsTheBurstFigure() throws {
        var run = Fixture.run(index: 0, latencies: [:], rate: 12_000, cores: 1)
        let delivered: [Double] = [12_000, 12_000, 60_000, 12_000, 12_000, 12_000]
        let behind: [Double] = [100, 100, 90_000, 100, 100, 100]
        let iv: [BenchReport.IntervalPoint] = (0..<6).map { (i: Int) -> BenchReport.IntervalPoint in
            Self.interval(Double(i + 1), delivered: delivered[i], backlog: 0, behind: behind[i])
        }
        for (name, metric) in Assembler.burstMetrics(intervals: iv, burst: .init(rate: 60_000, atNanos: 2_000_000_000, lengthNanos: 1_000_000_000))
            .metrics
        {
            run.metrics[name] = metric
        }
        let report = try Fixture.report([run])
        let verification = Verification.verify(report, targets: try WhereTheTimeGoesTests.targets())
        let row = try #require(verification.rows.first { $0.figure.id == "burst-throughput" })
        #expect(row.verdict == .pass && row.metric == "burst.achieved.peak_msgs_per_s" && row.measured == 60_000)
        let md = ReportMarkdown.render(report)
        #expect(md.contains("### Burst phase: peak absorbed, backlog, ClickHouse catch-up"))
        #expect(md.contains("| 1 | 60,000 | 60,000 | 0 | 90,000 | 1 |"), "\(md)")
        #expect(ReportHTML.render(report).contains("<h2>Burst phase: peak absorbed, backlog, ClickHouse catch-up</h2>"))
    }

    @Test func burstKeysAreReadStrictly() throws {
        let workload = try WorkloadLoader.parse(
            "source: {profile: calm}\nrate: 12k\nduration: 30s\nburst: {rate: 60k, at: 10s, for: 3s}\n", file: "w.yaml")
        #expect(workload.burst == Workload.Burst(rate: 60_000, atNanos: 10_000_000_000, lengthNanos: 3_000_000_000))
        func expectError(_ yaml: String, _ contains: String) {
            do {
                _ = try WorkloadLoader.parse("source: {profile: calm}\nduration: 30s\n" + yaml, file: "w.yaml")
                Issue.record("no error for \(contains)")
            } catch {
                #expect(error.description.hasPrefix("w.yaml:") && error.description.contains(contains), "\(error)")
            }
        }
        expectError("speed: 1\nburst: {rate: 60k, at: 1s, for: 1s}\n", "a burst needs the workload's rate:")
        expectError("rate: 12k\nburst: {rate: 6k, at: 1s, for: 1s}\n", "is not above the workload's rate")
        expectError("rate: 12k\nburst: {rate: 60k, at: 29s, for: 3s}\n", "the burst ends after the measured window")
        expectError("rate: 12k\nburst: {rate: 60k, at: 1s}\n", "for")
        expectError("rate: 12k\nburst: {rate: 60k, at: 1s, for: 1s, peak: 2}\n", "peak")
    }

    @Test func theShippedMainJobHasABurstAndTheSoakIsADay() throws {
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(TargetsTests.repoRoot)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        let main = try WorkloadLoader.load(file: "reports/workloads/v2-pipeline.yaml")
        #expect(main.burst == Workload.Burst(rate: 60_000, atNanos: 10_000_000_000, lengthNanos: 3_000_000_000))
        #expect(main.pace == .rate(12_000) && main.embedded.partitions == 8)
        #expect(main.notTested == ["soak-uptime"])
        // The main job stays short (k2up: ≤ 2 minutes with the set-up).
        #expect(main.warmupNanos + main.durationNanos <= 40_000_000_000)
        let soak = try WorkloadLoader.load(file: "reports/workloads/soak-24h.yaml")
        #expect(soak.durationNanos == 86_400_000_000_000 && soak.probes.intervalNanos == 1_000_000_000 && soak.notTested == ["burst-throughput"])
    }
}

@Suite struct AvailabilityTests {
    @Test func availabilityIsTheUptimeFigureAndTheSoaksWhenTheWorkloadTestsIt() throws {
        var run = Fixture.run(index: 0, latencies: [:], rate: 12_000, cores: 1)
        run.metrics["availability.probes.percent"] = .init(value: 99.2, unit: "%", better: .higher)
        var report = try Fixture.report([run])
        let targets = try WhereTheTimeGoesTests.targets()
        func row(_ id: String, _ r: BenchReport) -> Verification.Row { Verification.verify(r, targets: targets).rows.first { $0.figure.id == id }! }
        #expect(row("uptime", report).verdict == .info && row("uptime", report).measured == 99.2)
        #expect(row("soak-uptime", report).measured == 99.2)
        report.workload.notTested = ["soak-uptime"]
        #expect(row("soak-uptime", report).verdict == .notMeasured && row("uptime", report).measured == 99.2)
    }
}

@Suite struct HTTPSectionTests {
    @Test func httpKeysAreReadStrictly() throws {
        let text = """
            source: {profile: calm}
            http:
              concurrency: 3
              timeout: 2s
              requests:
                api:
                  url: "{clickhouse}/?database={database}"
                  body: SELECT 1
                  headers: {X-ClickHouse-Format: JSON, Authorization: Bearer t}
                  rate: 20
                  contains: '"data"'
                ping: {url: "http://127.0.0.1:8123/ping", rate: 5, status: 200, method: head}
            """
        let workload = try WorkloadLoader.parse(text, file: "w.yaml")
        let http = try #require(workload.http)
        #expect(http.concurrency == 3 && http.timeoutNanos == 2_000_000_000)
        var api = Workload.HTTPRequest(name: "api", url: "{clickhouse}/?database={database}", method: "POST", rate: 20)
        api.body = "SELECT 1"
        api.headers = ["X-ClickHouse-Format: JSON", "Authorization: Bearer t"]
        api.contains = "\"data\""
        #expect(http.requests == [api, Workload.HTTPRequest(name: "ping", url: "http://127.0.0.1:8123/ping", method: "HEAD", rate: 5)])
        func expectError(_ yaml: String, _ contains: String) {
            do {
                _ = try WorkloadLoader.parse("source: {profile: calm}\nhttp:\n" + yaml, file: "w.yaml")
                Issue.record("no error for \(contains)")
            } catch {
                #expect(error.description.hasPrefix("w.yaml:") && error.description.contains(contains), "\(error)")
            }
        }
        expectError("  requests: {api: {url: ftp://x, rate: 1}}\n", "is not an http:// or https:// URL")
        expectError("  requests: {api: {url: http://x}}\n", "rate")
        expectError("  requests: {api: {url: http://x, rate: 1, status: 999}}\n", "status")
        expectError("  requests: {api: {url: http://x, rate: 1, method: 'GE T'}}\n", "is not an HTTP method")
        expectError("  requests: {api: {url: http://x, rate: 1, headers: {'a:b': c}}}\n", "is not a header name")
        expectError("  requests: {api: {url: http://x, rate: 1, verb: GET}}\n", "verb")
        expectError("  concurrency: 0\n  requests: {api: {url: http://x, rate: 1}}\n", "concurrency")
        expectError("  requests: {}\n", "request")
    }

    @Test func theMainJobsApiRequestIsTheApiFigure() throws {
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(TargetsTests.repoRoot)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        let main = try WorkloadLoader.load(file: "reports/workloads/v2-pipeline.yaml")
        let api = try #require(main.http?.requests.first)
        #expect(api.name == "api" && api.method == "POST" && api.url == "{clickhouse}/?database={database}" && api.contains == "\"data\"")
        var run = Fixture.run(index: 0, latencies: [:], rate: 12_000, cores: 1)
        run.metrics["latency.http.api.p50"] = .init(value: 12, unit: "ms", better: .lower)
        run.metrics["latency.http.api.p99"] = .init(value: 40, unit: "ms", better: .lower)
        let verification = Verification.verify(try Fixture.report([run]), targets: try WhereTheTimeGoesTests.targets())
        #expect(verification.rows.first { $0.figure.id == "api-p50" }?.measured == 12)
        #expect(verification.rows.first { $0.figure.id == "api-p99" }?.verdict == .info)
    }
}
