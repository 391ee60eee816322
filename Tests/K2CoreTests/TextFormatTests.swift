import K2Core
import Testing

// Table tests for K2Core's small text pieces: durations, sizes, ISO-8601 times, fixed-point
// numbers, JSON bytes, base64 and CRC-32. Each row is (input, expected); a nil expectation
// means the input must be refused (never a trap).

@Test(arguments: [
    ("250ms", Int64(250_000_000)),
    ("30s", 30_000_000_000),
    ("1.5s", 1_500_000_000),
    ("10m", 600_000_000_000),
    ("10min", 600_000_000_000),
    ("2h", 7_200_000_000_000),
    ("1h30m", 5_400_000_000_000),
    ("1d", 86_400_000_000_000),
    ("500us", 500_000),
    ("500µs", 500_000),
    ("100ns", 100),
    ("42", 42_000_000_000),
    ("0", 0),
])
func durationsParse(text: String, nanos: Int64) {
    #expect(TimeText.parseDuration(text) == nanos)
}

@Test(arguments: ["", "s", "ms", "10x", "1e5", "1h30", "-5s", "abc", "1..5s", "999999999999d", "1 s"])
func badDurationsAreRefused(text: String) {
    #expect(TimeText.parseDuration(text) == nil)
}

@Test(arguments: [
    (Int64(850), "850ns"),
    (12_300, "12.3µs"),
    (4_560_000, "4.56ms"),
    (1_230_000_000, "1.23s"),
    (123_000_000_000, "2m03s"),
    (3_720_000_000_000, "1h02m"),
])
func durationsPrintForPeople(nanos: Int64, text: String) {
    #expect(TimeText.humanDuration(nanos: nanos) == text)
}

@Test(arguments: [
    ("1000", Int64(1000)),
    ("64k", 64_000),
    ("64KB", 64_000),
    ("512MiB", 536_870_912),
    ("1GB", 1_000_000_000),
    ("1.5gib", 1_610_612_736),
    (" 2m ", 2_000_000),
    ("3b", 3),
])
func sizesParse(text: String, bytes: Int64) {
    #expect(SizeText.parse(text) == bytes)
}

@Test(arguments: ["", "k", "12 parsecs", "1e9", "-5k", "99999999999999999999999", "999999999tb"])
func badSizesAreRefused(text: String) {
    #expect(SizeText.parse(text) == nil)
}

@Test(arguments: [
    (Int64(999), "999 B"),
    (1_500, "1.5 kB"),
    (2_340_000, "2.3 MB"),
    (7_250_000_000, "7.25 GB"),
])
func sizesPrintForPeople(bytes: Int64, text: String) {
    #expect(SizeText.human(bytes: bytes) == text)
}

@Test(arguments: [
    ("2023-11-14T22:13:20Z", Int64(1_700_000_000_000_000_000)),
    ("2023-11-14T22:13:20.123456789Z", 1_700_000_000_123_456_789),
    ("2023-11-14T22:13:20.5Z", 1_700_000_000_500_000_000),
    // Digits past the ninth are dropped (the import fuzzer's first find: this trapped).
    ("2023-11-14T22:13:20.1234567891234Z", 1_700_000_000_123_456_789),
    ("2023-11-14 22:13:20Z", 1_700_000_000_000_000_000),
    ("2023-11-15T00:13:20+02:00", 1_700_000_000_000_000_000),
    ("2023-11-14T20:13:20-0200", 1_700_000_000_000_000_000),
    ("2023-11-14T22:13:20", 1_700_000_000_000_000_000),
    ("2023-11-14", 1_699_920_000_000_000_000),
    ("1969-12-31T23:59:59Z", -1_000_000_000),
])
func isoTimesParse(text: String, nanos: Int64) {
    #expect(TimeText.parseISO8601(text) == nanos)
}

@Test(arguments: ["", "2023-13-01", "2023-11-32", "2023-11-14T25:00Z", "2023-11-14T22:13:20.Z", "yesterday", "2023-11-14T22:13:20Zjunk"])
func badIsoTimesAreRefused(text: String) {
    #expect(TimeText.parseISO8601(text) == nil)
}

