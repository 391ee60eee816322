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
    private var pid: pid_t = 0

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
        guard let binary = ["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "/usr/bin/clickhouse"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw StartError(description: "clickhouse-server is missing: run scripts/install-deps.sh (apt-get install clickhouse-server)")
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
                <kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>
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
        // posix_spawn, not Foundation.Process: Process's child monitor blocks in wait4() on a
        // long-running child, which stalls every other Process (the curl queries) in the test.
        var args = [binary] + (binary.hasSuffix("/clickhouse") ? ["server"] : []) + ["--config-file=\(d)/config.xml"]
        // setpriv --pdeathsig: the server dies with the test process even if it crashes.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            args = ["/usr/bin/setpriv", "--pdeathsig", "KILL"] + args
        }
        pid = try Self.spawn(args, directory: d)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                let log = (try? String(contentsOfFile: d + "/server.err.log", encoding: .utf8)) ?? ""
                let tail = log.split(separator: "\n").suffix(3).joined(separator: " | ")
                throw StartError(description: "clickhouse-server exited with status \(status) during start: \(tail)")
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
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) == pid { pid = 0; return }
            usleep(100_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        pid = 0
    }

    public static func spawn(_ args: [String], directory: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/stdout.log", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, directory + "/stderr.log", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // A clean signal state: the test process blocks/ignores signals the server relies on.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, args[0], &actions, &attr, &cargs, environ)
        guard rc == 0 else {
            throw StartError(description: "cannot start \(args[0]): \(String(cString: strerror(rc)))")
        }
        return child
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
