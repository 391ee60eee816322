import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

@Test(arguments: ["nope://x", "kafkax://localhost:9092", "mock", ":foo", "mock://?capacity=0", "mock://?capacity=-3",
                  "mock://?capacity=abc", "mock://?speed=3", "mock://host", "file:", "file:x?y=1"])
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
    let u = try SinkURI(parsing: "kafka://a:9092,b:9093/x?topic=market.%7Bexchange%7D&acks=all")
    #expect(u.scheme == "kafka")
    #expect(u.authority == "a:9092,b:9093")
    #expect(u.path == "/x")
    #expect(u.parameter("topic") == "market.{exchange}")
    #expect(u.parameter("acks") == "all")
    let f = try SinkURI(parsing: "file:out/x.ndjson")
    #expect(f.scheme == "file" && f.path == "out/x.ndjson")
    let dash = try SinkURI(parsing: "-")
    #expect(dash.scheme == "file" && dash.path == "-")
    let mock = try SinkFactory.make("mock://?capacity=138") as? MockSink
    #expect(mock?.capacity == 138)
}

/// Hands `intended` times to a sink without an engine.
private func feed(_ sink: any ReplaySink, intended: [Int64], actualDelay: Int64 = 0) throws {
    let payload: [UInt8] = Array(#"{"stream":"btcusdt@trade","data":{"s":"BTCUSDT"}}"#.utf8)
    try payload.withUnsafeBytes { p in
        for (i, t) in intended.enumerated() {
            let r = CaptureRecord(kind: .recv, timestamp: t, connection: 0, isBinary: false, aux: UnsafeRawBufferPointer(start: nil, count: 0), payload: p)
            let m = ReplayMessage(record: r, fields: PayloadFields.extract(p), sequence: UInt64(i), captureNanos: t,
                                  intendedNanos: t, actualNanos: t + actualDelay, exchange: "binance")
            try sink.send(m)
        }
    }
}

@Test func capacityQueueFollowsTheFormula() throws {
    // 1,000 msg/s offered (every 1 ms) into a 500 msg/s consumer: message k arrives at k ms,
    // leaves at (k + 1) × 2 ms, so its latency from intended is (k + 2) ms and the queue grows
    // by one message every 2 ms.
    let sink = MockSink(capacity: 500)
    let n = 1_000
    try feed(sink, intended: (0..<n).map { Int64($0) * 1_000_000 })
    let s = sink.stats
    #expect(s.counts.sent == UInt64(n) && s.counts.delivered == UInt64(n))
    let h = s.latencyFromIntended
    #expect(h.min == 2_000_000)
    #expect(h.valuesAreEquivalent(h.max, Int64(n + 1) * 1_000_000))
    // Median message k = 499 → 501 ms.
    #expect(h.valuesAreEquivalent(h.valueAtPercentile(50), 501_000_000))
    // Depth seen by arrival k: itself plus messages j < k still there ((j+1)·2 ms > k ms): k − ⌊k/2⌋ + 1.
    let k = Int64(n - 1)
    #expect(sink.maxQueueDepth == k - k / 2 + 1)
    // Per-second timeline: one second of schedule.
    #expect(sink.queueDepthTimeline.count == 1)
}

@Test func capacityQueueDrainsWhenUnderloaded() throws {
    // 100 msg/s into a 138 msg/s consumer: no queueing, latency = service time 1/138 s.
    let sink = MockSink(capacity: 138)
    try feed(sink, intended: (0..<500).map { Int64($0) * 10_000_000 })
    let h = sink.stats.latencyFromIntended
    let service = Int64((1e9 / 138).rounded())
    #expect(h.valuesAreEquivalent(h.max, service) && h.valuesAreEquivalent(h.min, service))
    #expect(sink.maxQueueDepth == 1)
    #expect(sink.queueDepthTimeline.count == 5)
}

@Test func mockChecksumIsOrderSensitive() throws {
    let a = MockSink()
    let b = MockSink()
    try feed(a, intended: [1, 2, 3])
    try feed(b, intended: [1, 2, 3])
    #expect(a.checksum == b.checksum && a.checksum != 0)
    #expect(a.counts.bytes == 3 * 49)
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
    #expect(sink.counts.delivered == 0) // at max: still buffered
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
        var h: UInt64 = 0
        for p in payloads { h = p.withUnsafeBytes { MockSink.checksum($0, continuing: h) } }
        return h
    }
    // Every length from 0 to 100 (all lane/word/tail splits): flipping any one bit of any byte changes it.
    for n in 0...100 {
        var p = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let base = sum([p])
        for i in 0..<n {
            let bit = UInt8(1) << UInt8(truncatingIfNeeded: rng.next() % 8)
            p[i] ^= bit
            #expect(sum([p]) != base, "length \(n), byte \(i)")
            p[i] ^= bit
        }
        // A trailing zero byte is not the same payload.
        #expect(sum([p + [0]]) != base, "length \(n)")
    }
    let a: [UInt8] = Array("first payload".utf8), b: [UInt8] = Array("second".utf8)
    #expect(sum([a, b]) != sum([b, a]))
    #expect(sum([a + b]) != sum([a, b]))
}

@Test func mockTimesOneMessageInABatchAtMax() throws {
    let sink = MockSink()
    sink.willStart(pace: .max)
    try feed(sink, intended: (0..<200).map { Int64($0) })
    let s = sink.stats
    #expect(s.counts.delivered == 200 && s.counts.bytes == 200 * 49)
    // Sequences 0, 64, 128, 192.
    #expect(s.latencyFromIntended.totalCount == 4 && s.latencyFromActual.totalCount == 4)
    #expect(s.details.contains { $0.0 == "latency_sampled_one_in" })
    let paced = MockSink()
    paced.willStart(pace: .speed(1))
    try feed(paced, intended: (0..<200).map { Int64($0) })
    #expect(paced.stats.latencyFromIntended.totalCount == 200)
}