@Test func isoTimesRoundTrip() {
    for nanos: Int64 in [0, 1_700_000_000_123_456_789, -1, -1_000_000_001, 4_102_444_800_000_000_000] {
        let text = TimeText.iso8601(nanos: nanos)
        #expect(TimeText.parseISO8601(text) == nanos, "\(text)")
    }
    #expect(TimeText.iso8601(nanos: 1_700_000_000_123_456_789, fractionDigits: 3) == "2023-11-14T22:13:20.123Z")
    #expect(TimeText.iso8601(nanos: 1_700_000_000_123_456_789, fractionDigits: 0) == "2023-11-14T22:13:20Z")
    #expect(TimeText.iso8601(nanos: -1) == "1969-12-31T23:59:59.999999999Z")
}

@Test(arguments: [
    (3.14159, 2, "3.14"),
    (2.5, 0, "3"),
    (-0.004, 2, "0.00"),
    (-1.25, 1, "-1.3"),
    (1_000_000.0, 3, "1000000.000"),
    (Double.nan, 2, "nan"),
    (Double.infinity, 2, "inf"),
    (-Double.infinity, 1, "-inf"),
])
func fixedPointText(value: Double, digits: Int, text: String) {
    #expect(TimeText.fixed(value, digits) == text)
}

@Test(arguments: [
    ("plain", "\"plain\""),
    ("quote \" and \\ back", "\"quote \\\" and \\\\ back\""),
    ("line\nfeed\ttab\r", "\"line\\nfeed\\ttab\\r\""),
    ("\u{01}\u{1F}", "\"\\u0001\\u001f\""),
    ("ünïcode €", "\"ünïcode €\""),
])
func jsonStringsAreEscaped(text: String, json: String) {
    #expect(JSONText.quoted(text) == json)
}

@Test func jsonStringsRefuseInvalidUTF8() {
    let bad: [[UInt8]] = [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80]]
    for bytes in bad {
        var out: [UInt8] = [1]
        let appended = bytes.withUnsafeBytes { JSONText.appendString($0, to: &out) }
        #expect(!appended && out == [1], "\(bytes)")
    }
    let good: [UInt8] = Array("aaaaaaaaaaaa€".utf8)
    #expect(good.withUnsafeBytes { JSONText.isValidUTF8($0) })
}

@Test(arguments: [Int64(0), 7, -7, 1_700_000_000_123_456_789, Int64.max, Int64.min])
func jsonIntegers(value: Int64) {
    var out: [UInt8] = []
    JSONText.appendInt(value, to: &out)
    #expect(String(decoding: out, as: UTF8.self) == String(value))
}

@Test func jsonParsesKeepingNumberTextAndKeyOrder() throws {
    let value = try JSONParser.parse(#"{"b":1700000000123456789,"a":[true,null,"x\u0041"],"p":"0.10"}"#)
    #expect(value["b"]?.numberText == "1700000000123456789")
    #expect(value["b"]?.int64Value == 1_700_000_000_123_456_789)
    #expect(value["a"]?.arrayValue == [.bool(true), .null, .string("xA")])
    #expect(value["p"]?.doubleValue == 0.1)
    #expect(value.serialized() == #"{"b":1700000000123456789,"a":[true,null,"xA"],"p":"0.10"}"#)
}

@Test(arguments: ["", "{", "[1,]", "{\"a\"}", "tru", "\"open", "{\"a\":1} x"])
func jsonRefusesMalformedText(text: String) {
    #expect(throws: CoreError.self) { try JSONParser.parse(text) }
}

@Test(arguments: [
    ("", ""),
    ("f", "Zg=="),
    ("fo", "Zm8="),
    ("foo", "Zm9v"),
    ("foob", "Zm9vYg=="),
    ("fooba", "Zm9vYmE="),
    ("foobar", "Zm9vYmFy"),
])
func base64MatchesRFC4648(text: String, encoded: String) {
    #expect(Base64.encode(Array(text.utf8)) == encoded)
    #expect(Base64.decode(encoded) == Array(text.utf8))
}

@Test func base64RoundTripsEveryByteAndRefusesForeignCharacters() {
    let bytes = (0..<256).map { UInt8($0) }
    #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    #expect(Base64.decode("Zm9v\u{00E9}") == nil)
    #expect(Base64.decode("Zm 9v") == nil)
    #expect(Base64.decode("Zm9vYg") == Array("foob".utf8))
}

@Test func crc32MatchesZlibCheckValues() {
    // The standard check value of CRC-32/ISO-HDLC (zlib's) for "123456789".
    #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    #expect(CRC32.checksum([]) == 0)
    let whole = CRC32.checksum(Array("hello world".utf8))
    let first = CRC32.checksum(Array("hello ".utf8))
    let continued = Array("world".utf8).withUnsafeBytes { CRC32.checksum($0, continuing: first) }
    #expect(continued == whole)
}
