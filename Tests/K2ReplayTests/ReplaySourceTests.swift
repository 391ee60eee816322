import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// Records from memory: what a non-file `ReplaySource` looks like to the engine.
final class ArraySource: ReplaySource, @unchecked Sendable {
    // unchecked: handed to the engine's one sending thread.
    let records: [OwnedRecord]
    /// Payload copies that live as long as the source: views into them stay valid.
    private let payloads: [UnsafeMutableRawBufferPointer]
    var position = 0
    var rewinds = 0
    init(_ records: [OwnedRecord]) {
        self.records = records
        payloads = records.map { record in
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: record.payload.count, alignment: 1)
            copy.copyBytes(from: record.payload)
            return copy
        }
    }
    deinit { for p in payloads { p.deallocate() } }
    func next() throws -> CaptureRecord? {
        guard position < records.count else { return nil }
        defer { position += 1 }
        let record = records[position]
        return CaptureRecord(
            kind: record.kind, timestamp: record.timestamp, connection: record.connection, isBinary: false,
            aux: UnsafeRawBufferPointer(start: nil, count: 0), payload: UnsafeRawBufferPointer(payloads[position]))
    }
    func rewind() throws { position = 0; rewinds += 1 }
    var span: Int64 { 1_000 }
    var exchange: String { "test" }
    var singleExchange: String? { "test" }
}

@Test func engineReplaysASourceWithLoopsAndFilters() throws {
    let recs = (0..<10).map { OwnedRecord(kind: $0 == 0 ? .connect : .recv, timestamp: 100 + Int64($0) * 10, connection: 0, text: "m\($0)") }
    let source = ArraySource(recs)
    var config = ReplayConfig(source: ReplaySourceFactory(name: "memory") { source })
    config.loops = 2
    config.pace = .speed(1)
    let clock = ManualClock(monotonic: 0)
    let sink = RecordingSink()
    let summary = try ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(summary.outcome == .completed)
    #expect(summary.messages == 18)  // 9 recv per round
    #expect(summary.files == ["memory"])
    #expect(source.rewinds == 2)
    let round1: [Int64] = (1..<10).map { 100 + Int64($0) * 10 }
    let round2: [Int64] = round1.map { $0 + 1_000 }
    #expect(sink.captureTimes == round1 + round2)
}
