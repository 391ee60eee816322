import Foundation
import K2Core
import K2Replay

/// A private ClickHouse server (Debian's `clickhouse-server`) the harness starts for a run, like
/// the embedded broker: its own config and data directory under a temporary folder, free ports
/// on 127.0.0.1, ready when `SELECT 1` answers over HTTP, killed on `stop()` (and with this
/// process, where `setpriv` exists). `k2 bench run` uses it for `embedded.clickhouse`; the
/// integration tests use it through K2TestSupport.
package final class LocalClickHouse: @unchecked Sendable {
    // unchecked: immutable but for `pid`, changed under `lock` (by the owner and a fault scheduler).
    package struct Configuration: Sendable {
        /// Settings for the default user's profile (e.g. `input_format_skip_unknown_fields: 1`).
        package var settings: [String: String] = [:]
        /// Seconds to wait for the first answer. Default 60 (18.16 answers in ~2 s; the machine may be busy).
        package var startTimeoutSeconds: Double = 60
        /// The Kafka engine's consumers start at the earliest offset when their group has no
        /// commit (librdkafka `auto.offset.reset`). Default `smallest`: nothing produced before the
        /// engine joined its group is skipped.
        package var kafkaAutoOffsetReset: String = "smallest"
        /// The Kafka engine's consumer session timeout (librdkafka `session.timeout.ms`). Default
        /// 6000: after a kill -9 and restart, the group waits this long for the dead member before
        /// it reads again (librdkafka's 45 s default kept ClickHouse ~45 s behind, long enough
        /// for the embedded broker's retention, ~5 MiB per partition, to delete unread messages).
        package var kafkaSessionTimeoutMillis: Int = 6000
        /// Server log level (`warning`, `information`, `trace`). Default `warning`.
        var logLevel: String = "warning"
        package init() {}
    }

    package let httpPort: Int
    package let tcpPort: Int
    /// The server's folder (config.xml, users.xml, data/, server.log, server.err.log).
    package let directory: String
    package private(set) var pid: pid_t = 0
    private let ownsDirectory: Bool
    private let arguments: [String]
    private let startTimeoutSeconds: Double
    private let lock = Lock()

    /// `http://127.0.0.1:PORT/`
    package var httpURL: String { "http://127.0.0.1:\(httpPort)/" }

    /// Starts a server and waits until it answers. Throws a `ReplayError` with the reason
    /// (missing binary, early exit with its log's last lines, timeout).
    package init(_ configuration: Configuration = Configuration(), directory: String? = nil) throws {
        guard
            let binary = ["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "/usr/bin/clickhouse"]
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw ReplayError(
                .unreachable, place: "embedded ClickHouse", what: "clickhouse-server is not installed",
                remedy: "run scripts/install-deps.sh (apt-get install clickhouse-server clickhouse-client)")
        }
        if let directory {
            self.directory = directory
            ownsDirectory = false
        } else {
            var template = Array((NSTemporaryDirectory() + "/k2-clickhouse.XXXXXX").utf8CString)
            guard let made = mkdtemp(&template) else {
                throw ReplayError(.io, place: "embedded ClickHouse", what: "cannot create a temporary directory: \(String(cString: strerror(errno)))")
            }
            self.directory = String(cString: made)
            ownsDirectory = true
        }
        httpPort = FreePort.next()
        tcpPort = FreePort.next()
        let serverDir = self.directory
        let config = """
            <?xml version="1.0"?>
            <yandex>
                <logger><level>\(configuration.logLevel)</level><log>\(serverDir)/server.log</log><errorlog>\(serverDir)/server.err.log</errorlog><console>0</console></logger>
                <http_port>\(httpPort)</http_port>
                <tcp_port>\(tcpPort)</tcp_port>
                <listen_host>127.0.0.1</listen_host>
                <path>\(serverDir)/data/</path>
                <tmp_path>\(serverDir)/tmp/</tmp_path>
                <user_files_path>\(serverDir)/user_files/</user_files_path>
                <format_schema_path>\(serverDir)/format_schemas/</format_schema_path>
                <users_config>\(serverDir)/users.xml</users_config>
                <default_profile>default</default_profile>
                <default_database>default</default_database>
                <mark_cache_size>268435456</mark_cache_size>
                <max_concurrent_queries>50</max_concurrent_queries>
                <kafka><auto_offset_reset>\(configuration.kafkaAutoOffsetReset)</auto_offset_reset><session_timeout_ms>\(configuration.kafkaSessionTimeoutMillis)</session_timeout_ms><heartbeat_interval_ms>1000</heartbeat_interval_ms></kafka>
            </yandex>
            """
        let profile = configuration.settings.sorted { $0.key < $1.key }.map { "<\($0.key)>\($0.value)</\($0.key)>" }.joined()
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
        do {
            for sub in ["data", "tmp", "user_files", "format_schemas"] {
                try FileManager.default.createDirectory(atPath: serverDir + "/" + sub, withIntermediateDirectories: true)
            }
            try config.write(toFile: serverDir + "/config.xml", atomically: true, encoding: .utf8)
            try users.write(toFile: serverDir + "/users.xml", atomically: true, encoding: .utf8)
        } catch {
            throw ReplayError(.io, place: serverDir, what: "cannot write the ClickHouse configuration: \(error)")
        }
        arguments = [binary] + (binary.hasSuffix("/clickhouse") ? ["server"] : []) + ["--config-file=\(serverDir)/config.xml"]
        startTimeoutSeconds = configuration.startTimeoutSeconds
        try launch()
    }

    /// Spawns the server on `directory` and waits until it answers `SELECT 1`. `dieWithParent`
    /// (setpriv's parent-death signal) follows the spawning *thread*: a restart from a fault
    /// scheduler's thread must not use it, or the server dies when that thread ends; `stop()`
    /// and `deinit` still end it.
    private func launch(dieWithParent: Bool = true) throws {
        let serverDir = directory
        do {
            let started = try ChildProcess.spawn(
                arguments, stdoutPath: serverDir + "/stdout.log", stderrPath: serverDir + "/stderr.log", dieWithParent: dieWithParent)
            lock.withLock { pid = started }
        } catch {
            throw ReplayError(.unreachable, place: "embedded ClickHouse", what: "\(error)", remedy: "check that clickhouse-server runs")
        }
        let deadline = Date().addingTimeInterval(startTimeoutSeconds)
        while Date() < deadline {
            var status: Int32 = 0
            if ChildProcess.exited(lock.withLock({ pid }), status: &status) {
                lock.withLock { pid = 0 }
                let log = (try? String(contentsOfFile: serverDir + "/server.err.log", encoding: .utf8)) ?? ""
                let tail = log.split(separator: "\n").suffix(3).joined(separator: " | ")
                throw ReplayError(
                    .unreachable, place: "embedded ClickHouse",
                    what: "clickhouse-server exited with status \(status) during start: \(tail)",
                    remedy: "see \(serverDir)/server.err.log")
            }
            if (try? query("SELECT 1"))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1" { return }
            usleep(200_000)
        }
        stop()
        throw ReplayError(
            .unreachable, place: "embedded ClickHouse",
            what: "clickhouse-server did not answer SELECT 1 on port \(httpPort) within \(Int(startTimeoutSeconds)) s",
            remedy: "see \(serverDir)/server.err.log; the machine may be overloaded")
    }

    // Faults (workload `faults:` with `target: clickhouse`).

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers.
    package func pause() { lock.withLock { if pid > 0 { _ = kill(pid, SIGSTOP) } } }
    /// Lets a paused server run again (SIGCONT).
    func resume() { lock.withLock { if pid > 0 { _ = kill(pid, SIGCONT) } } }
    /// Kills the server like a crash (SIGKILL, no shutdown); its data directory stays for `restart()`.
    package func crash() {
        lock.withLock {
            guard pid > 0 else { return }
            _ = kill(pid, SIGKILL)
            _ = ChildProcess.wait(pid)
            pid = 0
        }
    }
    /// Starts the server again on the same data directory and ports after `crash()`; waits until
    /// it answers. Callable from any thread (the restarted server is not tied to it).
    func restart() throws {
        guard lock.withLock({ pid == 0 }) else { return }
        try launch(dieWithParent: false)
    }

    /// Runs one statement over HTTP (libcurl); the body on success, a `ReplayError` with
    /// ClickHouse's message otherwise.
    @discardableResult
    package func query(_ sql: String, database: String? = nil) throws -> String {
        let http = try ClickHouseHTTP(host: "127.0.0.1", port: httpPort, place: "embedded ClickHouse")
        return try http.execute(sql, database: database)
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its folder if it made it.
    package func stop() {
        lock.withLock {
            if pid > 0 {
                _ = kill(pid, SIGCONT)  // a paused server cannot act on SIGTERM
                ChildProcess.terminate(pid)
            }
            pid = 0
            if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) }
        }
    }

    deinit { stop() }
}
