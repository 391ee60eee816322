import NIOCore
#if K2_TLS
import NIOSSL
#endif

/// TLS settings for `wss://` and `https://`.
public struct TLSOptions: Sendable {
    /// Verify the server certificate against the system trust roots (off only for local tests).
    public var verifyCertificate: Bool = true
    /// Extra trusted CA certificates (PEM file), e.g. a test server's self-signed certificate.
    public var trustRootsPEMFile: String?
    /// How long a TLS close waits for the peer's close_notify (NIOSSL's default is 5 s).
    public var shutdownTimeoutNanos: Int64 = 200_000_000

    public init(verifyCertificate: Bool = true, trustRootsPEMFile: String? = nil, shutdownTimeoutNanos: Int64 = 200_000_000) {
        self.verifyCertificate = verifyCertificate
        self.trustRootsPEMFile = trustRootsPEMFile
        self.shutdownTimeoutNanos = shutdownTimeoutNanos
    }

}

extension TLSOptions {
#if K2_TLS
    func handler(for url: NetURL) throws(NetError) -> NIOSSLClientHandler {
        var c = TLSConfiguration.makeClientConfiguration()
        c.shutdownTimeout = .nanoseconds(shutdownTimeoutNanos)
        if !verifyCertificate { c.certificateVerification = .none }
        if let f = trustRootsPEMFile { c.trustRoots = .file(f) }
        do {
            let ctx = try NIOSSLContext(configuration: c)
            // SNI cannot carry an IP address: send none for IP literals (use the host name to get SNI).
            return try NIOSSLClientHandler(context: ctx, serverHostname: url.hostIsIPAddress ? nil : url.host)
        } catch {
            throw NetError(.tls, place: url.description, what: "cannot set up TLS: \(error)", remedy: "check the trust roots file")
        }
    }

#else
    /// Built without swift-nio-ssl (the K2_TLS define is off): wss:// and https:// fail with one line.
    func handler(for url: NetURL) throws(NetError) -> any ChannelHandler {
        throw NetError(.tls, place: url.description, what: "this k2 was built without TLS", remedy: "rebuild with swift-nio-ssl (K2_TLS)")
    }
#endif
}
