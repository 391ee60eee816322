import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// Keeps what the engine hands over (copies, since records are views).
final class RecordingSink: ReplaySink {
    let uri = "recording://"
    var captureTimes: [Int64] = []
    var intended: [Int64] = []
    var actual: [Int64] = []
    var symbols: [String] = []
    var kinds: [RecordKind] = []
    var onSend: ((UInt64) -> Void)?
    private var tally = SinkCounts()

    func open() throws {}
    func send(_ m: borrowing ReplayMessage) throws {
        captureTimes.append(m.captureNanos)
        intended.append(m.intendedNanos)
        actual.append(m.actualNanos)
        symbols.append(m.fields.symbolString ?? "")
        kinds.append(m.record.kind)
        tally.sent += 1
        tally.delivered += 1
        onSend?(m.sequence)
    }
    func finish(timeoutNanos: Int64) throws {}
    var counts: SinkCounts { tally }
}

private func sampleCapture(_ dir: TemporaryDirectory, count: Int = 1_000) throws -> (String, [OwnedRecord]) {
    let path = dir.file("sample.k2cap")
    let recs = try SampleTraffic(gapNanos: 1_000_000).write(to: path, count: count)
    return (path, recs)
}

@Test func pacesEveryRecvMessageAtTwiceSpeed() throws {
    let dir = TemporaryDirectory()
    let (path, recs) = try sampleCapture(dir)
    let recv = recs.filter { $0.kind == .recv }
    let clock = ManualClock(monotonic: 1_000)
    let sink = RecordingSink()
    var config = ReplayConfig(files: [path])
    config.pace = .speed(2)
    let engine = ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock))
    let summary = try engine.run()
    #expect(summary.outcome == .completed)
    #expect(summary.messages == UInt64(recv.count))
    #expect(sink.kinds.allSatisfy { $0 == .recv })
    #expect(sink.captureTimes == recv.map(\.timestamp))
    let t0 = recv[0].timestamp
    for (i, record) in recv.enumerated() {
        let want = 1_000 + Int64((Double(record.timestamp - t0) / 2).rounded())
        if sink.intended[i] != want { Issue.record("message \(i): intended \(sink.intended[i]), want \(want)"); break }
    }
    #expect(sink.actual == sink.intended)
    #expect(summary.lateness.totalCount == UInt64(recv.count))
    #expect(summary.lateness.max == 0)
    #expect(abs(summary.achievedSpeed - 2) < 0.001)
    #expect(summary.bytes == UInt64(recv.reduce(0) { $0 + $1.payload.count }))
}

@Test func latenessIsMeasuredFromTheSchedule() throws {
    let dir = TemporaryDirectory()
    let (path, recs) = try sampleCapture(dir)
    let recvCount = recs.filter { $0.kind == .recv }.count
    let clock = ManualClock(monotonic: 0)
    // Every 10th wait ends 50 µs late, the others 2 µs late.
    let script = [Int64](repeating: 2_000, count: 9) + [50_000]
    let mock = MockSink(clock: clock)
    var config = ReplayConfig(files: [path])
    config.pace = .speed(1)
    let engine = ReplayEngine(config: config, sinks: [mock], clock: clock, waiter: ManualWaiter(clock: clock, lateness: script))
    let summary = try engine.run()
    #expect(summary.lateness.totalCount == UInt64(recvCount))
    #expect(summary.lateness.valueAtPercentile(50) == 2_000)
    #expect(summary.lateness.valuesAreEquivalent(summary.lateness.valueAtPercentile(95), 50_000))
    #expect(summary.lateness.max == 50_000)
    // The mock delivers at once: latency from intended = the lateness, from actual = 0.
    #expect(mock.stats.latencyFromIntended.max == 50_000)
    #expect(mock.stats.latencyFromActual.max == 0)
}

