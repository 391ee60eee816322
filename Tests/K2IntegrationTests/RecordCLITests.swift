import K2Capture
import K2Core
import K2Net
import K2TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `k2 record` as a process: TLS (trusted with --ca-file, and failures that must end the process
/// with one line and exit 2, never hang), --connections, --rotate by time, and a full file system
/// (one line, exit 1, the capture stays readable).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RecordCLITests {
    /// A ticker server, plain or TLS, on its own loop.
    final class Ticker {
        let loop = NetLoop()
        let exchange: TickerExchange
        let server: WebSocketServer

        init(perTick: Int = 5, tls: TestCertificate? = nil) throws {
            exchange = TickerExchange(perTick: perTick, loop: loop)
            var c = WebSocketServer.Configuration()
            c.tls = tls.map { TLSServerOptions(certificatePEMFile: $0.certificate, privateKeyPEMFile: $0.privateKey) }
            server = try WebSocketServer(c, delegate: exchange, loop: loop)
        }

        func close() {
            exchange.stop()
            server.close()
            loop.shutdown()
        }
    }

    /// Runs a shell command line; returns its exit status and stderr.
    func run(_ command: String) throws -> (status: Int32, stderr: String) {
        let (status, _, err) = try Shell.execute(command)
        return (status, err)
    }

    @Test func wssWithTheCAFileRecordsAndStopsByItself() throws {
        let k2 = try Built.k2()
        let dir = TemporaryDirectory()
        let cert = try TestCertificate.make(in: dir)
        let t = try Ticker(tls: cert)
        defer { t.close() }
        let file = dir.file("tls.k2cap")
        let r = try run("\(k2) record --url wss://localhost:\(t.server.port)/ --ca-file \(cert.certificate) --duration 1s --quiet -o \(file)")
        #expect(r.status == 0, "\(r.stderr)")
        let got = try recvPayloads(file)
        #expect(!got.damaged && got.last == .disconnect)
        #expect(got.frames.count > 100)
        #expect(got.frames == (0..<got.frames.count).map { TickerExchange.frame($0) })
    }

    @Test func untrustedCertificateExitsTwoWithOneLine() throws {
        let k2 = try Built.k2()
        let dir = TemporaryDirectory()
        let cert = try TestCertificate.make(in: dir)
        let t = try Ticker(tls: cert)
        defer { t.close() }
        let file = dir.file("u.k2cap")
        // `timeout` turns a hang into status 124.
        let r = try run("timeout 20 \(k2) record --url wss://localhost:\(t.server.port)/ --quiet -o \(file)")
        #expect(r.status == 2, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("k2: wss://localhost:") && lines[0].contains("TLS failed"), "\(r.stderr)")
        #expect(access(file, F_OK) != 0, "a capture without a connection was left behind")
    }

    /// Issue 17: `record` to a refused port exits 2 with one line and leaves no (empty) capture.
    @Test func refusedPortExitsTwoAndLeavesNoFile() throws {
        let k2 = try Built.k2()
        let dir = TemporaryDirectory()
        let file = dir.file("refused.k2cap")
        let r = try run("timeout 20 \(k2) record --url ws://127.0.0.1:\(FreePort.next())/ --quiet -o \(file)")
        #expect(r.status == 2, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("k2: ws://127.0.0.1:") && lines[0].lowercased().contains("refused"), "\(r.stderr)")
        #expect(access(file, F_OK) != 0, "an empty capture was left behind")
    }

    @Test func wssToAPlainServerExitsTwoAfterTheConnectTimeout() throws {
        let k2 = try Built.k2()
        let dir = TemporaryDirectory()
        let t = try Ticker()
        defer { t.close() }
        let r = try run("timeout 20 \(k2) record --url wss://localhost:\(t.server.port)/ --connect-timeout 500ms --quiet -o \(dir.file("p.k2cap"))")
        #expect(r.status == 2, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("TLS handshake did not complete within 500.00ms"), "\(r.stderr)")
    }

    @Test func missingCAFileIsBadInput() throws {
        let k2 = try Built.k2()
        let dir = TemporaryDirectory()
        let r = try run("\(k2) record --url wss://localhost:1/ --ca-file \(dir.file("nope.pem")) -o \(dir.file("x.k2cap"))")
        #expect(r.status == 2)
        #expect(r.stderr.contains("cannot read the --ca-file"), "\(r.stderr)")
    }

    @Test func connectionsOpensThatManyIdenticalConnections() throws {
        let k2 = try Built.k2()
        let dir = TemporaryDirectory()
        let t = try Ticker()
        defer { t.close() }
        let file = dir.file("c.k2cap")
        let r = try run("\(k2) record --url ws://127.0.0.1:\(t.server.port)/ --connections 3 --duration 1s --quiet -o \(file)")
        #expect(r.status == 0, "\(r.stderr)")
        let reader = try CaptureReader(path: file)
        var connects = Set<UInt32>(), perConn: [UInt32: [[UInt8]]] = [:]
        while let rec = try reader.next() {
            if rec.kind == .connect { connects.insert(rec.connection) }
            if rec.kind == .recv { perConn[rec.connection, default: []].append([UInt8](rec.payload)) }
        }
        #expect(connects == [0, 1, 2])
        // The ticker sends the same sequence to every open connection: each recorded stream is a
        // gap-free run of it.
        for (id, frames) in perConn {
            let first = frames.first.flatMap { f in f.withUnsafeBytes { PayloadFields.intValue($0, key: Array("\"seq\":".utf8)) } } ?? -1
            #expect(first >= 0 && frames == (0..<frames.count).map { TickerExchange.frame(Int(first) + $0) }, "connection \(id)")
        }
    }

    @Test func rotateByTimeSplitsIntoPartsThatJoinUpExactly() throws {
        let k2 = try Built.k2()
        let dir = TemporaryDirectory()
        let t = try Ticker()
        defer { t.close() }
        let r = try run("\(k2) record --url ws://127.0.0.1:\(t.server.port)/ --rotate 1s --duration 2500ms --quiet -o \(dir.file("t.k2cap"))")
        #expect(r.status == 0, "\(r.stderr)")
        var frames: [[UInt8]] = []
        for p in ["t-0000.k2cap", "t-0001.k2cap", "t-0002.k2cap"] {
            let got = try recvPayloads(dir.file(p))
            #expect(!got.damaged, "\(p)")
            #expect(!got.frames.isEmpty, "\(p)")
            frames += got.frames
        }
        #expect(access(dir.file("t-0003.k2cap"), F_OK) != 0)
        #expect(frames.count > 1000)
        #expect(frames == (0..<frames.count).map { TickerExchange.frame($0) })
    }

    @Test func fullFileSystemIsOneLineExitOneAndTheCaptureStaysReadable() throws {
        // The file size limit (`ulimit -f`, 256 KiB) makes write(2) fail mid-recording the way a
        // full disk does (EFBIG instead of ENOSPC); no root or tmpfs mount needed.
        let k2 = try Built.k2()
        let dir = TemporaryDirectory()
        let t = try Ticker(perTick: 40)  // ~40,000 frames/s
        defer { t.close() }
        let file = dir.file("full.k2cap")
        let r = try run("ulimit -f 256; timeout 60 \(k2) record --url ws://127.0.0.1:\(t.server.port)/ --flush-interval 100ms --quiet -o \(file)")
        #expect(r.status == 1, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("full.k2cap") && lines[0].contains("File too large"), "\(r.stderr)")
        let got = try recvPayloads(file)
        #expect(got.frames.count > 1000)
        #expect(got.frames == (0..<got.frames.count).map { TickerExchange.frame($0) })
    }
}
