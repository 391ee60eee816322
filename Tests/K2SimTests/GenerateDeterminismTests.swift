import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

@testable import K2Sim

/// `k2 sim generate` with one seed and one command line writes the same bytes every time:
/// no wall-clock time or host name in the header, frames cut by size only.
@Suite struct GenerateDeterminismTests {
    let dir = TemporaryDirectory()

    @Test(arguments: [Venue.binance, .kraken, .coinbase])
    func sameSeedAndArgumentsGiveByteIdenticalFiles(_ venue: Venue) throws {
        let profile = SimProfile.constant(rate: 2_000, duration: 1_000_000_000, venue: venue, seed: 7)
        let first = dir.file("\(venue.rawValue)-1.k2cap"), second = dir.file("\(venue.rawValue)-2.k2cap")
        let commandLine = "k2 sim generate --rate 2000 --duration 1s --seed 7 -o out.k2cap"
        _ = try CaptureGenerator(profile: profile).write(path: first, commandLine: commandLine)
        _ = try CaptureGenerator(profile: profile).write(path: second, commandLine: commandLine)
        let firstData = try Data(contentsOf: URL(fileURLWithPath: first)), secondData = try Data(contentsOf: URL(fileURLWithPath: second))
        #expect(firstData.count == secondData.count)
        let differing = zip(firstData, secondData).filter { $0 != $1 }.count
        #expect(differing == 0)
        let header = try CaptureReader(path: first).header
        #expect(header.createdNanos == CaptureGenerator(profile: profile).firstTimestamp)
        #expect(header.host == "k2 sim")
    }

    @Test func anotherSeedGivesAnotherFile() throws {
        let commandLine = "k2 sim generate"
        let first = dir.file("seed-1.k2cap"), second = dir.file("seed-2.k2cap")
        _ = try CaptureGenerator(profile: .constant(rate: 2_000, duration: 1_000_000_000, venue: .binance, seed: 1))
            .write(path: first, commandLine: commandLine)
        _ = try CaptureGenerator(profile: .constant(rate: 2_000, duration: 1_000_000_000, venue: .binance, seed: 2))
            .write(path: second, commandLine: commandLine)
        #expect(try Data(contentsOf: URL(fileURLWithPath: first)) != Data(contentsOf: URL(fileURLWithPath: second)))
    }
}
