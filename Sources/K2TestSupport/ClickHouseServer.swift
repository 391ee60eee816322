import Foundation
import K2Bench
import K2Core
import K2Replay


/// A real ClickHouse server (Debian's `clickhouse-server`) for integration tests: K2Replay's
/// `LocalClickHouse` (own config and data directory, free ports on 127.0.0.1, ready when
/// `SELECT 1` answers), queried here with curl, an independent client.
public final class ClickHouseServer: Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public let server: LocalClickHouse
    public var httpPort: Int { server.httpPort }
    public var tcpPort: Int { server.tcpPort }
    public let directory: TemporaryDirectory

    /// `http://127.0.0.1:PORT/`
    public var httpURL: String { server.httpURL }
    /// `clickhouse://127.0.0.1:PORT/` + database, for sink URIs.
    public func sinkURI(database: String = "default", query: String) -> String {
        "clickhouse://127.0.0.1:\(httpPort)/\(database)?\(query)"
    }

    /// Starts a server and waits (up to `timeout` seconds) until it answers. Throws with the
    /// reason (missing binary, early exit with its log's last lines, timeout).
    /// `settings` go into the default user's profile (e.g. `input_format_skip_unknown_fields`).
    public static func start(timeout: Double = 60, settings: [String: String] = [:]) throws -> ClickHouseServer {
        try ClickHouseServer(timeout: timeout, settings: settings)
    }

    private init(timeout: Double, settings: [String: String]) throws {
        directory = TemporaryDirectory(prefix: "k2-clickhouse")
        var c = LocalClickHouse.Configuration()
        c.settings = settings
        c.startTimeoutSeconds = timeout
        do {
            server = try LocalClickHouse(c, directory: directory.path)
        } catch {
            throw StartError(description: "\(error)")
        }
    }

    /// Runs a statement over HTTP with curl (an independent client); returns the body, throws on non-200.
    @discardableResult
    public func query(_ sql: String) throws -> String {
        let file = directory.file("q-\(UInt32.random(in: 0...UInt32.max)).sql")
        try sql.write(toFile: file, atomically: false, encoding: .utf8)
        defer { unlink(file) }
        return try Shell.run("curl -sS --fail-with-body --max-time 60 --data-binary @'\(file)' '\(httpURL)'")
    }

    /// The server's process id (0 once stopped), e.g. to kill it in a fault test.
    public var pid: pid_t { server.pid }

    public func stop() { server.stop() }

    deinit { stop() }
}
