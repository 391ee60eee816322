import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

/// Runs the built `k2` binary (.build/debug/k2, built by `swift build --build-tests`) on good and
/// bad input and checks exit codes and the first words of what it says.
@Suite(.serialized) struct CaptureCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let k2 = root + "/.build/debug/k2"
    static let sample = root + "/captures/binance-sample.k2cap"
    let dir = TemporaryDirectory()

    struct Run {
        var status: Int32
        var out: String
        var err: String
    }

    func k2(_ args: String) throws -> Run {
        #expect(FileManager.default.isExecutableFile(atPath: Self.k2), "build k2 first: swift build --build-tests")
        let (status, out, err) = try Shell.execute("'\(Self.k2)' \(args)")
        return Run(status: status, out: out, err: err)
    }

    func copy(_ name: String) throws -> String {
        let copied = dir.file(name)
        try Shell.run("cp '\(Self.sample)' '\(copied)'")
        return copied
    }

    func flip(_ path: String, at offset: UInt64, xor: UInt8 = 0x5A) throws {
        let fh = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try fh.seek(toOffset: offset)
        let byte = try fh.read(upToCount: 1)!
        try fh.seek(toOffset: offset)
        try fh.write(contentsOf: Data([byte[0] ^ xor]))
        try fh.close()
    }

    @Test func inspectPrintsTheReportAndStableJSON() throws {
        let text = try k2("capture inspect '\(Self.sample)'")
        #expect(text.status == 0)
        #expect(text.out.contains("  records             20,002\n"))
        #expect(text.out.contains("sequence gaps"))
        let json = try k2("capture inspect '\(Self.sample)' --json")
        #expect(json.status == 0)
        let parsed = try JSONParser.parse(json.out.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(parsed["records"]?.int64Value == 20_002)
        #expect(parsed["by_kind"]?["recv"]?.int64Value == 20_000)
        #expect(parsed["first_ts_ns"]?.int64Value != nil && parsed["last_ts_ns"]?.int64Value != nil)
        #expect(parsed["connections"]?.arrayValue?.count == 1)
        #expect(parsed["gaps"]?["count"]?.int64Value == 0)
    }

    @Test func sliceMergeImportExportWorkFromTheCommandLine() throws {
        let firstSlice = dir.file("a.k2cap"), secondSlice = dir.file("b.k2cap"), mergedPath = dir.file("m.k2cap")
        let s1 = try k2("capture slice '\(Self.sample)' -o '\(firstSlice)' --from +1s --to +2s")
        #expect(s1.status == 0 && s1.out.contains("frames read"))
        let s2 = try k2("capture slice '\(Self.sample)' -o '\(secondSlice)' --from +2s --to +3s --symbol ETHUSDT")
        #expect(s2.status == 0)
        let merged = try k2("capture merge '\(secondSlice)' '\(firstSlice)' -o '\(mergedPath)'")
        #expect(merged.status == 0 && merged.out.hasPrefix("\(mergedPath): "))
        #expect(try k2("capture verify '\(mergedPath)'").status == 0)
        // cat → import → cat is byte for byte.
        let nd = dir.file("m.ndjson"), back = dir.file("back.k2cap")
        try Shell.run("'\(Self.k2)' capture cat '\(mergedPath)' > '\(nd)'")
        #expect(try k2("capture import --format ndjson '\(nd)' -o '\(back)'").status == 0)
        let again = try k2("capture cat '\(back)'")
        #expect(again.out == (try String(contentsOfFile: nd, encoding: .utf8)))
        let exported = try k2("capture export '\(mergedPath)' --format tardis")
        #expect(exported.status == 0 && exported.out.hasPrefix("20"))
    }

    @Test func sortTornReplayAndReindexFromTheCommandLine() throws {
        let grouped = dir.file("grouped.k2cap")
        try GroupedTraffic().write(to: grouped, blockSize: 8 * 1024)
        let sorted = dir.file("sorted.k2cap")
        let sort = try k2("capture sort '\(grouped)' -o '\(sorted)' --run-size 20kB")
        #expect(sort.status == 0, "stderr: \(sort.err)")
        #expect(sort.out.contains("2004 records, 1500 moved into receive-time order ("), "stdout: \(sort.out)")
        #expect(sort.out.contains("runs merged)"), "stdout: \(sort.out)")
        let badSize = try k2("capture sort '\(grouped)' -o '\(sorted)' --run-size lots")
        #expect(badSize.status != 0 && badSize.err.contains("--run-size 'lots'"), "stderr: \(badSize.err)")

        // `head -c` of a capture: refused with exit 1 before anything is sent, unless --allow-torn.
        let torn = dir.file("torn.k2cap")
        try Shell.run("head -c 20000 '\(Self.sample)' > '\(torn)'")
        let refused = try k2("replay '\(torn)' --sink mock:// --speed max --quiet")
        #expect(refused.status == 1, "stderr: \(refused.err)")
        #expect(refused.err.hasPrefix("k2: \(torn): torn tail at byte"), "stderr: \(refused.err)")
        #expect(refused.err.contains("--allow-torn") && !refused.err.contains("replay completed"), "stderr: \(refused.err)")
        let allowed = try k2("replay '\(torn)' --sink mock:// --speed max --quiet --allow-torn")
        #expect(allowed.status == 0, "stderr: \(allowed.err)")
        #expect(allowed.err.hasPrefix("warning: \(torn): torn tail at byte"), "stderr: \(allowed.err)")

        // reindex of an intact file cuts nothing.
        let intact = try copy("intact.k2cap")
        let reindex = try k2("capture reindex '\(intact)'")
        #expect(reindex.status == 0 && !reindex.out.contains("torn tail"), "stdout: \(reindex.out)")
    }

    @Test func notACaptureIsExit2WithOneLine() throws {
        let result = try k2("capture inspect '\(Self.root)/README.md'")
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("k2: \(Self.root)/README.md at byte 0: not a k2 capture"))
        #expect(result.err.split(separator: "\n").count == 1)
        let missing = try k2("capture cat '\(dir.file("nope.k2cap"))'")
        #expect(missing.status == 2 && missing.err.hasPrefix("k2: \(dir.file("nope.k2cap")): no such file"))
    }

    @Test func truncatedCapturesSayWhereTheyEnd() throws {
        let header = dir.file("header-cut.k2cap")
        try Shell.run("head -c 20 '\(Self.sample)' > '\(header)'")
        let result = try k2("capture cat '\(header)'")
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("k2: \(header) at byte 20: file ends inside the capture header"))
        // Cut inside a data frame: what is intact is printed, the torn tail is a warning.
        let torn = dir.file("torn.k2cap")
        try Shell.run("head -c 300000 '\(Self.sample)' > '\(torn)'")
        let cat = try k2("capture cat '\(torn)' --kind recv")
        #expect(cat.status == 0)
        #expect(cat.err.hasPrefix("k2: warning: \(torn): torn tail at byte"))
        let verify = try k2("capture verify '\(torn)'")
        #expect(verify.status == 1)
        #expect(verify.out.hasPrefix("\(torn): DAMAGED — torn tail at byte"))
    }

    @Test func flippedByteIsExit2ForReadersAndExit1ForVerify() throws {
        let copied = try copy("flip.k2cap")
        let idx = try CaptureReader(path: copied).index()
        let entry = idx.entries[1]
        try flip(copied, at: UInt64(entry.offset) + UInt64(entry.compressedSize / 2))
        let cat = try k2("capture cat '\(copied)'")
        #expect(cat.status == 2)
        #expect(cat.err.hasPrefix("k2: \(copied) at byte \(entry.offset): "))
        let verify = try k2("capture verify '\(copied)'")
        #expect(verify.status == 1)
        #expect(verify.out.hasPrefix("\(copied): DAMAGED — damaged frame at byte \(entry.offset)"))
    }

    @Test func unknownVersionIsExit2() throws {
        let copied = try copy("v7.k2cap")
        let fh = try FileHandle(forUpdating: URL(fileURLWithPath: copied))
        try fh.seek(toOffset: 16)
        try fh.write(contentsOf: Data([7, 0]))
        try fh.close()
        let result = try k2("capture inspect '\(copied)'")
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("k2: \(copied) at byte 8: capture format 7.0 is newer than this k2 reads (1.x) — upgrade k2"))
    }

    @Test func importOfTheWrongFormatNamesFileAndLine() throws {
        let tardis = dir.file("day.tardis")
        try Data(ImportSamples.tardis.utf8).write(to: URL(fileURLWithPath: tardis))
        let result = try k2("capture import --format cryptofeed-v3 '\(tardis)' -o '\(dir.file("o.k2cap"))'")
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("k2: \(tardis):1: expected a cryptofeed JSON record"))
        #expect(result.err.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("this looks like --format tardis"))
    }

    @Test func badFromStringsAreExit2() throws {
        let result = try k2("capture cat '\(Self.sample)' --from yesterday")
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("k2: --from 'yesterday' is not a time — write an ISO-8601 time"))
        let off = try k2("capture slice '\(Self.sample)' -o '\(dir.file("s.k2cap"))' --from +ten")
        #expect(off.status == 2)
        #expect(off.err.hasPrefix("k2: --from '+ten' is not an offset"))
        let order = try k2("capture export '\(Self.sample)' --from +2s --to +1s")
        #expect(order.status == 2 && order.err.hasPrefix("k2: --to is not after --from"))
    }
}
