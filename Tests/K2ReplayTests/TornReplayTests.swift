import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A capture with a torn tail (`head -c N cap.k2cap`) is refused unless `allowTorn` says so.
@Suite struct TornReplayTests {
    let dir = TemporaryDirectory()

    func tornCapture() throws -> (path: String, intactRecv: Int) {
        let path = dir.file("torn.k2cap")
        try SampleTraffic().write(to: path, count: 3_000, options: .init(blockSize: 16 * 1024))
        let entries = try CaptureReader(path: path).index().entries
        #expect(truncate(path, off_t(entries[3].offset + 100)) == 0)
        // The first three frames hold the connect and send records and then recv records.
        return (path, entries[0..<3].reduce(0) { $0 + $1.recordCount } - 2)
    }

    func engine(_ path: String, allowTorn: Bool) -> ReplayEngine {
        let clock = ManualClock(monotonic: 1_000)
        var config = ReplayConfig(files: [path])
        config.pace = .max
        config.allowTorn = allowTorn
        return ReplayEngine(config: config, sinks: [MockSink(uri: "mock://")], clock: clock, waiter: ManualWaiter(clock: clock))
    }

    @Test func tornCaptureIsRefusedBeforeAnythingIsSent() throws {
        let (path, _) = try tornCapture()
        do {
            _ = try engine(path, allowTorn: false).run()
            Issue.record("a torn capture was replayed without allowTorn")
        } catch let error as ReplayError {
            #expect(error.code == .damagedInput)
            #expect(error.exitCode == 1)  // nothing was sent, but the input is not bad usage
            #expect(error.description.contains("torn tail at byte"))
            #expect(error.description.contains("--allow-torn"))
            #expect(error.description.contains("k2 capture reindex \(path)"))
        }
    }

    @Test func allowTornReplaysTheIntactFramesAndSaysSo() throws {
        let (path, intactRecv) = try tornCapture()
        let summary = try engine(path, allowTorn: true).run()
        #expect(summary.outcome == .completed)
        #expect(summary.messages == UInt64(intactRecv))
        #expect(summary.inputDamage.count == 1)
        #expect(summary.inputDamage.first?.hasPrefix("\(path): torn tail at byte") == true)
        #expect(summary.lines().first?.hasPrefix("warning: \(path): torn tail") == true)
        #expect(summary.json()["input_damage"]?.arrayValue?.count == 1)
    }
}

/// A capture with a damaged frame in the middle (bytes overwritten inside a compressed frame):
/// without `allowTorn` the replay stops there with the file, offset and remedy (exit 1); with it,
/// every intact frame before and after the damaged one reaches the sink, the summary counts what
/// was skipped, and the outcome is still a failure (exit 1).
@Suite struct DamagedFrameReplayTests {
    let dir = TemporaryDirectory()

    /// What a replay of a damaged capture should deliver: the receive records of the intact
    /// frames before and after it, their count and `MockSink` checksum.
    struct Damaged {
        var path: String
        var offset: Int64
        var before: UInt64
        var after: UInt64
        var lostRecords: Int
        var intactChecksum: UInt64
    }

    /// 3,000 messages in 16 KiB blocks; 4 bytes overwritten in the middle of frame 3.
    func damagedCapture(name: String = "damaged.k2cap", keepIndex: Bool = true) throws -> Damaged {
        let path = dir.file(name)
        try SampleTraffic().write(to: path, count: 3_000, options: .init(blockSize: 16 * 1024))
        let reader = try CaptureReader(path: path)
        let entries = try reader.index().entries
        #expect(entries.count > 6)
        let damagedFrame = 3
        func receives(_ frames: [CaptureIndex.Entry]) throws -> (count: UInt64, checksum: UInt64) {
            reader.restrict(to: frames)
            var count: UInt64 = 0
            var checksum: UInt64 = 0
            while let record = try reader.next() {
                guard record.kind == .recv else { continue }
                count += 1
                checksum = MockSink.checksum(record.payload, continuing: checksum)
            }
            return (count, checksum)
        }
        let before = try receives(Array(entries[..<damagedFrame]))
        let after = try receives(Array(entries[(damagedFrame + 1)...]))
        let intact = try receives(entries.enumerated().filter { $0.offset != damagedFrame }.map(\.element))
        let target = entries[damagedFrame]
        let fd = open(path, O_WRONLY)
        #expect(fd >= 0)
        let garbage: [UInt8] = [0xde, 0xad, 0xbe, 0xef]
        #expect(pwrite(fd, garbage, 4, off_t(target.offset + Int64(target.compressedSize / 2))) == 4)
        if !keepIndex {
            let indexStart = try #require(try indexOffset(path))
            #expect(ftruncate(fd, off_t(indexStart)) == 0)
        }
        close(fd)
        #expect(try !CaptureVerifier.verify(path: path).intact)
        return Damaged(
            path: path, offset: target.offset, before: before.count, after: after.count, lostRecords: target.recordCount,
            intactChecksum: intact.checksum)
    }

    /// Where the stored index frame starts (after `index()` found it).
    func indexOffset(_ path: String) throws -> Int64? {
        let reader = try CaptureReader(path: path)
        _ = try reader.index()
        return reader.storedIndexOffset
    }

