import Foundation
import K2Bench
import K2Core
import K2TestSupport
import Testing

/// A sharded run across "hosts" on one machine (scripts/netns-shards.sh): the broker in one
/// network namespace on 10.77.0.1, three shard workers in namespaces of their own reaching it
/// over veth pairs and a bridge, all waiting for one `--start-at`, then `k2 bench merge`.
/// Needs root (CI runs as root): without namespaces it FAILS, it does not skip. ~20 s.
@Suite(.serialized) struct NetnsShardTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    let dir = TemporaryDirectory()

    @Test(.timeLimit(.minutes(2))) func threeShardsOnTheirOwnNetworkNamespacesMergeExactly() throws {
        let shards = 3
        let out = dir.file("netns")
        let (status, stdout, stderr) = try Shell.execute(
            "K2='\(Self.root)/.build/debug/k2' '\(Self.root)/scripts/netns-shards.sh' \(shards) '\(out)' 6k 4s")
        try #require(status == 0, "scripts/netns-shards.sh failed (it needs root and iproute2, as CI has): \(stdout)\(stderr)")

        let parts = try (0..<shards).map { try ReportFiles.load("\(out)/shard-\($0)") }
        let merged = try ReportFiles.load("\(out)/merged")
        let watermarks = try #require(
            UInt64(try String(contentsOfFile: "\(out)/watermarks.txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))

        // Every shard ran its own part against the broker's virtual address, started at the barrier.
        for (index, part) in parts.enumerated() {
            #expect(part.workload.shard == "\(index)/\(shards)")
            #expect(
                part.workload.sinks == [
                    "kafka://10.77.0.1:9092?topic=market.crypto.trades.binance",
                    "clickhouse://10.77.0.2:8123/default?mode=raw&flush_ms=500",
                ])
            #expect(part.workload.startAt != nil && part.workload.startAt == parts[0].workload.startAt)
            #expect(part.runs[0].sinks[0].delivered > 0, "shard \(index) delivered nothing")
            #expect(part.runs[0].sinks[0].failed == 0)
            // The ClickHouse sink took every message the broker took.
            #expect(
                part.runs[0].sinks[1].delivered == part.runs[0].sinks[0].delivered,
                "shard \(index): ClickHouse \(part.runs[0].sinks[1].delivered), broker \(part.runs[0].sinks[0].delivered)")
            #expect(part.runs[0].sinks[1].failed == 0)
            // Its clock offset from the broker host's, measured over the virtual network: one
            // kernel clock here, so the offset is 0 within the measurement's ± half round trip.
            let clock = try #require(part.environment.clock, "shard \(index) measured no clock offset")
            #expect(clock.reference == "10.77.0.1:9093" && clock.samples == 8)
            #expect(
                abs(clock.offsetMs) <= clock.roundTripMs / 2 + 0.001,
                "shard \(index): offset \(clock.offsetMs) ms, round trip \(clock.roundTripMs) ms")
        }

        // Counts: merged = sum of the shards = what the broker holds (high watermarks).
        let shardDelivered = parts.map { $0.runs[0].sinks[0].delivered }.reduce(0, +)
        let mergedDelivered = merged.runs[0].sinks.filter { $0.uri.hasPrefix("kafka://") }.map(\.delivered).reduce(0, +)
        #expect(mergedDelivered == shardDelivered)
        #expect(shardDelivered == watermarks, "delivered \(shardDelivered), broker high watermarks \(watermarks)")
        // And what the ClickHouse "host" holds, counted over HTTP by the script: every row once.
        let clickhouseRows = try #require(
            UInt64(try String(contentsOfFile: "\(out)/clickhouse-rows.txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(clickhouseRows == shardDelivered, "ClickHouse rows \(clickhouseRows), delivered \(shardDelivered)")

        // Histograms: the merged ones equal those built from all shards' histograms (decoded from
        // their reports), so its percentiles are those of all messages.
        var expected: [String: Histogram] = [:]
        for part in parts {
            for (key, histogram) in try part.mergedLatencies() {
                if expected[key] == nil { expected[key] = histogram } else { expected[key]!.add(histogram) }
            }
        }
        let mergedHistograms = try merged.mergedLatencies()
        #expect(Set(mergedHistograms.keys) == Set(expected.keys))
        #expect(expected["publish.intended"] != nil)
        for (key, histogram) in expected {
            #expect(mergedHistograms[key] == histogram, "\(key)")
            #expect(mergedHistograms[key]?.totalCount == histogram.totalCount)
        }

        // Throughput: the shards started together (skew well under an interval), so the merged
        // interval k is the sum of the shards' intervals k.
        let skew = try #require(merged.metrics["shards.start_skew_ms"]?.value)
        #expect(skew < 250, "shards started \(skew) ms apart")
        #expect(merged.notes.contains { $0.hasPrefix("shards started within") })
        #expect(merged.metrics["shards.missing"]?.value == 0)
        #expect(merged.metrics["shards.clock_offset_max_ms"] != nil)
        #expect(merged.notes.contains { $0.hasPrefix("clock offsets from the reference 10.77.0.1:9093: shard 0/\(shards) ") })
        let count = parts.map { $0.runs[0].intervals.count }.min() ?? 0
        #expect(count >= 3)
        #expect(merged.runs[0].intervals.count == count)
        for k in 0..<count {
            let sent = parts.map { $0.runs[0].intervals[k].sentMsgs }.reduce(0, +)
            let offered = parts.map { $0.runs[0].intervals[k].offeredMsgs }.reduce(0, +)
            #expect(merged.runs[0].intervals[k].sentMsgs == sent)
            #expect(abs(merged.runs[0].intervals[k].offeredMsgs - offered) < 1e-6)
        }
        // The merged rate is the shards' rates added (not a wall-clock figure: on a loaded machine
        // a harness-bound shard offers less than the workload's 6k msg/s, and the sum says so).
        let offered = try #require(merged.metrics["throughput.offered.msgs_per_s"]?.value)
        let shardsOffered = try parts.map { try #require($0.metrics["throughput.offered.msgs_per_s"]?.value) }.reduce(0, +)
        #expect(abs(offered - shardsOffered) <= shardsOffered * 0.05, "merged \(offered) msg/s, shards together \(shardsOffered)")
        #expect(offered <= 6_000 * 1.1, "no more than the workload's 6k msg/s is offered, merged \(offered)")
    }
}
