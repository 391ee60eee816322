import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// Keeps each message's capture time and payload, in the order the engine handed them over.
final class OrderSink: ReplaySink {
    let uri = "order://"
    var captureTimes: [Int64] = []
    var payloads: [[UInt8]] = []
    private var tally = SinkCounts()

    func open() throws {}
    func send(_ m: borrowing ReplayMessage) throws {
        captureTimes.append(m.captureNanos)
        payloads.append([UInt8](m.record.payload))
        tally.sent += 1
        tally.delivered += 1
    }
    func finish(timeoutNanos: Int64) throws {}
    var counts: SinkCounts { tally }
}

/// A capture grouped by connection (as some recorders write it) replays in receive-time order.
@Suite struct ReceiveOrderTests {
    let dir = TemporaryDirectory()
    let traffic = GroupedTraffic(connections: 4, perConnection: 500)

    func replay(_ path: String, maxChains: Int = 16) throws -> (OrderSink, ReplaySummary) {
        let clock = ManualClock(monotonic: 1_000)
        let sink = OrderSink()
        var config = ReplayConfig(files: [path])
        config.pace = .speed(1)
        config.maxOverlappingChains = maxChains
        let engine = ReplayEngine(config: config, sinks: [sink], clock: clock, waiter: ManualWaiter(clock: clock))
        return (sink, try engine.run())
    }

    func expectReceiveOrder(_ sink: OrderSink, _ summary: ReplaySummary) {
        let want = traffic.sortedRecords().filter { $0.kind == .recv }
        #expect(summary.outcome == .completed)
        #expect(sink.captureTimes.count == want.count)
        // The first difference, not megabyte dumps of both arrays.
        let firstWrong = zip(sink.payloads, want).enumerated().first { $0.element.0 != $0.element.1.payload }?.offset
        #expect(
            firstWrong == nil,
            "message \(firstWrong ?? -1): got \(firstWrong.map { String(decoding: sink.payloads[$0], as: UTF8.self) } ?? "") at \(firstWrong.map { sink.captureTimes[$0] } ?? 0), want \(firstWrong.map { String(decoding: want[$0].payload, as: UTF8.self) } ?? "") at \(firstWrong.map { want[$0].timestamp } ?? 0)"
        )
        // Every message left when it was due: nothing is sent seconds late.
        #expect(summary.lateness.max == 0)
        #expect(summary.lateness.totalCount == UInt64(want.count))
    }

    @Test func groupedCaptureInOneFrameReplaysInReceiveTimeOrder() throws {
        let path = dir.file("grouped.k2cap")
        try traffic.write(to: path)
        #expect(try CaptureReader(path: path).index().entries.count == 1)
        let (sink, summary) = try replay(path)
        expectReceiveOrder(sink, summary)
    }

    @Test func groupedCaptureOverManyFramesReplaysInReceiveTimeOrder() throws {
        let path = dir.file("grouped.k2cap")
        try traffic.write(to: path, blockSize: 8 * 1024)
        #expect(try CaptureReader(path: path).index().entries.count > 8)
        let (sink, summary) = try replay(path)
        expectReceiveOrder(sink, summary)
    }

    @Test func tooManyOverlappingStretchesAreRefusedWithTheSortCommand() throws {
        let path = dir.file("grouped.k2cap")
        try traffic.write(to: path, blockSize: 8 * 1024)
        do {
            _ = try replay(path, maxChains: 2)
            Issue.record("replay of a capture needing more than 2 chains did not refuse")
        } catch let error as ReplayError {
            #expect(error.code == .invalidArgument)
            #expect(error.description.contains("records are not in receive-time order"))
            #expect(error.description.contains("k2 capture sort \(path) -o \(dir.file("grouped.sorted.k2cap"))"))
        }
    }

    @Test func sortedCaptureReplaysTheSame() throws {
        let path = dir.file("grouped.k2cap")
        try traffic.write(to: path, blockSize: 8 * 1024)
        let sorted = dir.file("sorted.k2cap")
        _ = try CaptureSorter.sort(input: path, output: sorted, options: .init(blockSize: 8 * 1024))
        let (sink, summary) = try replay(sorted, maxChains: 1)
        expectReceiveOrder(sink, summary)
    }
}