@Test func theSummaryPointsAtRealtimeWhenNormalSchedulingWasLate() throws {
    let dir = TemporaryDirectory()
    let (path, _) = try sampleCapture(dir)
    let clock = ManualClock(monotonic: 0)
    // Every 10th wait ends 400 µs late: p99 400 µs.
    let script = [Int64](repeating: 2_000, count: 9) + [400_000]
    let config = ReplayConfig(files: [path])
    var summary = try ReplayEngine(
        config: config, sinks: [MockSink(clock: clock)], clock: clock,
        waiter: ManualWaiter(clock: clock, lateness: script)
    ).run()
    #expect(summary.lines().contains { $0.contains("--realtime 10") })
    #expect(summary.json()["scheduling"]?.stringValue == "normal")
    summary.realtimePriority = 10
    #expect(!summary.lines().contains { $0.contains("--realtime 10") })
    #expect(summary.lines().contains { $0.hasPrefix("lateness:") && $0.hasSuffix("(SCHED_FIFO 10)") })
    #expect(summary.json()["scheduling"]?.stringValue == "SCHED_FIFO 10")
    // On time: no hint.
    let onTime = try ReplayEngine(config: config, sinks: [MockSink(clock: clock)], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(!onTime.lines().contains { $0.contains("--realtime") })
}

@Test func fixedRateAndLoops() throws {
    let dir = TemporaryDirectory()
    let (path, recs) = try sampleCapture(dir, count: 200)
    let recv = recs.filter { $0.kind == .recv }
    let clock = ManualClock(monotonic: 0)
    let sink = RecordingSink()
    var config = ReplayConfig(files: [path])
    config.pace = .rate(1_000)
    config.loops = 3
    let summary = try ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(summary.messages == UInt64(3 * recv.count))
    for i in sink.intended.indices where sink.intended[i] != Int64(i) * 1_000_000 {
        Issue.record("message \(i) due at \(sink.intended[i])")
        break
    }
    // Round k shifts capture times by k spans: strictly increasing across the seams.
    let span = sink.captureTimes[recv.count] - sink.captureTimes[0]
    #expect(sink.captureTimes[2 * recv.count] - sink.captureTimes[recv.count] == span)
    #expect(zip(sink.captureTimes, sink.captureTimes.dropFirst()).allSatisfy { $0 < $1 })
    #expect(span > recv.last!.timestamp - recv[0].timestamp)
}

/// Issue 17: `--loop 1000000000` trapped (rounds × span overflowed Int64). Rounds or a speed
/// that carry times past 2^62 ns are refused before any sink opens, naming the largest loop.
@Test func loopsAndSpeedsPastInt64AreRefused() throws {
    let dir = TemporaryDirectory()
    let (path, _) = try sampleCapture(dir, count: 200)
    let clock = ManualClock(monotonic: 0)
    func refusal(loops: Int, pace: Pace) -> String? {
        var config = ReplayConfig(files: [path])
        config.loops = loops
        config.pace = pace
        let sink = RecordingSink()
        do {
            _ = try ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock)).run()
            return nil
        } catch {
            #expect(sink.captureTimes.isEmpty)
            return "\(error)"
        }
    }
    let tooMany = refusal(loops: 1_000_000_000_000, pace: .max)
    #expect(tooMany?.contains("more than 146 years of capture time") == true, "\(tooMany ?? "accepted")")
    #expect(tooMany?.contains("give at most --loop ") == true)
    #expect(refusal(loops: Int.max, pace: .max)?.contains("--loop") == true)
    let tooSlow = refusal(loops: 1, pace: .speed(1e-12))
    #expect(tooSlow?.contains("--speed") == true, "\(tooSlow ?? "accepted")")
    #expect(refusal(loops: 2, pace: .speed(1)) == nil)
}

@Test func kindsAndFilters() throws {
    let dir = TemporaryDirectory()
    let (path, recs) = try sampleCapture(dir, count: 400)
    let clock = ManualClock(monotonic: 0)
    var config = ReplayConfig(files: [path])
    config.pace = .max
    config.kinds = [.connect, .send, .recv]
    let all = RecordingSink()
    _ = try ReplayEngine(config: config, sinks: [all], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(all.kinds.count == recs.count)

    config.kinds = [.recv]
    config.filter = try RecordFilter.parse(from: nil, to: nil, kinds: [], connections: [], streams: [], symbols: ["btcusdt"], start: nil)
    let btc = RecordingSink()
    _ = try ReplayEngine(config: config, sinks: [btc], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(!btc.symbols.isEmpty && btc.symbols.allSatisfy { $0 == "BTCUSDT" })
}

@Test func shardsPartitionTheMessages() throws {
    let dir = TemporaryDirectory()
    let (path, recs) = try sampleCapture(dir, count: 600)
    let recvCount = recs.filter { $0.kind == .recv }.count
    var seen: [UInt64: Int] = [:]
    var total = 0
    for i in 0..<3 {
        let clock = ManualClock(monotonic: 0)
        var config = ReplayConfig(files: [path])
        config.pace = .max
        config.shard = Shard(index: i, count: 3)
        let sink = RecordingSink()
        _ = try ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock)).run()
        total += sink.captureTimes.count
        for (time, sym) in zip(sink.captureTimes, sink.symbols) {
            seen[UInt64(time), default: 0] += 1
            // A symbol always lands in the same shard.
            let hash = Array(sym.utf8).withUnsafeBytes { Shard.hash(symbol: $0, connection: 0) }
            #expect(Int(hash % 3) == i)
        }
    }
    #expect(total == recvCount)
    #expect(seen.values.allSatisfy { $0 == 1 })
    #expect(throws: ReplayError.self) { try Shard(parsing: "3/3") }
    #expect(throws: ReplayError.self) { try Shard(parsing: "1") }
}

