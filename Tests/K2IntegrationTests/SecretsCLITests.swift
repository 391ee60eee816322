import Foundation
import K2Core
import K2TestSupport
import Testing

/// Issue 17, "security": a ClickHouse user with a password over HTTP and HTTPS (self-signed
/// certificate), Kafka SASL from the URI, and no secret in any stderr line, summary or report
/// of runs that carry them (right, wrong or misspelled).
@Suite(.serialized)
struct SecretsCLITests {
    static let sample = Built.root + "/captures/binance-sample.k2cap"
    let dir = TemporaryDirectory()
    static let chPassword = "Ch-s3cret-4711"
    static let kafkaPassword = "Kf-s3cret-0815"
    static let typoPassword = "hunter2-typo"

    struct Run {
        var status: Int32
        var err: String
        /// stderr plus every file of the report directory.
        var everything: String
    }

    func replay(_ args: String, report: String? = nil) throws -> Run {
        var command = "'\(try Built.k2())' replay '\(Self.sample)' --quiet --speed max " + args
        if let report { command += " --report '\(report)'" }
        let (status, out, err) = try Shell.execute(command)
        var everything = out + err
        if let report, let names = try? FileManager.default.contentsOfDirectory(atPath: report) {
            for name in names { everything += (try? String(contentsOfFile: report + "/" + name, encoding: .utf8)) ?? "" }
        }
        return Run(status: status, err: err, everything: everything)
    }

    func expectNoSecret(_ run: Run, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in [Self.chPassword, Self.kafkaPassword, Self.typoPassword] {
            #expect(!run.everything.contains(secret), "secret '\(secret)' printed: \(run.err)", sourceLocation: sourceLocation)
        }
    }

    func count(_ server: ClickHouseServer, _ table: String) -> String {
        ((try? server.query("SELECT count() FROM \(table)")) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func clickHouseUserWithPasswordOverHTTPAndHTTPS() throws {
        let server = try ClickHouseServer.start(users: ["k2writer": Self.chPassword], tls: true)
        defer { server.stop() }
        let port = server.httpPort, https = try #require(server.httpsPort), ca = try #require(server.certificate).certificate

        // userinfo → basic auth: every message lands.
        let ok = try replay(
            "--create-tables --sink 'clickhouse://k2writer:\(Self.chPassword)@127.0.0.1:\(port)/default?mode=raw&table=t_userinfo'",
            report: dir.file("r1"))
        #expect(ok.status == 0, "\(ok.err)")
        #expect(count(server, "default.t_userinfo") == "20000")
        #expect(ok.err.contains("k2writer:***@"), "\(ok.err)")
        expectNoSecret(ok)

        // user=/password= options.
        let opts = try replay(
            "--create-tables --sink 'clickhouse://127.0.0.1:\(port)/default?mode=raw&table=t_options&user=k2writer&password=\(Self.chPassword)'",
            report: dir.file("r2"))
        #expect(opts.status == 0, "\(opts.err)")
        #expect(count(server, "default.t_options") == "20000")
        expectNoSecret(opts)

        // A wrong password: one line, exit 2, says what to check, no secret.
        let wrong = try replay("--sink 'clickhouse://k2writer:\(Self.typoPassword)@127.0.0.1:\(port)/default?mode=raw&table=t_userinfo'")
        #expect(wrong.status == 2)
        #expect(wrong.err.split(separator: "\n").count == 1, "\(wrong.err)")
        #expect(wrong.err.contains("user and password"), "\(wrong.err)")
        expectNoSecret(wrong)

        // HTTPS with the self-signed certificate as CA (URI ca_file= and --ca-file).
        let tls = try replay(
            "--create-tables --sink 'clickhouses://k2writer:\(Self.chPassword)@localhost:\(https)/default?mode=raw&table=t_tls&ca_file=\(ca)'",
            report: dir.file("r3"))
        #expect(tls.status == 0, "\(tls.err)")
        #expect(count(server, "default.t_tls") == "20000")
        expectNoSecret(tls)
        let tlsFlag = try replay(
            "--create-tables --ca-file '\(ca)' --sink 'clickhouses://k2writer:\(Self.chPassword)@127.0.0.1:\(https)/default?mode=raw&table=t_tls2'")
        #expect(tlsFlag.status == 0, "\(tlsFlag.err)")
        #expect(count(server, "default.t_tls2") == "20000")

        // HTTPS without trusting the certificate: one line naming TLS and --ca-file.
        let untrusted = try replay("--sink 'clickhouses://k2writer:\(Self.chPassword)@localhost:\(https)/default?mode=raw&table=t_tls'")
        #expect(untrusted.status == 2)
        #expect(untrusted.err.contains("TLS") && untrusted.err.contains("--ca-file"), "\(untrusted.err)")
        expectNoSecret(untrusted)
    }

    /// A workload's sink options and URI carry secrets: the bench run fails (kafka:// takes no
    /// such parameter) without echoing them.
    @Test func workloadSecretsNeverPrinted() throws {
        let workload = dir.file("secret.yaml"), out = dir.file("bench-out")
        try """
        name: secret-echo
        source:
          captures: [\(Self.sample)]
        speed: max
        duration: 1s
        sinks:
          - uri: kafka://alice:\(Self.kafkaPassword)@127.0.0.1:\(FreePort.next())?topic=t
            sasl.password: \(Self.typoPassword)

        """.write(toFile: workload, atomically: true, encoding: .utf8)
        let (status, stdout, stderr) = try Shell.execute("'\(try Built.k2())' bench run '\(workload)' --quiet --output '\(out)'")
        var everything = stdout + stderr
        if let names = FileManager.default.enumerator(atPath: out) {
            for case let name as String in names { everything += (try? String(contentsOfFile: out + "/" + name, encoding: .utf8)) ?? "" }
        }
        #expect(status != 0)
        #expect(stderr.contains("alice:***@"), "\(stderr)")
        expectNoSecret(Run(status: status, err: stderr, everything: everything))
    }

    @Test func kafkaSecretsNeverPrinted() throws {
        let port = FreePort.next()
        // A misspelled secret property (librdkafka rejects the name): exit 2, value masked.
        let typo = try replay("--sink kafka://127.0.0.1:\(port) -X sasl.pasword=\(Self.typoPassword)")
        #expect(typo.status == 2)
        #expect(typo.err.contains("sasl.pasword=***"), "\(typo.err)")
        expectNoSecret(typo)
        // userinfo → SASL settings, not a host called "alice:…@127.0.0.1".
        let userinfo = try replay("--sink 'kafka://alice:\(Self.kafkaPassword)@127.0.0.1:\(port)?topic=t' -X sasl.password=\(Self.kafkaPassword)")
        #expect(userinfo.status == 2)
        #expect(userinfo.err.contains("alice:***@127.0.0.1"), "\(userinfo.err)")
        expectNoSecret(userinfo)
    }
}
