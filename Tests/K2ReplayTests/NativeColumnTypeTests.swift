import Testing

@testable import K2Replay

/// The native client's column layouts: type names as ClickHouse sends them parse to the widths
/// of their values, and stepping over a column built here by hand (values, null maps, array
/// offsets, strings) consumes exactly its bytes, whatever sizes the source delivers them in.
struct NativeColumnTypeTests {
    /// A reader over `bytes`, handing out at most `chunk` bytes per fill.
    static func reader(_ bytes: [UInt8], chunk: Int) -> NativeReader {
        var offset = 0
        return NativeReader { buffer throws(NativeReader.Failure) in
            let count = min(chunk, buffer.count, bytes.count - offset)
            for index in 0..<count { buffer[index] = bytes[offset + index] }
            offset += count
            return count
        }
    }

    static func string(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        ClickHouseNativeClient.append(string: text, to: &out)
        return out
    }

    static func uint64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    @Test(arguments: [
        ("UInt8", NativeColumnType.fixed(1)), ("Int64", .fixed(8)), ("UInt256", .fixed(32)), ("Float32", .fixed(4)),
        ("Float64", .fixed(8)), ("String", .string), ("FixedString(16)", .fixed(16)), ("Date", .fixed(2)),
        ("DateTime", .fixed(4)), ("DateTime('UTC')", .fixed(4)), ("DateTime64(3, 'Europe/Paris')", .fixed(8)),
        ("Decimal(9, 2)", .fixed(4)), ("Decimal(18, 4)", .fixed(8)), ("Decimal(38, 10)", .fixed(16)), ("Decimal(76, 0)", .fixed(32)),
        ("Decimal64(4)", .fixed(8)), ("Enum8('a, b' = 1, 'c(' = 2)", .fixed(1)), ("Nullable(Float64)", .nullable(.fixed(8))),
        ("Array(Nullable(String))", .array(.nullable(.string))), ("Array(Array(UInt32))", .array(.array(.fixed(4)))),
        ("Tuple(UInt64, String, Array(Date))", .tuple([.fixed(8), .string, .array(.fixed(2))])),
    ])
    func typeNamesParseToTheirLayouts(name: String, layout: NativeColumnType) {
        #expect(NativeColumnType(parsing: name) == layout)
    }

    @Test(arguments: [
        "LowCardinality(String)", "AggregateFunction(count)", "Map(String, UInt64)", "Nested(a UInt8)", "Object('json')", "Decimal(99, 2)",
        "FixedString(0)", "Array(LowCardinality(String))", "Nullable(UInt8", "Strin",
    ])
    func typesItCannotStepOverAreRefused(name: String) {
        #expect(NativeColumnType(parsing: name) == nil)
    }

    /// Three rows of each layout, then a marker byte: after the skip the marker is next.
    @Test(arguments: [1, 3, 64])
    func skippingConsumesExactlyTheColumnsBytes(chunk: Int) throws {
        var bytes: [UInt8] = []
        // DateTime64: 3 × 8 bytes.
        bytes += [UInt8](repeating: 7, count: 24)
        // Nullable(String): null map, then a string per row (empty for the null).
        bytes += [0, 1, 0] + Self.string("first") + Self.string("") + Self.string(String(repeating: "x", count: 300))
        // Array(Nullable(UInt16)): offsets 2, 2, 5 → 5 nested values: null map then 5 × 2 bytes.
        bytes += Self.uint64(2) + Self.uint64(2) + Self.uint64(5) + [0, 0, 1, 0, 0] + [UInt8](repeating: 9, count: 10)
        // Tuple(FixedString(3), Array(String)): 3 × 3 bytes, then offsets 1, 1, 2 and 2 strings.
        bytes += [UInt8](repeating: 65, count: 9) + Self.uint64(1) + Self.uint64(1) + Self.uint64(2) + Self.string("a") + Self.string("bc")
        bytes.append(0xEE)
        let reader = Self.reader(bytes, chunk: chunk)
        for name in ["DateTime64(3)", "Nullable(String)", "Array(Nullable(UInt16))", "Tuple(FixedString(3), Array(String))"] {
            let type = try #require(NativeColumnType(parsing: name))
            try type.skip(rows: 3, in: reader)
        }
        #expect(try reader.byte() == 0xEE)
        #expect(reader.consumed == bytes.count)
    }

    @Test func aColumnCutShortIsAClosedSourceNotAHang() throws {
        let reader = Self.reader(Self.string("abc") + [5], chunk: 2)
        #expect(throws: NativeReader.Failure.closed) { try NativeColumnType.string.skip(rows: 2, in: reader) }
    }

    @Test func varintsRoundTrip() throws {
        let values: [UInt64] = [0, 1, 127, 128, 300, 54401, 1 << 35, UInt64.max]
        var bytes: [UInt8] = []
        for value in values { ClickHouseNativeClient.append(varUInt: value, to: &bytes) }
        let reader = Self.reader(bytes, chunk: 5)
        for value in values { #expect(try reader.varUInt() == value) }
    }
}
