import K2Capture
import K2Core
import K2Net
import K2TestSupport
import Testing

@testable import K2Record

#if canImport(Glibc)
import Glibc
#endif

/// `wss://`: recording through TLS from a local server with a self-signed certificate made by
/// `openssl` at test time, and the TLS failures a user meets (untrusted certificate, a plain
/// server behind a wss:// URL, a TLS server behind a ws:// URL): each ends the recording at once
/// with one line and is bad input (exit 2), not a hang.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct TLSRecordTests {
    static func tlsServer(_ ex: ScriptedExchange, _ cert: TestCertificate) throws -> WebSocketServer {
        var configuration = WebSocketServer.Configuration()
        configuration.tls = TLSServerOptions(certificatePEMFile: cert.certificate, privateKeyPEMFile: cert.privateKey)
        return try WebSocketServer(configuration, delegate: ex)
    }

    static func runExpectingFailure(_ c: RecordConfiguration) throws -> RecordError? {
        let rec = try Recorder(c)
        do {
            _ = try rec.run()
            Issue.record("the recording did not fail")
            return nil
        } catch {
            return error
        }
    }

    @Test func recordsEveryFrameOverTLSTrustingTheTestCA() throws {
        let dir = TemporaryDirectory()
        let cert = try TestCertificate.make(in: dir)
        var frames = trades(3000)
        frames.insert(([0, 1, 2, 255], true), at: 7)
        let ex = ScriptedExchange(frames: frames)
        let server = try Self.tlsServer(ex, cert)
        defer { server.close() }
        let plan = try ConnectionPlan.raw(url: "wss://localhost:\(server.port)/feed", sends: ["subscribe"])
        var config = testConfig([plan], dir.file("tls.k2cap"))
        config.client.tls.trustRootsPEMFile = cert.certificate
        let rec = try Recorder(config)
        rec.start()
        #expect(waitUntil { rec.currentSummary().frames == Int64(frames.count) })
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        let recs = try readAll(dir.file("tls.k2cap"))
        #expect(recs.first?.kind == .connect)
        #expect(String(decoding: recs[0].url, as: UTF8.self) == "wss://localhost:\(server.port)/feed")
        #expect(ex.receivedTexts == ["subscribe"])
        let recv = recs.filter { $0.kind == .recv }
        #expect(recv.map(\.payload) == frames.map(\.0))
        #expect(recv.map(\.isBinary) == frames.map(\.1))
        #expect(recs.last?.kind == .disconnect)
        #expect(String(decoding: recs.last!.payload, as: UTF8.self).contains("\"code\":1000"))
    }

    @Test func untrustedCertificateFailsAtOnceAsBadInput() throws {
        let dir = TemporaryDirectory()
        let cert = try TestCertificate.make(in: dir)
        let server = try Self.tlsServer(ScriptedExchange(frames: trades(10)), cert)
        defer { server.close() }
        let plan = try ConnectionPlan.raw(url: "wss://localhost:\(server.port)/", sends: ["sub"])
        let failure = try Self.runExpectingFailure(testConfig([plan], dir.file("u.k2cap")))
        #expect(failure?.code == .connect)
        #expect(failure?.duringRecording == false)
        #expect(failure?.description.contains("TLS failed") == true, "\(String(describing: failure))")
        #expect(failure.map { !$0.description.contains("\n") } == true)
        // No connection ever opened: no capture is left behind (issue 17).
        #expect(access(dir.file("u.k2cap"), F_OK) != 0)
    }

    @Test func wssToAPlainServerFailsAfterTheHandshakeTimeout() throws {
        let dir = TemporaryDirectory()
        let server = try WebSocketServer(delegate: ScriptedExchange(frames: trades(10)))
        defer { server.close() }
        let plan = try ConnectionPlan.raw(url: "wss://localhost:\(server.port)/", sends: ["sub"])
        var config = testConfig([plan], dir.file("p.k2cap"))
        config.client.handshakeTimeoutNanos = 300_000_000
        let failure = try Self.runExpectingFailure(config)
        #expect(failure?.code == .connect)
        #expect(failure?.duringRecording == false)
        #expect(failure?.description.contains("TLS handshake did not complete") == true, "\(String(describing: failure))")
        #expect(access(dir.file("p.k2cap"), F_OK) != 0)
    }

    @Test func wsToATLSServerFailsAsBadInput() throws {
        let dir = TemporaryDirectory()
        let cert = try TestCertificate.make(in: dir)
        let server = try Self.tlsServer(ScriptedExchange(frames: trades(10)), cert)
        defer { server.close() }
        let plan = try ConnectionPlan.raw(url: "ws://localhost:\(server.port)/", sends: ["sub"])
        var config = testConfig([plan], dir.file("w.k2cap"))
        config.client.handshakeTimeoutNanos = 2_000_000_000
        let failure = try Self.runExpectingFailure(config)
        #expect(failure?.code == .connect)
        #expect(failure?.duringRecording == false)
    }

    @Test func reconnectsAndResubscribesOverTLS() throws {
        let dir = TemporaryDirectory()
        let cert = try TestCertificate.make(in: dir)
        let ex = ScriptedExchange(frames: trades(50), dropAfter: 20)
        let server = try Self.tlsServer(ex, cert)
        defer { server.close() }
        let plan = try ConnectionPlan.raw(url: "wss://localhost:\(server.port)/", sends: ["sub"])
        var rc = testConfig([plan], dir.file("r.k2cap"))
        rc.client.tls.trustRootsPEMFile = cert.certificate
        let rec = try Recorder(rc)
        rec.start()
        #expect(waitUntil { rec.currentSummary().frames == 70 && rec.currentSummary().reconnects == 1 })
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        let recv = try readAll(dir.file("r.k2cap")).filter { $0.kind == .recv }.map(\.payload)
        #expect(recv == Array(trades(50).map(\.0).prefix(20)) + trades(50).map(\.0))
    }
}
