import K2Capture
import K2Core
import K2Net
import K2TestSupport
import Testing

@testable import K2Record
@testable import K2Sim

/// Time rotation and several connections, against the simulator's own log of what it sent.
@Suite(.serialized)
struct RotationAndConnectionsTests {
    @Test func timeRotationLosesAndDoublesNothingAcrossBoundaries() throws {
        let dir = TemporaryDirectory()
        let ex = try SimExchangeRecordTests.exchange(.binance, rate: 5000, log: dir.file("sim.k2cap"))
        let plan = try ConnectionPlan.venue(.binance, symbols: SimExchangeRecordTests.names(.binance), channels: ["trade", "depth"], url: ex.url)
        var config = testConfig([plan], dir.file("rot.k2cap"))
        config.rotateEveryNanos = 150_000_000
        let rec = try Recorder(config)
        rec.start()
        // Several boundaries pass while frames stream in (the stream never pauses for a rotation).
        #expect(waitUntil(30) { rec.currentSummary().files.count >= 5 })
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        ex.close()
        let files = rec.currentSummary().files
        #expect(files == (0..<files.count).map { dir.file(rotPart($0)) })
        var recv: [[UInt8]] = []
        var perFile: [Int] = []
        for (i, file) in files.enumerated() {
            let reader = try CaptureReader(path: file)
            #expect(reader.damage == nil, "\(file)")
            let recs = try readAll(file)
            let recvCount = recs.filter { $0.kind == .recv }.count
            perFile.append(recvCount)
            recv += recs.filter { $0.kind == .recv }.map(\.payload)
            if i > 0 {
                // Each later part starts with the rotation marker naming the previous part.
                let first = recs.first.map { String(decoding: $0.payload, as: UTF8.self) } ?? ""
                #expect(recs.first?.kind == .marker && first.contains(#""marker":"rotation""#) && first.contains(files[i - 1]), "\(file): \(first)")
                let meta = reader.header.metadata.first { $0.0 == "previous_part" }?.1
                #expect(meta == .string(files[i - 1]))
            }
        }
        // Frames landed on both sides of at least two boundaries, and all of them match the
        // simulator's log exactly: nothing lost, nothing doubled, same order.
        #expect(perFile.dropLast().filter { $0 > 0 }.count >= 2, "\(perFile)")
        let sent = try SimExchangeRecordTests.received(dir.file("sim.k2cap"))[0] ?? []
        #expect(recv.count == sent.count)
        #expect(recv == sent)
    }

    @Test func severalConnectionsEachRecordTheirOwnStreamExactly() throws {
        let dir = TemporaryDirectory()
        let ex = try SimExchangeRecordTests.exchange(.binance, rate: 2000, log: dir.file("sim.k2cap"))
        let plan = try ConnectionPlan.venue(.binance, symbols: SimExchangeRecordTests.names(.binance), channels: ["trade", "depth"], url: ex.url)
        // `--connections 3`: the command repeats the plan; each copy gets its own connection id.
        let rec = try Recorder(testConfig(Array(repeating: plan, count: 3), dir.file("multi.k2cap")))
        rec.start()
        #expect(waitUntil(30) { rec.currentSummary().frames >= 3000 })
        rec.stop()
        let done = Latch<Void>()
        rec.whenFinished { _ in done.set() }
        done.wait()
        ex.close()
        let recs = try readAll(dir.file("multi.k2cap"))
        #expect(Set(recs.filter { $0.kind == .connect }.map(\.connection)) == [0, 1, 2])
        #expect(recs.filter { $0.kind == .http }.count == 6)  // a depth snapshot per symbol per connection
        let got = try SimExchangeRecordTests.received(dir.file("multi.k2cap"))
        var sent = try SimExchangeRecordTests.received(dir.file("sim.k2cap"))
        #expect(got.count == 3 && sent.count == 3)
        // The simulator numbers connections in accept order, the recorder in plan order: match
        // each recorded stream with the simulator connection that sent exactly it.
        for (id, frames) in got.sorted(by: { $0.key < $1.key }) {
            #expect(frames.count > 100, "connection \(id)")
            let match = sent.first { $0.value == frames }?.key
            #expect(match != nil, "connection \(id): \(frames.count) frames match no simulator connection")
            if let matched = match { sent[matched] = nil }
        }
        #expect(sent.isEmpty)
        #expect(recs.map(\.timestamp) == recs.map(\.timestamp).sorted())
    }
}

/// `rot-0003.k2cap` for part 3.
func rotPart(_ part: Int) -> String {
    let number = String(part)
    return "rot-" + String(repeating: "0", count: max(0, 4 - number.count)) + number + ".k2cap"
}
