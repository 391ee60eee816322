import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

/// `CaptureReader.readAhead`: the next planned frame is decompressed on a second thread; what
/// the reader hands out must be exactly what a plain reader hands out, in every situation.
@Suite struct ReadAheadTests {
    let dir = TemporaryDirectory()

    /// A capture of many small frames (so a read crosses dozens of frame boundaries).
    func capture(_ name: String, count: Int = 6000) throws -> (String, [OwnedRecord]) {
        let path = dir.file(name)
        let all = try SampleTraffic().write(to: path, count: count, options: .init(blockSize: 8 * 1024))
        return (path, all)
    }

    func drain(_ r: CaptureReader, limit: Int = .max) throws -> [OwnedRecord] {
        var out: [OwnedRecord] = []
        while out.count < limit, let rec = try r.next() { out.append(rec.owned()) }
        return out
    }

    @Test func readsExactlyWhatAPlainReaderReads() throws {
        let (path, all) = try capture("a.k2cap")
        let reader = try CaptureReader(path: path)
        reader.readAhead = true
        let entries = try reader.index().entries
        #expect(entries.count > 40)
        reader.restrict(to: entries)
        #expect(try drain(reader) == all)
        #expect(reader.framesDecoded == entries.count)
    }

    @Test func rewindAndRestrictMidFrameStartOver() throws {
        let (path, all) = try capture("b.k2cap")
        let reader = try CaptureReader(path: path)
        reader.readAhead = true
        let entries = try reader.index().entries
        reader.restrict(to: entries)
        let head = try drain(reader, limit: 1234)  // stops mid-frame, a frame is in flight
        #expect(head == Array(all.prefix(1234)))
        // A different plan: every other frame, backwards.
        let picked = stride(from: entries.count - 1, through: 0, by: -2).map { entries[$0] }
        reader.restrict(to: picked)
        let plain = try CaptureReader(path: path)
        plain.restrict(to: picked)
        #expect(try drain(reader) == drain(plain))
        reader.restrict(to: entries)
        #expect(try drain(reader) == all)
        // Turning it off mid-read keeps the stream intact.
        reader.restrict(to: entries)
        let first = try drain(reader, limit: 2000)
        reader.readAhead = false
        #expect(first + (try drain(reader)) == all)
    }

    @Test func aDamagedFrameThrowsAfterTheIntactRecordsBeforeIt() throws {
        let (path, all) = try capture("c.k2cap")
        let entries = try CaptureReader(path: path).index().entries
        let target = entries[7]
        flipByte(in: path, at: target.offset + Int64(target.compressedSize / 2))

        let reader = try CaptureReader(path: path)
        reader.readAhead = true
        reader.restrict(to: entries)
        var got: [OwnedRecord] = []
        let error = #expect(throws: CaptureError.self) {
            while let rec = try reader.next() { got.append(rec.owned()) }
        }
        #expect(error?.code == .corrupt)
        #expect(error?.offset == target.offset)
        let before = entries[0..<7].reduce(0) { $0 + $1.recordCount }
        #expect(got == Array(all.prefix(before)))
    }

    @Test func aReaderDroppedWithAFrameInFlightStopsItsThread() throws {
        let (path, _) = try capture("d.k2cap")
        func threads() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count }
        let before = try threads()
        for _ in 0..<50 {
            let reader = try CaptureReader(path: path)
            reader.readAhead = true
            reader.restrict(to: try reader.index().entries)
            _ = try reader.next()
        }
        // Fifty readers released with a prefetch queued or running: each stopped and joined its
        // thread in deinit (leaked threads would show here; other tests may start a few).
        #expect(try threads() < before + 10)
    }
}