@Test func sinkFailureStopsAndAccountsForEverything() throws {
    let dir = TemporaryDirectory()
    let (path, recs) = try sampleCapture(dir, count: 500)
    let recvCount = UInt64(recs.filter { $0.kind == .recv }.count)
    let clock = ManualClock(monotonic: 0)
    let good = MockSink(uri: "mock://a", clock: clock)
    let failing = try SinkFactory.make("mock://?fail_after=100", options: SinkOptions(clock: clock))
    let after = MockSink(uri: "mock://c", clock: clock)
    var config = ReplayConfig(files: [path])
    config.loops = 2
    let summary = try ReplayEngine(config: config, sinks: [good, failing, after], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(summary.outcome == .sinkFailed)
    #expect(summary.outcome.exitCode == 1)
    #expect(summary.messages == 101)
    #expect(summary.neverSent == 2 * recvCount - 101)
    let byURI = Dictionary(uniqueKeysWithValues: summary.sinks.map { ($0.uri, $0) })
    #expect(byURI["mock://a"]?.stats.counts.delivered == 101)
    #expect(byURI["mock://?fail_after=100"]?.stats.counts.failed == 1)
    #expect(byURI["mock://c"]?.stats.counts.sent == 100)
    for sink in summary.sinks {
        let counts = sink.stats.counts
        #expect(counts.delivered + counts.failed + counts.inFlight + sink.neverSent == 2 * recvCount, "\(sink.uri)")
    }
    #expect(byURI["mock://?fail_after=100"]?.error?.contains("fail_after") == true)
}

@Test func stopRequestIsClean() throws {
    let dir = TemporaryDirectory()
    let (path, recs) = try sampleCapture(dir, count: 300)
    let recvCount = UInt64(recs.filter { $0.kind == .recv }.count)
    let clock = ManualClock(monotonic: 0)
    let sink = RecordingSink()
    let engine = ReplayEngine(config: ReplayConfig(files: [path]), sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock))
    sink.onSend = { seq in if seq == 49 { engine.requestStop() } }
    let summary = try engine.run()
    #expect(summary.outcome == .interrupted && summary.outcome.exitCode == 130)
    #expect(summary.messages == 50)
    #expect(summary.neverSent == recvCount - 50)
    #expect(summary.sinks[0].neverSent == recvCount - 50)
}

@Test func summaryJSONAndReport() throws {
    let dir = TemporaryDirectory()
    let (path, _) = try sampleCapture(dir, count: 300)
    let clock = ManualClock(monotonic: 0)
    var config = ReplayConfig(files: [path])
    config.pace = .speed(10)
    config.histogramIntervalNanos = 1_000_000
    let mock = try SinkFactory.make("mock://?capacity=1000", options: SinkOptions(clock: clock))
    let summary = try ReplayEngine(config: config, sinks: [mock], clock: clock, waiter: ManualWaiter(clock: clock, lateness: [1_000])).run()
    let json = summary.json()
    #expect(json["outcome"]?.stringValue == "completed")
    #expect(json["messages"]?.int64Value == 300)
    #expect(json["lateness_ns"]?["p99"]?.int64Value == 1_000)
    #expect(json["pace"]?["mode"]?.stringValue == "speed")
    let sinkJSON = json["sinks"]?.arrayValue?.first
    #expect(sinkJSON?["delivered"]?.int64Value == 300)
    #expect(sinkJSON?["queue_depth_max"] != nil)
    let paths = try summary.writeReport(to: dir.file("report"))
    #expect(paths.count == 3)
    let parsed = try JSONParser.parse(try Shell.run("cat '\(dir.file("report/summary.json"))'"))
    #expect(parsed == json)
    let log = try HistogramLogReader.parse(try Shell.run("cat '\(dir.file("report/latency.hlog"))'"))
    let lateness = log.intervals.filter { $0.tag == nil }
    #expect(lateness.count > 1)
    var merged = Histogram()
    for i in lateness { merged.add(i.histogram) }
    #expect(merged == summary.lateness)
    #expect(log.intervals.contains { $0.tag == "sink0.intended" && $0.histogram.totalCount == 300 })
}

