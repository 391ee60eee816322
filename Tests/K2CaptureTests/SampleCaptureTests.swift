import Foundation
import K2Capture
import K2TestSupport
import Testing

/// The sample capture shipped in captures/ is generated, never edited by hand:
/// `K2_UPDATE_GOLDEN=1 swift test --filter SampleCaptureTests` rewrites it.
@Suite struct SampleCaptureTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let samplePath = repoRoot + "/captures/binance-sample.k2cap"

    @Test func shippedSampleMatchesItsGenerator() throws {
        let traffic = SampleTraffic(seed: 2024, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"], gapNanos: 2_000_000)
        if ProcessInfo.processInfo.environment["K2_UPDATE_GOLDEN"] == "1" {
            try traffic.write(to: Self.samplePath, count: 20_000)
        }
        let expected = traffic.records(count: 20_000)
        let reader = try CaptureReader(path: Self.samplePath)
        var index = 0
        while let record = try reader.next() {
            #expect(record.owned() == expected[index])
            index += 1
        }
        #expect(index == expected.count)
        #expect(try CaptureVerifier.verify(path: Self.samplePath).intact)
    }
}
