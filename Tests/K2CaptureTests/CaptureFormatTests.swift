import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

@Suite struct CaptureFormatTests {
    let dir = TemporaryDirectory()

    func readAll(_ path: String) throws -> ([OwnedRecord], CaptureReader) {
        let reader = try CaptureReader(path: path)
        var out: [OwnedRecord] = []
        while let rec = try reader.next() { out.append(rec.owned()) }
        return (out, reader)
    }

    @Test func recordsRoundTripExactlyAcrossManyFrames() throws {
        let path = dir.file("rt.k2cap")
        let written = try SampleTraffic().write(to: path, count: 20_000, options: .init(blockSize: 64 * 1024))
        let (read, reader) = try readAll(path)
        #expect(read == written)
        #expect(reader.damage == nil)
        let idx = try CaptureReader(path: path).index()
        #expect(idx.storedInFile)
        #expect(idx.entries.count > 10)
        #expect(idx.recordCount == written.count)
        #expect(idx.firstTimestamp == written.map(\.timestamp).min())
        #expect(idx.lastTimestamp == written.map(\.timestamp).max())
    }

    @Test func binaryPayloadsAndURLsSurvive() throws {
        let path = dir.file("bin.k2cap")
        let writer = try CaptureWriter(path: path, header: .now(metadata: [("exchange", .string("kraken"))]))
        let blob: [UInt8] = (0..<300).map { UInt8($0 % 256) }
        try writer.append(OwnedRecord(kind: .connect, timestamp: 5, connection: 7, url: Array("wss://ws.kraken.com".utf8), payload: []))
        try writer.append(OwnedRecord(kind: .recv, timestamp: 6, connection: 7, isBinary: true, payload: blob))
        try writer.append(OwnedRecord(kind: .recv, timestamp: 7, connection: 7, payload: []))
        try writer.close()
        let (read, reader) = try readAll(path)
        #expect(read.count == 3)
        #expect(read[0].url == Array("wss://ws.kraken.com".utf8))
        #expect(read[1].isBinary && read[1].payload == blob)
        #expect(read[2].payload.isEmpty)
        #expect(reader.header.metadataValue("exchange") == .string("kraken"))
        #expect(reader.header.major == 1)
    }

    @Test func standardZstdDecodesTheFile() throws {
        let path = dir.file("zstd.k2cap")
        let written = try SampleTraffic().write(to: path, count: 3000, options: .init(blockSize: 32 * 1024))
        let out = try Shell.run("zstd -dc '\(path)' | wc -c")
        let reader = try CaptureReader(path: path)
        let idx = try reader.index()
        #expect(Int64(out.trimmingCharacters(in: .whitespacesAndNewlines)) == idx.uncompressedBytes)
        #expect(idx.recordCount == written.count)
        #expect(try Shell.status("zstd -t -q '\(path)'") == 0)
    }

    @Test func tornTailKeepsEveryCompleteFrame() throws {
        let path = dir.file("torn.k2cap")
        try SampleTraffic().write(to: path, count: 10_000, options: .init(blockSize: 16 * 1024))
        let full = try CaptureReader(path: path).index()
        // Cut in the middle of the 5th frame: the index is gone and the 5th frame is torn.
        let cutAt = full.entries[4].offset + Int64(full.entries[4].compressedSize / 2)
        #expect(truncate(path, off_t(cutAt)) == 0)
        let (read, reader) = try readAll(path)
        let expected = full.entries[0..<4].reduce(0) { $0 + $1.recordCount }
        #expect(read.count == expected)
        #expect(reader.damage?.kind == .tornTail)
        #expect(reader.damage?.offset == full.entries[4].offset)
        let idx = try CaptureReader(path: path).index()
        #expect(!idx.storedInFile)
        #expect(idx.entries == Array(full.entries[0..<4]))
        let verification = try CaptureVerifier.verify(path: path)
        #expect(!verification.intact && verification.problem?.offset == full.entries[4].offset)
        // reindex makes it whole again.
        let (cut, frames) = try CaptureVerifier.reindex(path: path)
        #expect(cut > 0 && frames == 4)
        #expect(try CaptureVerifier.verify(path: path).intact)
    }

