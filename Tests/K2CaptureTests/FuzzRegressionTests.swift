import Foundation
import K2Capture
import K2TestSupport
import Testing

/// Inputs the reader fuzzer (scripts/fuzz.sh) found, kept as regression tests.
@Suite struct FuzzRegressionTests {
    let dir = TemporaryDirectory()

    /// A 580-byte file whose second frame declares a 2.9 GB block: the reader allocated it
    /// (libFuzzer out-of-memory). Now the declared size is checked against the format's limits
    /// and against the most zstd can expand the frame's bytes.
    @Test func frameClaimingAHugeBlockIsDamageNotAnAllocation() throws {
        let path = dir.file("oom.k2cap")
        let bytes = try #require(Data(base64Encoded: "XCpNGIMBAABLMkNBUEhEUgEAAAAAAAAAawEAAL6ewrF7InRvb2xfdmVyc2lvbiI6ImsyIDAuMS4wIiwiY3JlYXRlZF9ucyI6MTc5NTMxNTM5NjYwNDA3NjU1MCwiaG9zdCI6InZtIiwibWV0YWRhdGEiOnsiZXhjaGFuZ2UiOiJiaW5hbmNlIiwic2xpY2VkX2Zyb20iOnsicGF0aCI6ImNhcHR1cmVzL2JpbmFuY2Utc2FtcGxlLmsyY2FwIiwiY3JlYXRlZF9ucyI6MTcwMDAwMDAwMDAwMDAwMDAwMCwiZmlsdGVyIjoiLS1mcm9tICsxcyAtLXRvICsxLjAycyJ9LCJjb21tYW5kX2xpbmUiOiIuYnVpbGQvZGVidWcvazIgY2FwdHVyZSBzbGljZSBjYXB0dXJlcy9iaW5hbmNlLXNhbXBsZS5rMmNhcCAtbyAuYnVpbGQtZnV6ei9jb3JwdXMvc2FtcGxlLXNsaWNlIC0tZnJvbSArMXMgLS10byArMS4wMnMifX0otS/9pVS/B6mts3H/jl78SdkXhP4JWlwE4gkztp+p6dpmUZdtBCoO0Ai3NIx3+LA6R3/HRLitLcE1esxFG35Mudl0H2opPxvuVvb3hFVH/xUyirKgFa+ZqNB/UxHIDhpqaDOxNL4/OZBeKk0YSAAAAEsyQ0FQSURYAQAAAAAAAACLAQAAAAAAAMABAAAIAAAAaz7mcf6clxfYL/Ry/pyXF7AFAAAAAAAAAQAAABQEqNdQAAAASzJJWA=="))
        try bytes.write(to: URL(fileURLWithPath: path))
        let v = try CaptureVerifier.verify(path: path)
        #expect(v.problem?.kind == .corrupt)
        #expect(v.problem?.offset == 395)
        let e = #expect(throws: CaptureError.self) {
            let r = try CaptureReader(path: path)
            while try r.next() != nil {}
        }
        #expect(e?.description.contains("frame claims a block of 2913535935 bytes") == true)
    }
}
