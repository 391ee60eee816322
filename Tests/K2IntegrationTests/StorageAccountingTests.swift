import Foundation
import K2TestSupport
import Testing

@testable import K2Bench

/// Storage accounting against a real ClickHouse: what `system.parts` says about a table's active
/// parts equals what a SELECT over the table's rows works out.
@Suite(.serialized)
struct StorageAccountingTests {
    @Test func systemPartsRowsAndBytesMatchASelect() throws {
        let server = try ClickHouseServer.start()
        try server.query("CREATE DATABASE s")
        try server.query("CREATE TABLE s.raw (id UInt64, s String) ENGINE = MergeTree ORDER BY id")
        try server.query("CREATE TABLE s.untouched (id UInt64) ENGINE = MergeTree ORDER BY id")
        // Three inserts, three parts; strings of 0…19 bytes.
        for part in 0..<3 {
            try server.query(
                "INSERT INTO s.raw SELECT number + \(part * 1000), substring(toString(cityHash64(number)), 1, number % 20) FROM system.numbers LIMIT 1000"
            )
        }
        try server.query("CREATE TABLE s.other (x UInt32) ENGINE = MergeTree ORDER BY x")
        try server.query("INSERT INTO s.other SELECT toUInt32(number) FROM system.numbers LIMIT 500")
        let tables = try StorageAccounting.tables(host: "127.0.0.1", port: server.httpPort, database: "s")
        // A table without parts has no row in system.parts.
        #expect(tables.map(\.table) == ["other", "raw"])
        let raw = try #require(tables.last)
        // Uncompressed column data: 8 bytes per UInt64, a 1-byte length + the bytes per short String.
        let expected = try server.query("SELECT count(), 8 * count() + sum(length(s) + 1) FROM s.raw FORMAT TabSeparated")
        #expect("\(raw.rows)\t\(raw.uncompressedBytes)\n" == expected)
        #expect(raw.compressedBytes > 0 && raw.bytesOnDisk >= raw.compressedBytes)
        #expect(tables[0].rows == 500 && tables[0].uncompressedBytes == 2_000)
        // Merging the parts keeps rows and uncompressed bytes.
        try server.query("OPTIMIZE TABLE s.raw FINAL")
        let merged = try #require(try StorageAccounting.tables(host: "127.0.0.1", port: server.httpPort, database: "s").last)
        #expect(merged.rows == raw.rows && merged.uncompressedBytes == raw.uncompressedBytes)
    }
}
