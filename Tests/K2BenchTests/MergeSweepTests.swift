import Testing

@testable import K2Bench

@Suite struct MergeSweepTests {
    @Test func shardReportsMergeExactly() throws {
        let first = Fixture.histogram([(1_000_000, 90), (10_000_000, 10)])
        let second = Fixture.histogram([(3_000_000, 100)])
        let ra = try Fixture.report([Fixture.run(index: 0, latencies: ["end_to_end.intended": first], rate: 5_000, cores: 1)])
        let rb = try Fixture.report([Fixture.run(index: 0, latencies: ["end_to_end.intended": second], rate: 7_000, cores: 2)])
        let merged = try ReportMerge.merge([ra, rb])
        var expected = first
        expected.add(second)
        #expect(try merged.mergedLatencies()["end_to_end.intended"] == expected)
        // 200 values: 90 × 1 ms, 100 × 3 ms, 10 × 10 ms → p50 (100th) = 3 ms, p99 (198th) = 10 ms.
        #expect(abs(merged.metrics["latency.end_to_end.intended.p50"]!.value - 3) < 0.01)
        #expect(abs(merged.metrics["latency.end_to_end.intended.p99"]!.value - 10) < 0.01)
        // Throughput adds up across shards; CPU adds up across shards' SUT series.
        #expect(merged.metrics["throughput.achieved.msgs_per_s"]!.value == 12_000)
        #expect(merged.metrics["resources.sut.cpu_cores.mean"]!.value == 3)
        #expect(merged.runs[0].resources.map(\.name).contains("shard 1: clickhouse-server"))
    }

    @Test func sweepFindsTheKneeAndExtrapolates() throws {
        var sweep = Sweep()
        for (rate, achieved, p99) in [(1_000.0, 1_000.0, 2.0), (5_000, 5_000, 3), (10_000, 9_990, 5), (50_000, 21_000, 4_000)] {
            var run = Fixture.run(
                index: 0, latencies: ["publish.intended": Fixture.histogram([(Int64(p99 * 1e6), 100)])], rate: achieved, cores: achieved / 10_000)
            run.metrics["throughput.offered.msgs_per_s"]?.value = rate
            let report = try Fixture.report([run])
            var rr = report
            rr.metrics["throughput.offered.msgs_per_s"]?.value = rate
            sweep.steps.append(sweep.judge(rate: rate, rr))
        }
        #expect(sweep.steps.map(\.sustainable) == [true, true, true, false])
        #expect(sweep.maxSustainable?.rate == 10_000)
        // 0.999 cores at 9,990 msg/s → 100 µs per message → 1M msg/s needs 100 cores.
        #expect(abs(sweep.coresNeeded(for: 1_000_000)! - 100) < 0.1)
        let md = sweep.markdown()
        #expect(md.contains("Maximum sustainable rate: **9,990 msg/s**"))
        #expect(md.contains("| 1,000,000 msg/s | 100 | over by 84 |"))

        var none = Sweep()
        none.steps = [sweep.steps[3]]
        #expect(none.maxSustainable == nil)
        #expect(none.markdown().contains("No stable rate found"))
    }
}
