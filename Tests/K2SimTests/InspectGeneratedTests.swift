import K2Capture
import K2Core
import K2TestSupport
import Testing

@testable import K2Sim

/// `k2 capture inspect`'s Kraken book checksums against the simulator's (two implementations:
/// the simulator computes "c" from its model, inspect rebuilds the book from the messages).
@Suite struct InspectGeneratedTests {
    let dir = TemporaryDirectory()

    func krakenCapture() throws -> String {
        var profile = SimProfile.constant(rate: 2_000, duration: 2_000_000_000, venue: .kraken, seed: 11)
        profile.market.symbols = 3
        let path = dir.file("kraken.k2cap")
        _ = try CaptureGenerator(profile: profile).write(path: path, commandLine: "test")
        return path
    }

    func bookCheck(_ path: String) throws -> CaptureInspection.SequenceCheck? {
        try CaptureInspector.inspect(path: path).sequenceChecks.first { $0.name == "kraken_book_checksum" }
    }

    @Test func everyGeneratedKrakenBookUpdateReproducesItsChecksum() throws {
        let check = try bookCheck(try krakenCapture())
        #expect((check?.messages ?? 0) > 500)
        #expect(check?.symbols == 3)
        #expect(check?.gaps == 0)
    }

    @Test func aKrakenCaptureMissingABookUpdateIsReported() throws {
        let path = try krakenCapture()
        let reader = try CaptureReader(path: path)
        var records: [OwnedRecord] = []
        while let record = try reader.next() { records.append(record.owned()) }
        // Drop the 50th book update carrying a checksum.
        let updates = records.indices.filter { String(decoding: records[$0].payload, as: UTF8.self).contains(#""c":""#) }
        records.remove(at: updates[50])
        let cut = dir.file("kraken-cut.k2cap")
        let writer = try CaptureWriter(path: cut, header: reader.header)
        for record in records { try writer.append(record) }
        try writer.close()
        let check = try bookCheck(cut)
        #expect((check?.gaps ?? 0) >= 1)
        // One report per lost message and book: that book is not checked again until a snapshot.
        #expect((check?.gaps ?? 0) <= 3)
    }
}
