import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

@Test(arguments: [
    "nope://x", "kafkax://localhost:9092", "mock", ":foo", "mock://?capacity=0", "mock://?capacity=-3",
    "mock://?capacity=abc", "mock://?speed=3", "mock://host", "file:", "file:x?y=1",
])
func badSinkURIsAreRejected(uri: String) {
    #expect(throws: ReplayError.self) { try SinkFactory.make(uri) }
}

@Test func unknownSchemeNamesTheKnownOnes() {
    do {
        _ = try SinkFactory.make("nope://x")
        Issue.record("accepted nope://")
    } catch {
        let text = "\(error)"
        #expect(text.contains("unknown sink scheme 'nope'"))
        #expect(text.contains("mock:") && text.contains("file:"))
    }
}

@Test func uriParsing() throws {
    let uri = try SinkURI(parsing: "kafka://a:9092,b:9093/x?topic=market.%7Bexchange%7D&acks=all")
    #expect(uri.scheme == "kafka")
    #expect(uri.authority == "a:9092,b:9093")
    #expect(uri.path == "/x")
    #expect(uri.parameter("topic") == "market.{exchange}")
    #expect(uri.parameter("acks") == "all")
    let fileURI = try SinkURI(parsing: "file:out/x.ndjson")
    #expect(fileURI.scheme == "file" && fileURI.path == "out/x.ndjson")
    let dash = try SinkURI(parsing: "-")
    #expect(dash.scheme == "file" && dash.path == "-")
    let mock = try SinkFactory.make("mock://?capacity=138") as? MockSink
    #expect(mock?.capacity == 138)
}

