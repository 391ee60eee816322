import Foundation
import K2Core

/// A real ClickHouse server (Debian's `clickhouse-server`) for integration tests: its own
/// temporary config.xml and data directory, free ports on 127.0.0.1, ready when `SELECT 1`
/// answers over HTTP, killed on `stop()` or release.
public final class ClickHouseServer: @unchecked Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public let httpPort: Int
    public let tcpPort: Int
    public let directory: TemporaryDirectory
    private let process: Process

    /// `http://127.0.0.1:PORT/`
    public var httpURL: String { "http://127.0.0.1:\(httpPort)/" }
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
        let binary = "/usr/bin/clickhouse-server"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw StartError(description: "\(binary) is missing: run scripts/install-deps.sh (apt-get install clickhouse-server)")
        }
        directory = TemporaryDirectory(prefix: "k2-clickhouse")
        httpPort = FreePort.next()
        tcpPort = FreePort.next()
        let d = directory.path
        let config = """
            <?xml version="1.0"?>
            <yandex>
                <logger><level>warning</level><log>\(d)/server.log</log><errorlog>\(d)/server.err.log</errorlog><console>0</console></logger>
                <http_port>\(httpPort)</http_port>
                <tcp_port>\(tcpPort)</tcp_port>
                <listen_host>127.0.0.1</listen_host>
                <path>\(d)/data/</path>
                <tmp_path>\(d)/tmp/</tmp_path>
                <user_files_path>\(d)/user_files/</user_files_path>
                <format_schema_path>\(d)/format_schemas/</format_schema_path>
                <users_config>\(d)/users.xml</users_config>
                <default_profile>default</default_profile>
                <default_database>default</default_database>
                <mark_cache_size>268435456</mark_cache_size>
                <max_concurrent_queries>50</max_concurrent_queries>
            </yandex>
            """
        try config.write(toFile: d + "/config.xml", atomically: true, encoding: .utf8)
        let profile = settings.sorted { $0.key < $1.key }.map { "<\($0.key)>\($0.value)</\($0.key)>" }.joined()
        let users = """
            <?xml version="1.0"?>
            <yandex>
                <profiles><default>\(profile)</default></profiles>
                <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>\
            <profile>default</profile><quota>default</quota></default></users>
                <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>\
            <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
            </yandex>
            """
        try users.write(toFile: d + "/users.xml", atomically: true, encoding: .utf8)
        for sub in ["data", "tmp", "user_files", "format_schemas"] {
            try FileManager.default.createDirectory(atPath: d + "/" + sub, withIntermediateDirectories: true)
        }
        let p = Process()
        // setpriv --pdeathsig: the server dies with the test process even if it crashes.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = ["--pdeathsig", "KILL", binary, "--config-file=\(d)/config.xml"]
        } else {
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["--config-file=\(d)/config.xml"]
        }
        p.currentDirectoryURL = URL(fileURLWithPath: d)
        let out = FileHandle(forWritingAtPath: "/dev/null")
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !p.isRunning {
                let log = (try? String(contentsOfFile: d + "/server.err.log", encoding: .utf8)) ?? ""
                let tail = log.split(separator: "\n").suffix(3).joined(separator: " | ")
                throw StartError(description: "clickhouse-server exited with status \(p.terminationStatus) during start: \(tail)")
            }
            if (try? query("SELECT 1"))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1" { return }
            usleep(200_000)
        }
        stop()
        throw StartError(description: "clickhouse-server did not answer SELECT 1 on port \(httpPort) within \(Int(timeout)) s")
    }

    /// Runs a statement over HTTP with curl (an independent client); returns the body, throws on non-200.
    @discardableResult
    public func query(_ sql: String) throws -> String {
        let file = directory.file("q-\(UInt32.random(in: 0...UInt32.max)).sql")
        try sql.write(toFile: file, atomically: false, encoding: .utf8)
        defer { unlink(file) }
        return try Shell.run("curl -sS --fail-with-body --max-time 60 --data-binary @'\(file)' '\(httpURL)'")
    }

    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<100 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// Free TCP ports on 127.0.0.1 (bound to port 0, read back, released).
public enum FreePort {
    public static func next() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