    func run(_ path: String, allowTorn: Bool, readAhead: Bool = true, extra: [String] = []) throws -> (ReplaySummary, MockSink) {
        let clock = ManualClock(monotonic: 1_000)
        var config = ReplayConfig(files: [path] + extra)
        config.pace = .max
        config.allowTorn = allowTorn
        config.readAhead = readAhead
        let sink = MockSink(uri: "mock://", clock: clock)
        let summary = try ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock)).run()
        return (summary, sink)
    }

    @Test(arguments: [true, false])
    func withoutAllowTornTheReplayStopsAtTheDamagedFrameNamingItAndExits1(readAhead: Bool) throws {
        let damaged = try damagedCapture()
        let (summary, sink) = try run(damaged.path, allowTorn: false, readAhead: readAhead)
        #expect(summary.outcome == .damagedInput)
        #expect(summary.exitCode == 1)
        let reason = try #require(summary.stopReason)
        #expect(reason.contains("\(damaged.path) at byte \(damaged.offset): "), "\(reason)")
        #expect(reason.contains("--allow-torn") && reason.contains("k2 capture verify \(damaged.path)"), "\(reason)")
        #expect(summary.lines().first?.hasPrefix("replay damaged-input: \(damaged.path) at byte \(damaged.offset)") == true)
        // What came before the damaged frame was sent and delivered; the rest is counted as never sent.
        #expect(summary.messages == damaged.before)
        #expect(sink.counts.delivered == damaged.before)
        #expect(summary.neverSent == damaged.after)
        #expect(summary.skippedFrames.isEmpty)
        #expect(summary.json()["outcome"]?.stringValue == "damaged-input")
    }

    @Test(arguments: [true, false])
    func allowTornReplaysEveryIntactFrameAroundTheDamagedOneAndCountsTheLoss(readAhead: Bool) throws {
        let damaged = try damagedCapture()
        let (summary, sink) = try run(damaged.path, allowTorn: true, readAhead: readAhead)
        #expect(summary.outcome == .damagedInput)
        #expect(summary.exitCode == 1)
        // Exactly the intact records, in order.
        #expect(summary.messages == damaged.before + damaged.after)
        #expect(sink.counts.delivered == damaged.before + damaged.after)
        #expect(sink.checksum == damaged.intactChecksum)
        #expect(summary.neverSent == 0)
        #expect(summary.skippedFrames.count == 1)
        #expect(summary.skippedFrames.first?.hasPrefix("\(damaged.path): damaged frame at byte \(damaged.offset): ") == true)
        #expect(summary.skippedFrames.first?.hasSuffix("; skipped (\(damaged.lostRecords) records lost)") == true)
        #expect(summary.recordsSkipped == UInt64(damaged.lostRecords))
        #expect(summary.stopReason?.contains("skipped 1 damaged frame(s) (\(damaged.lostRecords) records lost)") == true)
        #expect(summary.lines().first?.hasPrefix("warning: \(damaged.path): damaged frame at byte \(damaged.offset)") == true)
        let json = summary.json()
        #expect(json["input_frames_skipped"]?.int64Value == 1)
        #expect(json["input_records_skipped"]?.int64Value == Int64(damaged.lostRecords))
        #expect(json["input_damage"]?.arrayValue?.count == 1)
    }

    @Test func loopsSkipTheFrameEveryRoundAndTheMergeOfSeveralCapturesGoesOnPastIt() throws {
        let damaged = try damagedCapture()
        let other = dir.file("other.k2cap")
        let otherRecords = try SampleTraffic(seed: 7, startNanos: 1_700_000_000_000_500_000).write(to: other, count: 500)
        let otherReceives = UInt64(otherRecords.filter { $0.kind == .recv }.count)
        let clock = ManualClock(monotonic: 1_000)
        var config = ReplayConfig(files: [damaged.path, other])
        config.pace = .max
        config.allowTorn = true
        config.loops = 2
        let sink = MockSink(uri: "mock://", clock: clock)
        let summary = try ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock)).run()
        #expect(summary.messages == 2 * (damaged.before + damaged.after + otherReceives))
        #expect(summary.skippedFrames.count == 1)
        #expect(summary.recordsSkipped == UInt64(2 * damaged.lostRecords))
        // Without allowTorn the merge stops at the damaged frame and counts the rest past it.
        config.allowTorn = false
        config.loops = 1
        let stopped = try ReplayEngine(
            config: config, sinks: [MockSink(uri: "mock://", clock: clock)], clock: clock, waiter: ManualWaiter(clock: clock)
        )
        .run()
        #expect(stopped.outcome == .damagedInput)
        #expect(stopped.messages + stopped.neverSent == damaged.before + damaged.after + otherReceives)
    }

    @Test func withoutAnIndexTheDamageIsFoundBeforeAnythingIsSent() throws {
        let damaged = try damagedCapture(keepIndex: false)
        let scan = try CaptureReader(path: damaged.path)
        scan.skipsDamagedFrames = true
        #expect(try !scan.index().storedInFile)
        #expect(scan.skippedFrames.map(\.damage.offset) == [damaged.offset])
        do {
            _ = try run(damaged.path, allowTorn: false)
            Issue.record("a damaged capture without an index was replayed without allowTorn")
        } catch let error as ReplayError {
            #expect(error.code == .damagedInput && error.exitCode == 1)
            #expect(error.description.hasPrefix("\(damaged.path): damaged frame at byte \(damaged.offset): "), "\(error)")
            #expect(error.description.contains("nothing was sent") && error.description.contains("--allow-torn"), "\(error)")
        }
        let (summary, sink) = try run(damaged.path, allowTorn: true)
        #expect(summary.outcome == .damagedInput && summary.exitCode == 1)
        #expect(sink.checksum == damaged.intactChecksum)
        #expect(summary.messages == damaged.before + damaged.after)
        #expect(summary.skippedFrames.count == 1)
        #expect(summary.skippedFrames.first?.contains("without a seek index they cannot be counted") == true)
    }
}