/// Hands `intended` times to a sink without an engine.
private func feed(_ sink: any ReplaySink, intended: [Int64], actualDelay: Int64 = 0) throws {
    let payload: [UInt8] = Array(#"{"stream":"btcusdt@trade","data":{"s":"BTCUSDT"}}"#.utf8)
    try payload.withUnsafeBytes { raw in
        for (i, time) in intended.enumerated() {
            let record = CaptureRecord(
                kind: .recv, timestamp: time, connection: 0, isBinary: false, aux: UnsafeRawBufferPointer(start: nil, count: 0), payload: raw)
            let message = ReplayMessage(
                record: record, fields: PayloadFields.extract(raw), sequence: UInt64(i), captureNanos: time,
                intendedNanos: time, actualNanos: time + actualDelay, exchange: "binance")
            try sink.send(message)
        }
    }
}

@Test func capacityQueueFollowsTheFormula() throws {
    // 1,000 msg/s offered (every 1 ms) into a 500 msg/s consumer: message k arrives at k ms,
    // leaves at (k + 1) × 2 ms, so its latency from intended is (k + 2) ms and the queue grows
    // by one message every 2 ms.
    let sink = MockSink(capacity: 500)
    let messages = 1_000
    try feed(sink, intended: (0..<messages).map { Int64($0) * 1_000_000 })
    let stats = sink.stats
    #expect(stats.counts.sent == UInt64(messages) && stats.counts.delivered == UInt64(messages))
    let latency = stats.latencyFromIntended
    #expect(latency.min == 2_000_000)
    #expect(latency.valuesAreEquivalent(latency.max, Int64(messages + 1) * 1_000_000))
    // Median message k = 499 → 501 ms.
    #expect(latency.valuesAreEquivalent(latency.valueAtPercentile(50), 501_000_000))
    // Depth seen by arrival k: itself plus messages j < k still there ((j+1)·2 ms > k ms): k − ⌊k/2⌋ + 1.
    let lastIndex = Int64(messages - 1)
    #expect(sink.maxQueueDepth == lastIndex - lastIndex / 2 + 1)
    // Per-second timeline: one second of schedule.
    #expect(sink.queueDepthTimeline.count == 1)
}

@Test func capacityQueueDrainsWhenUnderloaded() throws {
    // 100 msg/s into a 138 msg/s consumer: no queueing, latency = service time 1/138 s.
    let sink = MockSink(capacity: 138)
    try feed(sink, intended: (0..<500).map { Int64($0) * 10_000_000 })
    let latency = sink.stats.latencyFromIntended
    let service = Int64((1e9 / 138).rounded())
    #expect(latency.valuesAreEquivalent(latency.max, service) && latency.valuesAreEquivalent(latency.min, service))
    #expect(sink.maxQueueDepth == 1)
    #expect(sink.queueDepthTimeline.count == 5)
}

@Test func mockChecksumIsOrderSensitive() throws {
    let first = MockSink()
    let second = MockSink()
    try feed(first, intended: [1, 2, 3])
    try feed(second, intended: [1, 2, 3])
    #expect(first.checksum == second.checksum && first.checksum != 0)
    #expect(first.counts.bytes == 3 * 49)
}

@Test func failAfterFailsAndCounts() throws {
    let sink = try SinkFactory.make("mock://?fail_after=2")
    #expect(throws: ReplayError.self) { try feed(sink, intended: [1, 2, 3, 4]) }
    #expect(sink.counts.sent == 3 && sink.counts.delivered == 2 && sink.counts.failed == 1)
}

@Test func fileSinkWritesNDJSON() throws {
    let dir = TemporaryDirectory()
    let sink = try SinkFactory.make("file:" + dir.file("out.ndjson"))
    try sink.open()
    sink.willStart(pace: .max)
    try feed(sink, intended: [10, 20, 30])
    #expect(sink.counts.delivered == 0)  // at max: still buffered
    try sink.finish(timeoutNanos: 0)
    #expect(sink.counts.delivered == 3 && sink.counts.inFlight == 0)
    let text = try Shell.run("cat '\(dir.file("out.ndjson"))'")
    let lines = text.split(separator: "\n")
    #expect(lines.count == 3)
    let back = try lines[1].utf8.withContiguousStorageIfAvailable { try NDJSONRecord.parse(UnsafeRawBufferPointer($0)) }
    #expect(back?.timestamp == 20)
    #expect(back?.kind == .recv)
}

/// At a paced speed every line leaves when its message is sent: a reader of a 1x replay sees
/// the capture's timing, not 256 KiB bursts (issue 20.4).
@Test(arguments: [Pace.speed(1), .speed(100), .rate(1_000)])
func fileSinkWritesEachMessageWhenPaced(_ pace: Pace) throws {
    let dir = TemporaryDirectory()
    let path = dir.file("paced.ndjson")
    let sink = try SinkFactory.make("file:" + path)
    try sink.open()
    sink.willStart(pace: pace)
    for k in 1...3 {
        try feed(sink, intended: [Int64(k) * 1_000_000])
        #expect(sink.counts.delivered == UInt64(k))
        #expect(try Shell.run("wc -l < '\(path)'").trimmingCharacters(in: .whitespacesAndNewlines) == "\(k)")
    }
    try sink.finish(timeoutNanos: 0)
    #expect(sink.counts.delivered == 3 && sink.counts.inFlight == 0)
}

@Test func fileSinkReportsUnwritablePath() throws {
    let sink = try SinkFactory.make("file:/nonexistent-dir/x.ndjson")
    #expect(throws: ReplayError.self) { try sink.open() }
}

@Test func mockChecksumCoversEveryByteAndTheOrder() {
    var rng = SplitMix64(seed: 7)
    func sum(_ payloads: [[UInt8]]) -> UInt64 {
        var hash: UInt64 = 0
        for p in payloads { hash = p.withUnsafeBytes { MockSink.checksum($0, continuing: hash) } }
        return hash
    }
    // Every length from 0 to 100 (all lane/word/tail splits): flipping any one bit of any byte changes it.
    for n in 0...100 {
        var payload = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let base = sum([payload])
        for i in 0..<n {
            let bit = UInt8(1) << UInt8(truncatingIfNeeded: rng.next() % 8)
            payload[i] ^= bit
            #expect(sum([payload]) != base, "length \(n), byte \(i)")
            payload[i] ^= bit
        }
        // A trailing zero byte is not the same payload.
        #expect(sum([payload + [0]]) != base, "length \(n)")
    }
    let first: [UInt8] = Array("first payload".utf8), second: [UInt8] = Array("second".utf8)
    #expect(sum([first, second]) != sum([second, first]))
    #expect(sum([first + second]) != sum([first, second]))
}

@Test func mockTimesOneMessageInABatchAtMax() throws {
    let sink = MockSink()
    sink.willStart(pace: .max)
    try feed(sink, intended: (0..<200).map { Int64($0) })
    let stats = sink.stats
    #expect(stats.counts.delivered == 200 && stats.counts.bytes == 200 * 49)
    // Sequences 0, 64, 128, 192.
    #expect(stats.latencyFromIntended.totalCount == 4 && stats.latencyFromActual.totalCount == 4)
    #expect(stats.details.contains { $0.0 == "latency_sampled_one_in" })
    let paced = MockSink()
    paced.willStart(pace: .speed(1))
    try feed(paced, intended: (0..<200).map { Int64($0) })
    #expect(paced.stats.latencyFromIntended.totalCount == 200)
}
