import NIOCore

#if K2_TLS
import NIOSSL
#endif

/// TLS settings for `wss://` and `https://`.
package struct TLSOptions: Sendable {
    /// Verify the server certificate against the system trust roots (off only for local tests).
    package var verifyCertificate: Bool = true
    /// Extra trusted CA certificates (PEM file), e.g. a test server's self-signed certificate;
    /// trusted in addition to the system roots.
    package var trustRootsPEMFile: String?
    /// How long a TLS close waits for the peer's close_notify (NIOSSL's default is 5 s).
    var shutdownTimeoutNanos: Int64 = 200_000_000

    init(verifyCertificate: Bool = true, trustRootsPEMFile: String? = nil, shutdownTimeoutNanos: Int64 = 200_000_000) {
        self.verifyCertificate = verifyCertificate
        self.trustRootsPEMFile = trustRootsPEMFile
        self.shutdownTimeoutNanos = shutdownTimeoutNanos
    }

}

extension TLSOptions {
    #if K2_TLS
    func handler(for url: NetURL) throws(NetError) -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.shutdownTimeout = .nanoseconds(shutdownTimeoutNanos)
        if !verifyCertificate { configuration.certificateVerification = .none }
        if let file = trustRootsPEMFile { configuration.additionalTrustRoots = [.file(file)] }
        do {
            let ctx = try NIOSSLContext(configuration: configuration)
            // SNI cannot carry an IP address: send none for IP literals (use the host name to get SNI).
            return try NIOSSLClientHandler(context: ctx, serverHostname: url.hostIsIPAddress ? nil : url.host)
        } catch {
            throw NetError(.tls, place: url.description, what: "cannot set up TLS: \(error)", remedy: "check the CA file (PEM)")
        }
    }

    #else
    /// Built without swift-nio-ssl (the K2_TLS define is off): wss:// and https:// fail with one line.
    func handler(for url: NetURL) throws(NetError) -> any ChannelHandler {
        throw NetError(.tls, place: url.description, what: "this k2 was built without TLS", remedy: "rebuild with swift-nio-ssl (K2_TLS)")
    }
    #endif
}

/// Server-side TLS for `WebSocketServer` (wss:// test servers and simulators).
package struct TLSServerOptions: Sendable {
    /// PEM certificate chain (the server certificate first).
    package var certificatePEMFile: String
    /// PEM private key of the certificate.
    package var privateKeyPEMFile: String

    package init(certificatePEMFile: String, privateKeyPEMFile: String) {
        self.certificatePEMFile = certificatePEMFile
        self.privateKeyPEMFile = privateKeyPEMFile
    }
}

#if K2_TLS
/// A server TLS context built once; each accepted connection gets its own handler from it.
final class TLSServerContext: Sendable {
    let context: NIOSSLContext

    init(_ o: TLSServerOptions) throws(NetError) {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(o.certificatePEMFile).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: o.privateKeyPEMFile, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            configuration.shutdownTimeout = .milliseconds(200)
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw NetError(
                .tls, place: o.certificatePEMFile, what: "cannot load the TLS certificate or key: \(error)",
                remedy: "give a PEM certificate and its PEM private key")
        }
    }

    func handler() -> NIOSSLServerHandler { NIOSSLServerHandler(context: context) }
}
#else
final class TLSServerContext: Sendable {
    init(_ o: TLSServerOptions) throws(NetError) {
        throw NetError(.tls, place: o.certificatePEMFile, what: "this k2 was built without TLS", remedy: "rebuild with swift-nio-ssl (K2_TLS)")
    }
    func handler() -> any ChannelHandler { fatalError("unreachable") }
}
#endif
