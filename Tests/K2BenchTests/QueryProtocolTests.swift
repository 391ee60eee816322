import K2Core
import K2TestSupport
import Testing

@testable import K2Bench

/// `queries.protocol` and `queries.native_port`: HTTP unless the workload says native; bad values
/// name the key and what to write.
struct QueryProtocolTests {
    @Test func protocolAndNativePortAreReadStrictly() throws {
        let tmp = TemporaryDirectory()
        let sql = tmp.file("s.sql")
        try "SELECT 1".write(toFile: sql, atomically: true, encoding: .utf8)
        let classes = "classes: {simple: {sql: \(sql), rate: 20}}"
        let file = tmp.file("w.yaml")
        func load(_ options: String) throws(BenchError) -> Workload.Queries? {
            let text = "source: {profile: calm}\nqueries: {\(options)\(classes)}\n"
            let workload = try WorkloadLoader.parse(text, file: file)
            return workload.queries
        }
        let plain = try #require(try load(""))
        #expect(plain.protocol == .http && plain.nativePort == nil)
        let native = try #require(try load("protocol: native, native_port: 9440, "))
        #expect(native.protocol == .native && native.nativePort == 9440)
        #expect(try load("protocol: http, ")?.protocol == .http)

        for (options, expected) in [
            ("protocol: grpc, ", "'grpc' is not a query protocol"), ("native_port: 0, ", "must be between 1 and 65535"),
            ("native_port: 70000, ", "must be between 1 and 65535"),
        ] {
            do {
                _ = try load(options)
                Issue.record("no error for \(options)")
            } catch {
                #expect("\(error)".contains(expected) && "\(error)".contains("queries."), "\(error)")
            }
        }
    }

    /// The main job (./k2up) queries over the native protocol, like clickhouse-benchmark.
    @Test func theMainJobQueriesOverTheNativeProtocol() throws {
        let main = try WorkloadLoader.load(file: "reports/workloads/v2-pipeline.yaml")
        #expect(main.queries?.protocol == .native && main.queries?.nativePort == nil)
    }
}
