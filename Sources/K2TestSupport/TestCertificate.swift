/// A self-signed TLS certificate for `localhost` (and 127.0.0.1), made with the `openssl` CLI at
/// test time, for local `wss://` servers. `certificate` doubles as the CA file clients trust.
package struct TestCertificate: Sendable {
    package let certificate: String
    package let privateKey: String

    /// Writes `cert.pem` and `key.pem` into `directory`. Throws (the test fails) when openssl is missing.
    package static func make(in directory: TemporaryDirectory, name: String = "localhost") throws -> TestCertificate {
        let cert = directory.file("\(name)-cert.pem"), key = directory.file("\(name)-key.pem")
        try Shell.run(
            "openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj /CN=localhost "
                + "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '\(key)' -out '\(cert)' 2>&1")
        return TestCertificate(certificate: cert, privateKey: key)
    }
}
