import K2Capture
import K2Core
import K2Net
@testable import K2Record
@testable import K2Sim
import K2TestSupport
import Testing

/// `k2 sim exchange --rate max`: the pre-encoded pool streamed in a loop reaches the recorder
/// exactly as the simulator logged it, across the loop's wrap-around.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MaxRateSimulatorTests {
    @Test func pooledFramesArriveExactlyAcrossWrapArounds() throws {
        let dir = TemporaryDirectory()
        let ex = try SimExchangeRecordTests.exchange(.binance, log: dir.file("sim.k2cap")) {
            $0.unpaced = true
            $0.maxRatePool = 1000
        }
        let plan = try ConnectionPlan.venue(.binance, symbols: SimExchangeRecordTests.names(.binance), channels: ["trade", "depth"], url: ex.url)
        let s = try SimExchangeRecordTests.record(plan, dir.file("rec.k2cap"), server: ex) { $0.frames >= 5_000 }
        let sent = try SimExchangeRecordTests.received(dir.file("sim.k2cap"))[0] ?? []
        let got = try SimExchangeRecordTests.received(dir.file("rec.k2cap"))[0] ?? []
        // At --rate max the simulator always has a socket buffer's worth of frames in flight: the
        // recorder's close (it waits a second for the echo) may cut that tail off, so what it
        // recorded is an exact prefix of what the simulator sent.
        #expect(got.count <= sent.count && got.count >= 5_000, "recorded \(got.count), sent \(sent.count)")
        #expect(got == Array(sent.prefix(got.count)))
        // The loop repeats the same 1,000 messages.
        #expect(Array(got[0..<1000]) == Array(got[1000..<2000]))
        #expect(s.gaps >= 4)   // ids restart at each wrap-around
    }
}

