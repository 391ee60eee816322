import Foundation
import K2Replay
import Testing

@testable import K2Bench

/// Version guards in schema files: the statements for a server's version, and the errors of a
/// malformed guard (with file and line).
@Suite struct SchemaVersionTests {
    func version(_ text: String) throws -> ClickHouseVersion { try #require(ClickHouseVersion(text)) }

    @Test func versionsCompareByComponentWithMissingOnesAsZero() throws {
        #expect(try version("18.16.1") < version("19.14"))
        #expect(try version("19.14") == version("19.14.0.0"))
        #expect(try version("19.14.3.3") >= version("19.14"))
        #expect(try version("26.9.2.1") > version("19.14"))
        #expect(try version("19.9.99") < version("19.14"))
        #expect(try version(" 26.9.2.1\n").description == "26.9.2.1")
        for bad in ["", "26.x", "v26.9", "26..9", "26.9."] { #expect(ClickHouseVersion(bad) == nil, "\(bad)") }
    }

    @Test func aGuardedStatementRunsOnlyOnTheVersionsItNames() throws {
        let schema = try ClickHouseSchema(
            path: "s.sql",
            text: """
                CREATE TABLE a (x UInt8) ENGINE = Memory;
                -- k2: clickhouse < 19.14
                -- an ordinary comment between a guard and its statement
                CREATE VIEW v AS SELECT x FROM a_mv;
                -- k2: clickhouse >= 19.14
                CREATE VIEW v AS SELECT x FROM a;
                CREATE TABLE {name} (x UInt8) ENGINE = Memory;
                """)
        #expect(schema.statements.count == 4)
        #expect(schema.entries.map { $0.versionGuard?.description } == [nil, "clickhouse < 19.14", "clickhouse >= 19.14", nil])
        let old = schema.substituted(["name": "b"], for: try version("18.16.1"))
        #expect(
            old == ["CREATE TABLE a (x UInt8) ENGINE = Memory", "CREATE VIEW v AS SELECT x FROM a_mv", "CREATE TABLE b (x UInt8) ENGINE = Memory"])
        let current = schema.substituted(["name": "b"], for: try version("26.9.2.1"))
        #expect(
            current == ["CREATE TABLE a (x UInt8) ENGINE = Memory", "CREATE VIEW v AS SELECT x FROM a", "CREATE TABLE b (x UInt8) ENGINE = Memory"])
        #expect(schema.substituted([:], for: try version("19.14.3.3"))[1] == "CREATE VIEW v AS SELECT x FROM a")
    }

    @Test func theShippedPipelineSchemaHasOneGoldChainPerVersion() throws {
        let schema = try ClickHouseSchema(path: TargetsTests.repoRoot + "/reports/workloads/v2-pipeline.sql")
        for (text, source1m, source1h) in [("18.16.1", "FROM trades_mv", "FROM ohlcv_1m_mv"), ("26.9.2.1", "FROM trades ", "FROM ohlcv_1m_agg")] {
            let chosen = schema.substituted([:], for: try version(text))
            let views = chosen.filter { $0.hasPrefix("CREATE MATERIALIZED VIEW ohlcv_") }
            #expect(views.count == 2, "\(text)")
            #expect(views.first { $0.contains("ohlcv_1m_mv") }?.contains(source1m) == true, "\(text)")
            #expect(views.first { $0.contains("ohlcv_1h_mv") }?.contains(source1h) == true, "\(text)")
            #expect(chosen.count == schema.statements.count - 2)
        }
    }

    @Test func malformedGuardsNameTheFileAndLine() {
        let cases: [(String, String)] = [
            (
                "CREATE TABLE a (x UInt8) ENGINE = Memory;\n-- k2: clickhouse > 19.14\nSELECT 1;",
                "s.sql:2: '-- k2: clickhouse > 19.14' is not a version guard"
            ),
            ("-- k2: clickhouse < nineteen\nSELECT 1;", "s.sql:1: '-- k2: clickhouse < nineteen' is not a version guard"),
            (
                "-- k2: clickhouse < 19.14\n-- k2: clickhouse >= 20\nSELECT 1;",
                "s.sql:2: a second version guard before the statement guarded on line 1"
            ),
            ("SELECT 1;\n-- k2: clickhouse < 19.14\n", "s.sql:2: a version guard with no statement after it"),
            ("SELECT 1\n-- k2: clickhouse < 19.14\nFROM a;", "s.sql:2: a version guard inside a statement"),
        ]
        for (text, message) in cases {
            #expect {
                _ = try ClickHouseSchema(path: "s.sql", text: text)
            } throws: { error in
                "\(error)".contains(message)
            }
        }
    }
}
