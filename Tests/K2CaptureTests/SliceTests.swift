import K2Capture
import K2Core
import K2TestSupport
import Testing

@Suite struct SliceTests {
    let dir = TemporaryDirectory()

    func readAll(_ path: String) throws -> [OwnedRecord] {
        let reader = try CaptureReader(path: path)
        var out: [OwnedRecord] = []
        while let rec = try reader.next() { out.append(rec.owned()) }
        return out
    }

    @Test func tenMinutesOfADayDecodeOnlyTheFramesTheyNeed() throws {
        // A day of traffic at one message per second on average, in small frames (~45 records each).
        let path = dir.file("day.k2cap")
        let traffic = SampleTraffic(gapNanos: 1_000_000_000)
        let all = try traffic.write(to: path, count: 86_400, options: .init(blockSize: 8 * 1024))
        let index = try CaptureReader(path: path).index()
        #expect(index.durationCoversADay)
        let from = traffic.startNanos + 12 * 3600 * 1_000_000_000
        let to = from + 600 * 1_000_000_000
        let filter = RecordFilter(from: from, to: to)
        let out = dir.file("ten-minutes.k2cap")
        let summary = try CaptureSlicer.slice(input: path, output: out, filter: filter)
        let expected = all.filter { $0.timestamp >= from && $0.timestamp < to }
        #expect(try readAll(out) == expected)
        #expect(summary.records == expected.count)
        // Only the frames overlapping the window: the ones holding its records plus at most one
        // at each edge, out of ~1900.
        let needed = Set(index.entries.filter { $0.lastTimestamp >= from && $0.firstTimestamp < to }.map(\.offset))
        #expect(summary.framesDecoded == needed.count)
        #expect(summary.framesDecoded <= expected.count / 40 + 3)
        #expect(summary.framesTotal > 1500)
        #expect(summary.indexStored)
        let header = try CaptureReader(path: out).header
        #expect(header.metadataValue("exchange") == .string("binance"))
        #expect(header.metadataValue("sliced_from")?["path"]?.stringValue == path)
    }

    @Test func windowEdgesAreHalfOpen() throws {
        let path = dir.file("edges.k2cap")
        let writer = try CaptureWriter(path: path, header: .now(), options: .init(blockSize: 64))
        for step in Int64(0)..<100 { try writer.append(kind: .recv, timestamp: 1_000 + step * 10, connection: 0, text: "m\(step)") }
        try writer.close()
        let out = dir.file("edges-out.k2cap")
        let summary = try CaptureSlicer.slice(input: path, output: out, filter: RecordFilter(from: 1_100, to: 1_200))
        let got = try readAll(out).map(\.timestamp)
        #expect(got == Array(stride(from: Int64(1_100), to: 1_200, by: 10)))
        #expect(summary.framesDecoded < summary.framesTotal)
    }

    @Test func filtersWithoutTimeReadEveryFrame() throws {
        let path = dir.file("sym.k2cap")
        let all = try SampleTraffic().write(to: path, count: 3000, options: .init(blockSize: 16 * 1024))
        let out = dir.file("sym-out.k2cap")
        var filter = RecordFilter(kinds: [.recv], symbols: ["ethusdt"])
        filter.connections = [0]
        let summary = try CaptureSlicer.slice(input: path, output: out, filter: filter, filterText: "--symbol ethusdt")
        let expected = all.filter { $0.kind == .recv && String(decoding: $0.payload, as: UTF8.self).contains("\"s\":\"ETHUSDT\"") }
        #expect(try readAll(out) == expected)
        #expect(summary.framesDecoded == summary.framesTotal)
        #expect(try CaptureReader(path: out).header.metadataValue("sliced_from")?["filter"]?.stringValue == "--symbol ethusdt")
    }

    @Test func sliceRefusesToOverwriteItsInput() throws {
        let path = dir.file("self.k2cap")
        try SampleTraffic().write(to: path, count: 10)
        let error = #expect(throws: CaptureError.self) { try CaptureSlicer.slice(input: path, output: path, filter: RecordFilter()) }
        #expect(error?.code == .invalidArgument)
    }
}

extension CaptureIndex {
    var durationCoversADay: Bool { ((lastTimestamp ?? 0) - (firstTimestamp ?? 0)) > 80_000 * 1_000_000_000 }
}
