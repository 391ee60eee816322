import K2Capture
import K2Core
import K2TestSupport
import Testing

@Suite struct MergeTests {
    let dir = TemporaryDirectory()

    func write(_ name: String, _ records: [OwnedRecord], blockSize: Int = 1 << 20) throws -> String {
        let path = dir.file(name)
        let writer = try CaptureWriter(
            path: path,
            header: CaptureHeader(
                createdNanos: 1, host: "test",
                metadata: [("exchange", .string("binance"))]),
            options: .init(blockSize: blockSize))
        for record in records { try writer.append(record) }
        try writer.close()
        return path
    }

    func readAll(_ path: String) throws -> [OwnedRecord] {
        let reader = try CaptureReader(path: path)
        var out: [OwnedRecord] = []
        while let rec = try reader.next() { out.append(rec.owned()) }
        return out
    }

    @Test func mergeOrdersByTimeAndTellsTheSource() throws {
        let firstRecords = SampleTraffic(seed: 1).records(count: 3000)
        let secondRecords = SampleTraffic(seed: 2, symbols: ["XRPUSDT"]).records(count: 2000)
        let pa = try write("a.k2cap", firstRecords, blockSize: 16 * 1024)
        let pb = try write("b.k2cap", secondRecords, blockSize: 16 * 1024)
        let merged = try MergedReader(paths: [pa, pb])
        var out: [(OwnedRecord, Int)] = []
        while let record = try merged.next() { out.append((record.owned(), merged.currentSource)) }
        #expect(out.count == firstRecords.count + secondRecords.count)
        #expect(zip(out, out.dropFirst()).allSatisfy { $0.0.timestamp <= $1.0.timestamp })
        // Each input's records arrive complete and in file order, attributed to it.
        #expect(out.filter { $0.1 == 0 }.map(\.0) == firstRecords)
        #expect(out.filter { $0.1 == 1 }.map(\.0) == secondRecords)
        #expect(merged.recordsPerSource == [firstRecords.count, secondRecords.count])
    }

    @Test func equalTimesGoToTheEarlierInputThenFileOrder() throws {
        func rec(_ ts: Int64, _ text: String) -> OwnedRecord { OwnedRecord(kind: .recv, timestamp: ts, connection: 0, text: text) }
        let pa = try write("ta.k2cap", [rec(10, "a1"), rec(10, "a2"), rec(20, "a3")])
        let pb = try write("tb.k2cap", [rec(5, "b0"), rec(10, "b1"), rec(20, "b2"), rec(20, "b3")])
        let pc = try write("tc.k2cap", [rec(10, "c1")])
        let merged = try MergedReader(paths: [pb, pa, pc])
        var texts: [String] = []
        while let record = try merged.next() { texts.append(String(decoding: record.payload, as: UTF8.self)) }
        #expect(texts == ["b0", "b1", "a1", "a2", "c1", "b2", "b3", "a3"])
    }

    @Test func viewsOfOtherInputsStayValidWhileOneAdvances() throws {
        // Many small frames so that readers switch blocks while others hold their heads.
        let firstRecords = SampleTraffic(seed: 3, gapNanos: 500_000).records(count: 4000)
        let secondRecords = SampleTraffic(seed: 4, gapNanos: 700_000).records(count: 4000)
        let thirdRecords = SampleTraffic(seed: 5, gapNanos: 900_000).records(count: 4000)
        let paths = try [
            write("va.k2cap", firstRecords, blockSize: 4096), write("vb.k2cap", secondRecords, blockSize: 4096),
            write("vc.k2cap", thirdRecords, blockSize: 4096),
        ]
        let merged = try MergedReader(paths: paths)
        var got: [OwnedRecord] = []
        while let record = try merged.next() { got.append(record.owned()) }
        // The expected merge: a stable sort of the concatenation by time.
        let all = (firstRecords.map { ($0, 0) } + secondRecords.map { ($0, 1) } + thirdRecords.map { ($0, 2) }).enumerated()
            .sorted { ($0.element.0.timestamp, $0.offset) < ($1.element.0.timestamp, $1.offset) }
            .map(\.element.0)
        #expect(got == all)
    }

