import Foundation
import K2Bench
import K2Core
import K2Replay

/// A real ClickHouse server (Debian's `clickhouse-server`) for integration tests: K2Replay's
/// `LocalClickHouse` (own config and data directory, free ports on 127.0.0.1, ready when
/// `SELECT 1` answers), queried here with curl, an independent client.
package final class ClickHouseServer: Sendable {
    struct StartError: Error, CustomStringConvertible {
        package let description: String
    }

    package let server: LocalClickHouse
    package var httpPort: Int { server.httpPort }
    package var tcpPort: Int { server.tcpPort }
    package let directory: TemporaryDirectory
    /// The HTTPS port (`tls: true`), else nil.
    package let httpsPort: Int?
    /// The self-signed certificate of the HTTPS listener (`tls: true`): the CA file clients trust.
    package let certificate: TestCertificate?

    /// `http://127.0.0.1:PORT/`
    package var httpURL: String { server.httpURL }
    /// `clickhouse://127.0.0.1:PORT/` + database, for sink URIs.
    package func sinkURI(database: String = "default", query: String) -> String {
        "clickhouse://127.0.0.1:\(httpPort)/\(database)?\(query)"
    }

    /// Starts a server and waits (up to `timeout` seconds) until it answers. Throws with the
    /// reason (missing binary, early exit with its log's last lines, timeout).
    /// `settings` go into the default user's profile (e.g. `input_format_skip_unknown_fields`).
    /// `users`: more users (name → password) besides the password-less `default` (users.d/).
    /// `tls`: an HTTPS listener too, on `httpsPort`, with a self-signed certificate for
    /// localhost/127.0.0.1 made with openssl (config.d/).
    package static func start(
        timeout: Double = 60, settings: [String: String] = [:], users: [String: String] = [:],
        tls: Bool = false
    ) throws -> ClickHouseServer {
        try ClickHouseServer(timeout: timeout, settings: settings, users: users, tls: tls)
    }

    private init(timeout: Double, settings: [String: String], users: [String: String], tls: Bool) throws {
        directory = TemporaryDirectory(prefix: "k2-clickhouse")
        // ClickHouse merges config.d/*.xml into config.xml and users.d/*.xml into users.xml.
        let fm = FileManager.default
        if !users.isEmpty {
            try fm.createDirectory(atPath: directory.file("users.d"), withIntermediateDirectories: true)
            let entries = users.sorted { $0.key < $1.key }.map { name, password in
                "<\(name)><password>\(password)</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
                    + "<profile>default</profile><quota>default</quota></\(name)>"
            }.joined()
            try "<?xml version=\"1.0\"?>\n<yandex><users>\(entries)</users></yandex>\n"
                .write(toFile: directory.file("users.d/k2-test-users.xml"), atomically: true, encoding: .utf8)
        }
        if tls {
            let cert = try TestCertificate.make(in: directory)
            let port = FreePort.next()
            try fm.createDirectory(atPath: directory.file("config.d"), withIntermediateDirectories: true)
            try """
            <?xml version="1.0"?>
            <yandex>
                <https_port>\(port)</https_port>
                <openSSL><server><certificateFile>\(cert.certificate)</certificateFile><privateKeyFile>\(cert.privateKey)</privateKeyFile>\
            <verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile>\
            <disableProtocols>sslv2,sslv3</disableProtocols><preferServerCiphers>true</preferServerCiphers></server></openSSL>
            </yandex>

            """.write(toFile: directory.file("config.d/k2-test-tls.xml"), atomically: true, encoding: .utf8)
            httpsPort = port
            certificate = cert
        } else {
            httpsPort = nil
            certificate = nil
        }
        var configuration = LocalClickHouse.Configuration()
        configuration.settings = settings
        configuration.startTimeoutSeconds = timeout
        do {
            server = try LocalClickHouse(configuration, directory: directory.path)
        } catch {
            throw StartError(description: "\(error)")
        }
    }

    /// Runs a statement over HTTP with curl (an independent client); returns the body, throws on non-200.
    @discardableResult
    package func query(_ sql: String) throws -> String {
        let file = directory.file("q-\(UInt32.random(in: 0...UInt32.max)).sql")
        try sql.write(toFile: file, atomically: false, encoding: .utf8)
        defer { unlink(file) }
        return try Shell.run("curl -sS --fail-with-body --max-time 60 --data-binary @'\(file)' '\(httpURL)'")
    }

    /// The server's process id (0 once stopped), e.g. to kill it in a fault test.
    package var pid: pid_t { server.pid }

    package func stop() { server.stop() }

    deinit { stop() }
}
