import K2Core
import Testing

/// Text the command line hands to K2Core that is too large for Int64 nanoseconds or bytes:
/// nil (the caller's "not a size / not a time" message), never a trap.
struct TextOverflowTests {
    @Test(
        arguments: [
            ("1GB", 1_000_000_000 as Int64?), ("64k", 64_000), ("512MiB", 536_870_912), ("9TB", 9_000_000_000_000),
            ("99999999999999999999", nil), ("1000000000TB", nil), ("9.3e18", nil), ("inf", nil), ("nan", nil),
        ] as [(String, Int64?)])
    func sizeFitsOrIsNil(text: String, bytes: Int64?) {
        #expect(SizeText.parse(text) == bytes)
    }

    @Test(
        arguments: [
            ("1678-01-01T00:00:00Z", -9_214_560_000_000_000_000 as Int64?), ("2261-12-31T23:59:59Z", 9_214_646_399_000_000_000),
            ("1970-01-01T00:00:01Z", 1_000_000_000), ("2262-04-12T00:00:00Z", nil), ("9999-01-01T00:00:00Z", nil),
            ("0001-01-01T00:00:00Z", nil), ("1677-09-21T00:12:44Z", nil),
        ] as [(String, Int64?)])
    func isoTimeFitsOrIsNil(text: String, nanos: Int64?) {
        #expect(TimeText.parseISO8601(text) == nanos)
    }
}