    @Test func mergingOneCaptureKeepsItUnchanged() throws {
        let records = SampleTraffic(seed: 6).records(count: 1500)
        let pa = try write("one.k2cap", records)
        let out = dir.file("one-merged.k2cap")
        let summary = try CaptureMerger.merge(inputs: [pa], output: out)
        #expect(summary.records == records.count && summary.renumbered.isEmpty)
        #expect(try readAll(out) == records)
    }

    @Test func mergeRenumbersCollidingConnectionsAndNotesSources() throws {
        var firstRecords = SampleTraffic(seed: 7).records(count: 500)
        let secondRecords = SampleTraffic(seed: 8).records(count: 500)  // also connection 0
        firstRecords.append(OwnedRecord(kind: .connect, timestamp: firstRecords.last!.timestamp + 1, connection: 1, url: "wss://x", text: ""))
        let pa = try write("ca.k2cap", firstRecords)
        let pb = try write("cb.k2cap", secondRecords)
        let out = dir.file("c-merged.k2cap")
        let summary = try CaptureMerger.merge(inputs: [pa, pb], output: out)
        #expect(summary.records == firstRecords.count + secondRecords.count)
        // firstRecords (the first input) keep 0 and 1; secondRecords' connection 0 takes the lowest id no input uses: 2.
        #expect(summary.renumbered.map(\.input) == [1])
        #expect(summary.renumbered.map(\.from) == [0])
        #expect(summary.renumbered.map(\.to) == [2])
        let reader = try CaptureReader(path: out)
        #expect(reader.header.metadataValue("exchange") == .string("binance"))
        let sources = reader.header.metadataValue("merged_from")?.arrayValue ?? []
        #expect(sources.compactMap { $0["path"]?.stringValue } == [pa, pb])
        let merged = try readAll(out)
        let bConns = Set(merged.filter { secondRecords.map(\.payload).contains($0.payload) && $0.kind == .recv }.map(\.connection))
        #expect(bConns == [2])
        #expect(merged.first { $0.url == Array("wss://x".utf8) }?.connection == 1)
        #expect(try CaptureVerifier.verify(path: out).intact)
    }

    /// docs/capture-tools.md: a connection keeps its id unless an earlier input used it. The
    /// second input starts first in time; the first input's connections 2 and 3 must stay 2 and
    /// 3 (they became 3 and 4 when ids went to whichever connection appeared first in time).
    @Test func mergeKeepsTheFirstInputsConnectionsWhateverComesFirstInTime() throws {
        func session(_ connections: [UInt32], start: Int64, tag: String) -> [OwnedRecord] {
            var records: [OwnedRecord] = []
            for (k, connection) in connections.enumerated() {
                records.append(OwnedRecord(kind: .connect, timestamp: start + Int64(k), connection: connection, url: "wss://\(tag)", text: ""))
            }
            for i in 0..<20 {
                for connection in connections {
                    records.append(
                        OwnedRecord(
                            kind: .recv, timestamp: start + 1_000 + Int64(i * 10) + Int64(connection),
                            connection: connection, text: "\(tag) \(connection) \(i)"))
                }
            }
            return records
        }
        let kraken = try write("kraken.k2cap", session([2, 3], start: 2_000_000, tag: "kraken"))
        let binance = try write("binance.k2cap", session([0, 1, 2], start: 1_000_000, tag: "binance"))
        let out = dir.file("both.k2cap")
        let summary = try CaptureMerger.merge(inputs: [kraken, binance], output: out)
        #expect(summary.renumbered.map(\.input) == [1])
        #expect(summary.renumbered.map(\.from) == [2])
        #expect(summary.renumbered.map(\.to) == [4])
        let merged = try readAll(out)
        let krakenConnections = Set(merged.filter { $0.payload.starts(with: Array("kraken".utf8)) }.map(\.connection))
        let binanceConnections = Set(merged.filter { $0.payload.starts(with: Array("binance".utf8)) }.map(\.connection))
        #expect(krakenConnections == [2, 3])
        #expect(binanceConnections == [0, 1, 4])
    }

    @Test func mergeRefusesToOverwriteAnInput() throws {
        let pa = try write("self.k2cap", SampleTraffic().records(count: 10))
        let error = #expect(throws: CaptureError.self) { try CaptureMerger.merge(inputs: [pa], output: pa) }
        #expect(error?.code == .invalidArgument)
    }
}