    @Test func missingIndexIsRebuiltByScanning() throws {
        let path = dir.file("noindex.k2cap")
        try SampleTraffic().write(to: path, count: 5000, options: .init(blockSize: 16 * 1024))
        let full = try CaptureReader(path: path).index()
        let last = full.entries.last!
        #expect(truncate(path, off_t(last.offset + Int64(last.compressedSize))) == 0)
        let rebuilt = try CaptureReader(path: path).index()
        #expect(!rebuilt.storedInFile)
        #expect(rebuilt.entries == full.entries)
    }

    @Test func flippedByteIsReportedWithItsFrameOffset() throws {
        let path = dir.file("flip.k2cap")
        try SampleTraffic().write(to: path, count: 5000, options: .init(blockSize: 16 * 1024))
        let idx = try CaptureReader(path: path).index()
        let target = idx.entries[2]
        flipByte(in: path, at: target.offset + Int64(target.compressedSize / 2))
        let verification = try CaptureVerifier.verify(path: path)
        #expect(verification.problem?.kind == .corrupt)
        #expect(verification.problem?.offset == target.offset)
        #expect(verification.frames == 2)
        #expect(throws: CaptureError.self) { _ = try readAll(path) }
    }

    @Test func newerMajorVersionIsRejectedClearly() throws {
        let path = dir.file("v9.k2cap")
        try SampleTraffic().write(to: path, count: 10)
        let fh = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try fh.seek(toOffset: 16)  // 8-byte skippable header + 8-byte magic → major
        try fh.write(contentsOf: Data([9, 0]))
        try fh.close()
        let error = #expect(throws: CaptureError.self) { _ = try CaptureReader(path: path) }
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.description.contains("capture format 9.0 is newer than this k2 reads (1.x)") == true)
    }

    @Test(arguments: [
        ("", CaptureError.Code.notACapture),
        ("hello world, this is text", .notACapture),
        ("\u{28}\u{B5}\u{2F}\u{FD}", .notACapture),
    ])
    func nonCapturesAreRejected(content: String, code: CaptureError.Code) throws {
        let path = dir.file("bad-\(content.count).k2cap")
        var bytes: [UInt8] = content == "\u{28}\u{B5}\u{2F}\u{FD}" ? [0x28, 0xB5, 0x2F, 0xFD, 0, 0, 0, 0, 0] : Array(content.utf8)
        if bytes.isEmpty { bytes = [] }
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let error = #expect(throws: CaptureError.self) { _ = try CaptureReader(path: path) }
        #expect(error?.code == code)
        #expect(error?.description.hasPrefix(path) == true)
    }

    @Test func missingFileSaysSo() {
        let error = #expect(throws: CaptureError.self) { _ = try CaptureReader(path: dir.file("nope.k2cap")) }
        #expect(error?.code == .fileNotFound)
    }

    @Test func writerFinishesAFrameWhenTheFlushIntervalPasses() throws {
        let path = dir.file("flush.k2cap")
        let clock = ManualClock()
        let writer = try CaptureWriter(path: path, header: .now(), options: .init(flushInterval: 1_000_000_000, clock: clock))
        try writer.append(kind: .recv, timestamp: 1, connection: 0, text: "a")
        clock.advance(by: 500_000_000)
        try writer.flushIfDue()
        #expect(writer.framesWritten == 0)
        clock.advance(by: 500_000_000)
        try writer.flushIfDue()
        #expect(writer.framesWritten == 1)
        // Readable before close (as after kill -9): one frame, no index.
        let reader = try CaptureReader(path: path)
        #expect(try reader.next()?.timestamp == 1)
        try writer.append(kind: .recv, timestamp: 2, connection: 0, text: "b")
        clock.advance(by: 1_000_000_000)
        try writer.append(kind: .recv, timestamp: 3, connection: 0, text: "c")  // append notices the interval too
        #expect(writer.framesWritten == 2)
        try writer.close()
        #expect(try CaptureReader(path: path).index().recordCount == 3)
    }

    @Test func restrictReadsOnlyTheChosenFrames() throws {
        let path = dir.file("plan.k2cap")
        try SampleTraffic().write(to: path, count: 8000, options: .init(blockSize: 16 * 1024))
        let reader = try CaptureReader(path: path)
        let idx = try reader.index()
        reader.restrict(to: [idx.entries[3]])
        var count = 0
        while let rec = try reader.next() {
            #expect(rec.timestamp >= idx.entries[3].firstTimestamp && rec.timestamp <= idx.entries[3].lastTimestamp)
            count += 1
        }
        #expect(count == idx.entries[3].recordCount)
    }
}