@Test func severalCapturesAreMergedByTime() throws {
    let dir = TemporaryDirectory()
    let firstRecords = try SampleTraffic(seed: 1, symbols: ["BTCUSDT"]).write(to: dir.file("a.k2cap"), count: 300)
    let secondRecords = try SampleTraffic(seed: 2, symbols: ["ETHUSDT"]).write(to: dir.file("b.k2cap"), count: 200)
    let clock = ManualClock(monotonic: 0)
    let sink = RecordingSink()
    var config = ReplayConfig(files: [dir.file("a.k2cap"), dir.file("b.k2cap")])
    config.pace = .speed(5)
    let summary = try ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(summary.messages == 500)
    let want = (firstRecords + secondRecords).filter { $0.kind == .recv }.map(\.timestamp).sorted()
    #expect(sink.captureTimes == want)
    #expect(Set(sink.symbols) == ["BTCUSDT", "ETHUSDT"])
    #expect(throws: CaptureError.self) { try ReplayEngine(config: ReplayConfig(files: [dir.file("none.k2cap")]), sinks: [MockSink()]).run() }
}

@Test func syntheticCaptureIsSeededAndPlausible() throws {
    let dir = TemporaryDirectory()
    let gen = SyntheticCapture(durationNanos: 60_000_000_000, rate: 200, seed: 9)
    let messages = try gen.write(to: dir.file("a.k2cap"))
    #expect(try gen.write(to: dir.file("b.k2cap")) == messages)
    // Six 10-second stretches at 0.25–2.5 × 200 msg/s.
    #expect(messages > 60 * 50 && messages < 60 * 500)
    let reader = try CaptureReader(path: dir.file("a.k2cap"))
    var last: Int64 = 0
    var recv = 0
    while let record = try reader.next() {
        #expect(record.timestamp >= last)
        last = record.timestamp
        if record.kind == .recv {
            recv += 1
            #expect(PayloadFields.extract(record.payload).symbol != nil)
        }
    }
    #expect(recv == messages)
}

/// Declares it does not read `fields`; checks the engine then skips the scan and `fields` still works.
final class FieldlessSink: ReplaySink {
    let uri = "fieldless://"
    var precomputed: [Bool] = []
    var symbols: [String] = []
    var actual: [Int64] = []
    var onSend: (() -> Void)?
    private var tally = SinkCounts()
    var usesPayloadFields: Bool { false }
    func open() throws {}
    func send(_ m: borrowing ReplayMessage) throws {
        precomputed.append(m.precomputedFields != nil)
        symbols.append(m.fields.symbolString ?? "")
        actual.append(m.actualNanos)
        tally.sent += 1
        tally.delivered += 1
        onSend?()
    }
    func finish(timeoutNanos: Int64) throws {}
    var counts: SinkCounts { tally }
}

@Test func payloadFieldsAreExtractedOnlyWhenASinkUsesThem() throws {
    let dir = TemporaryDirectory()
    let (path, _) = try sampleCapture(dir, count: 200)
    let clock = ManualClock(monotonic: 0)
    let alone = FieldlessSink()
    _ = try ReplayEngine(config: ReplayConfig(files: [path]), sinks: [alone], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(!alone.precomputed.isEmpty && alone.precomputed.allSatisfy { !$0 })
    let withUser = FieldlessSink()
    let recording = RecordingSink()
    _ = try ReplayEngine(config: ReplayConfig(files: [path]), sinks: [withUser, recording], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(withUser.precomputed.allSatisfy { $0 })
    // Lazily extracted or not, the same fields.
    #expect(alone.symbols == recording.symbols && !alone.symbols.contains(""))
}

@Test func maxReadsTheClockOncePerBatch() throws {
    let dir = TemporaryDirectory()
    let (path, recs) = try sampleCapture(dir, count: 300)
    let recvCount = recs.filter { $0.kind == .recv }.count
    let clock = ManualClock(monotonic: 0)
    let sink = FieldlessSink()
    sink.onSend = { clock.advance(by: 1_000) }  // every send takes 1 µs
    var config = ReplayConfig(files: [path])
    config.pace = .max
    let summary = try ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock)).run()
    #expect(summary.messages == UInt64(recvCount))
    #expect(summary.lateness.totalCount == 0)
    let every = Int(ReplayEngine.maxStampEvery)
    for (k, stamp) in sink.actual.enumerated() {
        // Message k carries the stamp read at the start of its batch: k − k % 64 sends later.
        if stamp != Int64(k - k % every) * 1_000 { Issue.record("message \(k): stamp \(stamp)"); break }
    }
    // The sending time still ends with a fresh read after the last message.
    #expect(summary.sendingNanos == Int64(recvCount) * 1_000)
}
