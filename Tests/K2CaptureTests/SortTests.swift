import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

/// Receive-time order: `capture sort` (in memory and in runs), a sorting import, `inspect`'s
/// count of records out of place, and the reader's ordering within a frame.
@Suite struct SortTests {
    let dir = TemporaryDirectory()
    let traffic = GroupedTraffic(connections: 4, perConnection: 500)

    func readAll(_ path: String) throws -> [OwnedRecord] {
        let reader = try CaptureReader(path: path)
        var out: [OwnedRecord] = []
        while let record = try reader.next() { out.append(record.owned()) }
        return out
    }

    /// Index of the first record that differs (or the shorter length), nil when equal: a failure
    /// names one record instead of printing two arrays of thousands.
    func firstDifference(_ got: [OwnedRecord], _ want: [OwnedRecord]) -> Int? {
        if let offset = zip(got, want).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return offset }
        return got.count == want.count ? nil : min(got.count, want.count)
    }

    @Test func sortInMemoryEqualsAStableSort() throws {
        let input = dir.file("grouped.k2cap")
        try traffic.write(to: input, blockSize: 8 * 1024)
        let output = dir.file("sorted.k2cap")
        let summary = try CaptureSorter.sort(input: input, output: output)
        #expect(summary.runs == 1)
        #expect(summary.records == 4 * 501)
        #expect(try firstDifference(readAll(output), traffic.sortedRecords()) == nil)
        #expect(try CaptureReader(path: output).header == CaptureReader(path: input).header)
        // Everything after connection 0's block is behind the latest time before it, except the
        // last records of connections 1 and 3 (equal to it) and of connection 2 (the new latest).
        #expect(summary.outOfPlace == 3 * 501 - 3)
    }

    @Test func sortInRunsWithATinyBudgetEqualsAStableSort() throws {
        let input = dir.file("grouped.k2cap")
        try traffic.write(to: input, blockSize: 8 * 1024)
        let output = dir.file("sorted.k2cap")
        // ~150 B per record: a 20 kB budget makes ~15 runs, merged from temporary files.
        let summary = try CaptureSorter.sort(input: input, output: output, runBytes: 20_000)
        #expect(summary.runs > 10)
        #expect(try firstDifference(readAll(output), traffic.sortedRecords()) == nil)
        // The temporary runs are gone.
        #expect(try Shell.run("ls '\(dir.path)'").split(separator: "\n").sorted() == ["grouped.k2cap", "sorted.k2cap"])
    }

    @Test func sortRefusesToOverwriteItsInput() throws {
        let input = dir.file("grouped.k2cap")
        try traffic.write(to: input)
        #expect(throws: CaptureError.self) { try CaptureSorter.sort(input: input, output: input) }
    }

    @Test func importSortsAGroupedRecordingKeepingConnections() throws {
        let ndjson = dir.file("grouped.ndjson")
        var text = ""
        for record in traffic.records() {
            record.withView { view in
                var line: [UInt8] = []
                NDJSONRecord.append(view, to: &line)
                text += String(decoding: line, as: UTF8.self)
            }
        }
        try text.write(toFile: ndjson, atomically: false, encoding: .utf8)
        let output = dir.file("imported.k2cap")
        let summary = try CaptureImporter.run(format: .ndjson, inputs: [ndjson], output: output)
        #expect(summary.reordered == 3 * 501 - 3)
        #expect(try firstDifference(readAll(output), traffic.sortedRecords()) == nil)
        #expect(try Shell.run("ls '\(dir.path)'").split(separator: "\n").sorted() == ["grouped.ndjson", "imported.k2cap"])
    }

    @Test func inspectCountsRecordsOutOfPlaceNotOnlyInversions() throws {
        let input = dir.file("grouped.k2cap")
        try traffic.write(to: input)
        let inspection = try CaptureInspector.inspect(path: input)
        #expect(inspection.outOfOrder == 3)  // only the three block starts are adjacent inversions
        #expect(inspection.outOfPlace == 3 * 501 - 3)
        #expect(inspection.maxBehindNanos == 500 * 1_000_000)
        let outOfPlaceKey: Int64? = inspection.json["out_of_place"]?.int64Value
        #expect(outOfPlaceKey == 1_500)
        #expect(inspection.textReport().contains("1,500 records out of place"))
        let sorted = dir.file("sorted.k2cap")
        _ = try CaptureSorter.sort(input: input, output: sorted)
        #expect(try CaptureInspector.inspect(path: sorted).outOfPlace == 0)
    }

    @Test func readerOrdersWithinAFrameOnRequest() throws {
        let input = dir.file("grouped.k2cap")
        let records = try traffic.write(to: input)  // one frame
        let reader = try CaptureReader(path: input)
        reader.sortsWithinFrames = true
        var out: [OwnedRecord] = []
        while let record = try reader.next() { out.append(record.owned()) }
        #expect(firstDifference(out, traffic.sortedRecords()) == nil)
        #expect(try firstDifference(readAll(input), records) == nil)  // file order by default
    }

    @Test func chainsFollowTheOverlapOfFrames() throws {
        let grouped = dir.file("grouped.k2cap")
        try traffic.write(to: grouped, blockSize: 8 * 1024)
        let index = try CaptureReader(path: grouped).index()
        #expect(index.entries.count > 8)
        let chains = index.timeOrderedChains()
        #expect(chains.count >= 4 && chains.count <= 7)
        #expect(chains.flatMap { $0 }.count == index.entries.count)
        for chain in chains { #expect(zip(chain, chain.dropFirst()).allSatisfy { $0.lastTimestamp <= $1.firstTimestamp }) }
        let inOrder = dir.file("sorted.k2cap")
        _ = try CaptureSorter.sort(input: grouped, output: inOrder, options: .init(blockSize: 8 * 1024))
        #expect(try CaptureReader(path: inOrder).index().timeOrderedChains().count == 1)
    }
}
