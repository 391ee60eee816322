import K2Capture
import K2Core
import K2Net
import K2TestSupport
import Testing

@testable import K2Record
@testable import K2Sim

/// `k2 sim exchange --rate max`: the pre-encoded chunks reach the recorder exactly as the
/// simulator logged them, and the market continues from one chunk to the next (no id jumps back,
/// so no gap markers).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MaxRateSimulatorTests {
    @Test(arguments: [Venue.binance, .coinbase])
    func chunksArriveExactlyAndTheMarketContinues(_ venue: Venue) throws {
        let dir = TemporaryDirectory()
        let ex = try SimExchangeRecordTests.exchange(venue, log: dir.file("sim.k2cap")) {
            $0.unpaced = true
            $0.maxRatePool = 1000
        }
        let plan = try ConnectionPlan.venue(venue, symbols: SimExchangeRecordTests.names(venue), channels: ["trade", "depth"], url: ex.url)
        let summary = try SimExchangeRecordTests.record(plan, dir.file("rec.k2cap"), server: ex) { $0.frames >= 20_000 }
        let sent = try SimExchangeRecordTests.received(dir.file("sim.k2cap"))[0] ?? []
        let got = try SimExchangeRecordTests.received(dir.file("rec.k2cap"))[0] ?? []
        // At --rate max the simulator always has a socket buffer's worth of frames in flight: the
        // recorder's close (it waits a second for the echo) may cut that tail off, so what it
        // recorded is an exact prefix of what the simulator sent.
        #expect(got.count <= sent.count && got.count >= 20_000, "recorded \(got.count), sent \(sent.count)")
        #expect(got == Array(sent.prefix(got.count)))
        // Twenty chunks of 1,000, none a repeat of the one before (it used to loop one chunk).
        #expect(Array(got[5000..<6000]) != Array(got[6000..<7000]))
        #expect(summary.gaps == 0, "\(venue): ids and sequence_num continue across chunks")
    }
}
