import Foundation
import K2TestSupport
import Testing
@testable import K2Bench

/// The workload keys and verdict rows of the whole verdict: the `queries:` section.
@Suite struct WholeVerdictTests {
    static let root = TargetsTests.repoRoot

    @Test func shippedV2PipelineHasQueries() throws {
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(Self.root)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        let w = try WorkloadLoader.load(file: "reports/workloads/v2-pipeline.yaml")
        let q = try #require(w.queries)
        #expect(q.classes.map(\.name) == ["simple", "complex", "ohlcv", "cold"])
        #expect(q.classes.allSatisfy { FileManager.default.fileExists(atPath: $0.sql) && $0.rate > 0 })
        #expect(q.concurrency == 4 && q.seed == 1 && q.parametersFrom == "trades")
    }

    @Test func queriesKeysAreReadStrictly() throws {
        let tmp = TemporaryDirectory()
        let sql = tmp.file("s.sql")
        try "SELECT 1".write(toFile: sql, atomically: true, encoding: .utf8)
        let text = """
            source: {profile: calm}
            queries:
              concurrency: 2
              seed: 9
              parameters_from: silver
              database: db
              timeout: 5s
              classes:
                simple: {sql: \(sql), rate: 20, window: 10m}
            """
        let w = try WorkloadLoader.parse(text, file: tmp.file("w.yaml"))
        let q = try #require(w.queries)
        #expect(q.concurrency == 2 && q.seed == 9 && q.parametersFrom == "silver" && q.database == "db" && q.timeoutNanos == 5_000_000_000)
        var expected = Workload.QueryClass(name: "simple", sql: sql, rate: 20)
        expected.windowNanos = 600_000_000_000
        #expect(q.classes == [expected])

        func expectError(_ yaml: String, _ contains: String) {
            do {
                _ = try WorkloadLoader.parse("source: {profile: calm}\n" + yaml, file: "w.yaml")
                Issue.record("no error for \(contains)")
            } catch {
                #expect(error.description.hasPrefix("w.yaml:") && error.description.contains(contains), "\(error)")
            }
        }
        expectError("queries: {classes: {simple: {sql: \(sql), rat: 2}}}\n", "unknown key 'queries.classes.simple.rat'")
        expectError("queries: {classes: {simple: {sql: \(sql)}}}\n", "rate")
        expectError("queries: {classes: {simple: {sql: nope.sql, rate: 1}}}\n", "SQL file 'nope.sql' does not exist")
        expectError("queries: {classes: {sim-ple: {sql: \(sql), rate: 1}}}\n", "is not a class name")
        expectError("queries: {concurrency: 0, classes: {simple: {sql: \(sql), rate: 1}}}\n", "must be between 1 and 256")
        expectError("queries: {seed: 1}\n", "classes")
    }
}
