import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Damaged and unusual inputs: what `reindex`, `inspect` and `import` say about them.
@Suite struct DamagedInputTests {
    let dir = TemporaryDirectory()

    func sample(_ name: String) throws -> String {
        let path = dir.file(name)
        try SampleTraffic().write(to: path, count: 3_000, options: .init(blockSize: 16 * 1024))
        return path
    }

    /// Cuts the file to `size` bytes.
    func cut(_ path: String, to size: Int64) {
        #expect(truncate(path, off_t(size)) == 0)
    }

    @Test func reindexOfAnIntactFileCutsNoTornTail() throws {
        let path = try sample("intact.k2cap")
        let before = try CaptureReader(path: path).fileSize
        let (cutBytes, frames) = try CaptureVerifier.reindex(path: path)
        #expect(cutBytes == 0)
        #expect(frames > 1)
        #expect(try CaptureReader(path: path).fileSize == before)
        #expect(try CaptureVerifier.verify(path: path).intact)
    }

    @Test func reindexOfATornFileCutsTheTornBytes() throws {
        let path = try sample("torn.k2cap")
        let entries = try CaptureReader(path: path).index().entries
        let tornAt = entries[3].offset
        cut(path, to: tornAt + 100)  // 100 bytes into the fourth frame, index gone
        let (cutBytes, frames) = try CaptureVerifier.reindex(path: path)
        #expect(cutBytes == 100)
        #expect(frames == 3)
        #expect(try CaptureVerifier.verify(path: path).intact)
    }

    @Test(arguments: ["no-index", "torn", "wrong-index"])
    func inspectReportsDamageWhereVerifyDoes(_ damage: String) throws {
        let path = try sample("\(damage).k2cap")
        let reader = try CaptureReader(path: path)
        let entries = try reader.index().entries
        let dataEnd = entries.last!.offset + Int64(entries.last!.compressedSize)
        switch damage {
        case "no-index": cut(path, to: dataEnd)
        case "torn": cut(path, to: dataEnd - 10)
        default:
            // A stored index that checks out but describes other frames: the index of a capture
            // whose last frame was cut off, appended after all the frames.
            let other = try sample("other.k2cap")
            cut(other, to: entries.last!.offset)
            _ = try CaptureVerifier.reindex(path: other)
            let otherIndex = try Data(contentsOf: URL(fileURLWithPath: other)).suffix(from: Int(entries.last!.offset))
            cut(path, to: dataEnd)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            handle.seekToEndOfFile()
            handle.write(otherIndex)
            try handle.close()
        }
        let verification = try CaptureVerifier.verify(path: path)
        #expect(!verification.intact)
        let inspection = try CaptureInspector.inspect(path: path)
        #expect(inspection.damage == verification.problem)
        #expect(inspection.json["damage"] != .null)
        #expect(inspection.json["damage"]?["offset"]?.int64Value == verification.problem?.offset)
    }

    @Test func inspectOfAnIntactFileReportsNoDamage() throws {
        let path = try sample("intact.k2cap")
        #expect(try CaptureInspector.inspect(path: path).damage == nil)
        #expect(try CaptureInspector.inspect(path: path).json["damage"] == .null)
    }

    @Test(arguments: ImportFormat.allCases)
    func importStopsAtALineLongerThanTheLimit(_ format: ImportFormat) throws {
        let path = dir.file("blob-\(format.rawValue).txt")
        // 3 MB of a JSON array on one line (a parser would hold ~20 bytes per element).
        let blob = "{\"x\":[" + String(repeating: "1,", count: 1_500_000) + "1]}\n"
        try blob.write(toFile: path, atomically: false, encoding: .utf8)
        let output = dir.file("blob-\(format.rawValue).k2cap")
        let error = #expect(throws: CaptureError.self) {
            try CaptureImporter.run(format: format, inputs: [path], output: output, maxLineBytes: 1 << 20)
        }
        #expect(error?.code == .importFormat)
        #expect(error?.line == 1)
        #expect(error?.description.contains("line is longer than 1048576 bytes") == true)
        #expect(error?.description.contains("--max-line") == true)
        #expect(access(output, F_OK) != 0)  // no output file left behind
    }

    @Test func importTakesLinesUpToTheLimit() throws {
        let path = dir.file("long.ndjson")
        let payload = String(repeating: "y", count: 1_500_000)
        try "{\"kind\":\"recv\",\"ts_ns\":1,\"conn\":0,\"data\":\"\(payload)\"}\n".write(toFile: path, atomically: false, encoding: .utf8)
        let output = dir.file("long.k2cap")
        #expect(try CaptureImporter.run(format: .ndjson, inputs: [path], output: output).records == 1)
        #expect(throws: CaptureError.self) {
            try CaptureImporter.run(format: .ndjson, inputs: [path], output: dir.file("short.k2cap"), maxLineBytes: 1_000_000)
        }
    }

    /// A frame mid-file whose bytes were overwritten: the reader throws for it and then goes on
    /// with the frame after it, or (`skipsDamagedFrames`) passes over it; both list it.
    @Test(arguments: [false, true])
    func aDamagedFrameMidFileIsSkippableAndListed(skips: Bool) throws {
        let path = try sample("mid.k2cap")
        let entries = try CaptureReader(path: path).index().entries
        let damaged = entries[2]
        let fd = open(path, O_WRONLY)
        let garbage: [UInt8] = [0xde, 0xad, 0xbe, 0xef]
        #expect(pwrite(fd, garbage, 4, off_t(damaged.offset + Int64(damaged.compressedSize / 2))) == 4)
        close(fd)
        let reader = try CaptureReader(path: path)
        reader.skipsDamagedFrames = skips
        reader.restrict(to: try reader.index().entries)
        var records = 0
        var thrown: [Int64?] = []
        while true {
            do {
                guard try reader.next() != nil else { break }
                records += 1
            } catch {
                thrown.append(error.offset)
            }
        }
        #expect(records == entries.reduce(0) { $0 + $1.recordCount } - damaged.recordCount)
        #expect(thrown == (skips ? [] : [damaged.offset]))
        #expect(reader.skippedFrames.map(\.damage.offset) == [damaged.offset])
        #expect(reader.skippedFrames.first?.records == damaged.recordCount)
        #expect(reader.skippedFrames.first?.size == damaged.compressedSize)
    }
}
