import K2Capture
import K2Core

/// `mock://` — an in-process sink that counts, checksums and times what it gets, optionally
/// modelling a slow downstream.
///
/// - `mock://` delivers every message at once: latency from intended ≈ the engine's lateness.
/// - `mock://?capacity=N` models a consumer serving at most N msg/s from an unbounded FIFO queue,
///   in virtual time (nothing sleeps): a message arrives at its *intended* send time, starts
///   service when the previous one is done, takes 1/N s. Its delivery is the end of service,
///   so `latencyFromIntended` is queueing + service latency. Queue depth (messages waiting or in
///   service, seen at each arrival) is reported as a maximum and a per-second timeline.
/// - `mock://?fail_after=K` accepts K messages and then fails (throws from `send`), to exercise the
///   engine's abort accounting.
public final class MockSink: ReplaySink {
    public let uri: String
    public let capacity: Double?
    public let failAfter: UInt64?

    private let clock: any NanoClock
    private let lock = Lock()
    private var tally = SinkCounts()
    private var fromIntended = Histogram()
    private var fromActual = Histogram()
    /// A 64-bit checksum over every payload received, in order (`MockSink.checksum(_:continuing:)`).
    public private(set) var checksum: UInt64 = 0

    // Virtual queue state (capacity mode).
    private let serviceNanos: Int64
    private var lastDeparture: Int64 = .min
    private var busyCount: Int64 = 0
    private var maxDepth: Int64 = 0
    private var waitHistogram = Histogram()
    /// Per second of the replay schedule: the largest queue depth an arrival saw.
    private var depthTimeline: [Int64] = []
    private var firstIntended: Int64?

    public init(uri: String = "mock://", capacity: Double? = nil, failAfter: UInt64? = nil, clock: any NanoClock = SystemClock()) {
        self.uri = uri
        self.capacity = capacity
        self.failAfter = failAfter
        self.clock = clock
        serviceNanos = capacity.map { Swift.max(1, Int64((1e9 / $0).rounded())) } ?? 0
    }

    public func open() throws {}

    /// An order-sensitive 64-bit checksum, 8 bytes per step (CRC-32 cost more than the rest of
    /// the replay at full speed): each word is mixed in multiplicatively, the length closes it.
    @inline(__always)
    public static func checksum(_ p: UnsafeRawBufferPointer, continuing h0: UInt64 = 0) -> UInt64 {
        var h = h0 ^ 0x9E37_79B9_7F4A_7C15
        var i = 0
        let n = p.count
        while i + 8 <= n {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x0000_0100_0000_01B3
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail ^ UInt64(n) << 56) &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 31)
    }

    public func send(_ message: borrowing ReplayMessage) throws {
        let payload = message.record.payload
        if let failAfter, tally.sent >= failAfter {
            lock.withLock {
                tally.sent &+= 1
                tally.bytes &+= UInt64(payload.count)
                tally.failed &+= 1
                tally.failureReasons["mock failure after \(failAfter) messages", default: 0] &+= 1
            }
            throw ReplayError(.sinkFailed, place: uri, what: "mock sink failed after \(failAfter) messages (fail_after)",
                              remedy: "drop fail_after from the URI")
        }
        checksum = Self.checksum(payload, continuing: checksum)
        if serviceNanos > 0 {
            let arrival = message.intendedNanos
            let start: Int64
            if lastDeparture > arrival {
                // Messages still in the system depart every serviceNanos until lastDeparture.
                let inSystem = Swift.min((lastDeparture - arrival + serviceNanos - 1) / serviceNanos, busyCount)
                busyCount = inSystem + 1
                start = lastDeparture
            } else {
                busyCount = 1
                start = arrival
            }
            let departure = start + serviceNanos
            lastDeparture = departure
            let depth = busyCount
            let first = firstIntended ?? arrival
            if firstIntended == nil { firstIntended = arrival }
            let second = Int((arrival - first) / 1_000_000_000)
            lock.withLock {
                if depth > maxDepth { maxDepth = depth }
                if second >= 0, second < 1_000_000 {
                    while depthTimeline.count <= second { depthTimeline.append(0) }
                    if depth > depthTimeline[second] { depthTimeline[second] = depth }
                }
                waitHistogram.record(start - arrival)
                tally.sent &+= 1
                tally.delivered &+= 1
                tally.bytes &+= UInt64(payload.count)
                fromIntended.record(departure - message.intendedNanos)
                fromActual.record(departure - message.actualNanos)
            }
        } else {
            let now = clock.monotonicNanos()
            lock.withLock {
                tally.sent &+= 1
                tally.delivered &+= 1
                tally.bytes &+= UInt64(payload.count)
                fromIntended.record(now - message.intendedNanos)
                fromActual.record(now - message.actualNanos)
            }
        }
    }

    public func finish(timeoutNanos: Int64) throws {}

    public var counts: SinkCounts { lock.withLock { tally } }

    /// The per-second maximum queue depth (capacity mode).
    public var queueDepthTimeline: [Int64] { lock.withLock { depthTimeline } }
    public var maxQueueDepth: Int64 { lock.withLock { maxDepth } }

    public var stats: SinkStats {
        lock.withLock {
            var details: [(String, JSONValue)] = [("checksum", .string(String(checksum, radix: 16)))]
            if let capacity {
                details.append(("capacity_msg_per_s", .number(TimeText.fixed(capacity, 3))))
                details.append(("queue_depth_max", .number(String(maxDepth))))
                details.append(("queue_wait_ns", .object([
                    ("p50", .number(String(waitHistogram.valueAtPercentile(50)))),
                    ("p99", .number(String(waitHistogram.valueAtPercentile(99)))),
                    ("max", .number(String(waitHistogram.max))),
                ])))
                details.append(("queue_depth_per_second", .array(depthTimeline.map { .number(String($0)) })))
            }
            return SinkStats(counts: tally, latencyFromIntended: fromIntended, latencyFromActual: fromActual, details: details)
        }
    }
}

public enum MockSinkMaker: SinkMaker {
    public static let schemes = ["mock"]
    public static let usage = "mock://[?capacity=MSG_PER_S][&fail_after=N]  in-process: counts, checksums; capacity models a slow consumer"

    public static func make(_ uri: SinkURI, options: SinkOptions) throws -> any ReplaySink {
        try uri.checkParameters(["capacity", "fail_after"])
        guard uri.authority.isEmpty, uri.path.isEmpty || uri.path == "/" else {
            throw ReplayError(.invalidArgument, place: uri.text, what: "mock:// takes no host or path",
                              remedy: "write mock:// or mock://?capacity=138")
        }
        let failAfter = try uri.positiveNumber("fail_after").map { UInt64($0) }
        return MockSink(uri: uri.text, capacity: try uri.positiveNumber("capacity"), failAfter: failAfter, clock: options.clock)
    }
}
