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
