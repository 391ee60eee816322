import Foundation
import K2Capture
import K2TestSupport
import Testing

/// Inputs the fuzzers (scripts/fuzz.sh) found, kept as regression tests.
@Suite struct FuzzRegressionTests {
    let dir = TemporaryDirectory()

    /// A 580-byte file whose second frame declares a 2.9 GB block: the reader allocated it
    /// (libFuzzer out-of-memory). Now the declared size is checked against the format's limits
    /// and against the most zstd can expand the frame's bytes.
    @Test func frameClaimingAHugeBlockIsDamageNotAnAllocation() throws {
        let path = dir.file("oom.k2cap")
        let bytes = try #require(
            Data(
                base64Encoded:
                    "XCpNGIMBAABLMkNBUEhEUgEAAAAAAAAAawEAAL6ewrF7InRvb2xfdmVyc2lvbiI6ImsyIDAuMS4wIiwiY3JlYXRlZF9ucyI6MTc5NTMxNTM5NjYwNDA3NjU1MCwiaG9zdCI6InZtIiwibWV0YWRhdGEiOnsiZXhjaGFuZ2UiOiJiaW5hbmNlIiwic2xpY2VkX2Zyb20iOnsicGF0aCI6ImNhcHR1cmVzL2JpbmFuY2Utc2FtcGxlLmsyY2FwIiwiY3JlYXRlZF9ucyI6MTcwMDAwMDAwMDAwMDAwMDAwMCwiZmlsdGVyIjoiLS1mcm9tICsxcyAtLXRvICsxLjAycyJ9LCJjb21tYW5kX2xpbmUiOiIuYnVpbGQvZGVidWcvazIgY2FwdHVyZSBzbGljZSBjYXB0dXJlcy9iaW5hbmNlLXNhbXBsZS5rMmNhcCAtbyAuYnVpbGQtZnV6ei9jb3JwdXMvc2FtcGxlLXNsaWNlIC0tZnJvbSArMXMgLS10byArMS4wMnMifX0otS/9pVS/B6mts3H/jl78SdkXhP4JWlwE4gkztp+p6dpmUZdtBCoO0Ai3NIx3+LA6R3/HRLitLcE1esxFG35Mudl0H2opPxvuVvb3hFVH/xUyirKgFa+ZqNB/UxHIDhpqaDOxNL4/OZBeKk0YSAAAAEsyQ0FQSURYAQAAAAAAAACLAQAAAAAAAMABAAAIAAAAaz7mcf6clxfYL/Ry/pyXF7AFAAAAAAAAAQAAABQEqNdQAAAASzJJWA=="
            ))
        try bytes.write(to: URL(fileURLWithPath: path))
        let verification = try CaptureVerifier.verify(path: path)
        #expect(verification.problem?.kind == .corrupt)
        #expect(verification.problem?.offset == 395)
        let error = #expect(throws: CaptureError.self) {
            let reader = try CaptureReader(path: path)
            while try reader.next() != nil {}
        }
        #expect(error?.description.contains("frame claims a block of 2913535935 bytes") == true)
    }

    /// The import-lines fuzzer: a Tardis line whose time has more than nine fraction digits
    /// (`00.0056367813453Z`) trapped in the ISO-8601 parser (a range 13..<9). Digits past the
    /// ninth are dropped now, as `DecimalTime` does for cryptofeed's seconds.
    @Test func tardisTimeWithMoreThanNineFractionDigitsImports() throws {
        let input = dir.file("long-fraction.tardis")
        try "2024-03-01T00:00:00.0056367813453Z {\"e\":\"trade\"}\n".write(toFile: input, atomically: true, encoding: .utf8)
        let summary = try CaptureImporter.run(format: .tardis, inputs: [input], output: dir.file("out.k2cap"))
        #expect(summary.records == 1)
        let reader = try CaptureReader(path: dir.file("out.k2cap"))
        #expect(try reader.next()?.timestamp == 1_709_251_200_005_636_781)
    }

    /// The capture-reader fuzzer (7.3M executions): receive times ~2^63 apart trapped `inspect`
    /// in three subtractions (how far behind, the rate buckets' span, the sliding window), and
    /// ids ~2^64 apart would have trapped the gap count. All saturate now.
    @Test func inspectSurvivesTimesAndIdsAtTheEndsOfTheirRange() throws {
        let path = dir.file("extremes.k2cap")
        let writer = try CaptureWriter(
            path: path, header: CaptureHeader(createdNanos: 1, host: "test", metadata: [("exchange", .string("binance"))]))
        let far: Int64 = 9_000_000_000_000_000_000
        let records: [(time: Int64, symbol: String, id: Int64)] = [
            (.max - 1, "BTCUSDT", -far), (.min + 1, "BTCUSDT", far), (0, "BTCUSDT", -far), (.max, "BTCUSDT", 1),
            (.min, "BTCUSDT", far), (.min + 2, "ETHUSDT", -far), (.max - 2, "ETHUSDT", far),
        ]
        for (ts, symbol, id) in records {
            try writer.append(
                OwnedRecord(
                    kind: .recv, timestamp: ts, connection: 0,
                    text:
                        #"{"stream":"\#(symbol.lowercased())@trade","data":{"e":"trade","E":1,"s":"\#(symbol)","t":\#(id),"p":"1","q":"1","T":1,"m":true,"M":true}}"#
                ))
        }
        try writer.close()
        let inspection = try CaptureInspector.inspect(path: path)
        #expect(inspection.records == 7)
        #expect(inspection.outOfPlace == 5)
        let trades = try #require(inspection.sequenceChecks.first { $0.messages == 7 })
        // Each symbol jumps by ~2^64 once (the sum saturates too); the other ids go backwards.
        #expect(trades.gaps == 2)
        #expect(trades.regressions == 3)
        #expect(trades.missingIds == .max)
        #expect(trades.first.map(\.missing) == [.max, .max])
    }

    /// The capture-reader fuzzer (1.5M executions, a 10 s timeout): two receive times nine years
    /// apart made `inspect` allocate a bucket per second between them (2.3 GB) and sort it. Only
    /// the seconds that hold messages are kept now; the rest count as zeros.
    @Test func inspectOfTimesYearsApartKeepsOnlyTheBusySeconds() throws {
        let path = dir.file("years.k2cap")
        let writer = try CaptureWriter(
            path: path, header: CaptureHeader(createdNanos: 1, host: "test", metadata: [("exchange", .string("binance"))]))
        let t0: Int64 = 1_700_000_000_000_000_000
        let nineYears: Int64 = 9 * 365 * 86_400 * 1_000_000_000
        for ts in [t0, t0 + 1, t0 + 2, t0 + nineYears, t0 + 3] {
            try writer.append(OwnedRecord(kind: .recv, timestamp: ts, connection: 0, text: "{}"))
        }
        try writer.close()
        let peakBefore = try #require(CaptureBench.peakRSSKiB())
        let rate = try #require(try CaptureInspector.inspect(path: path).rate)
        // The process's high-water mark barely moves (it rose by 2.3 GB before).
        #expect(try #require(CaptureBench.peakRSSKiB()) - peakBefore < 512 << 10)
        #expect(rate.seconds == 9 * 365 * 86_400 + 1)
        #expect(rate.p50 == 0 && rate.p99 == 0)
        #expect(rate.max == 4)
        #expect(rate.busiest100msCount == 3)
    }
}
