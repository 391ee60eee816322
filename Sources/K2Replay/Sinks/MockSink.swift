import K2Capture
import K2Core

/// `mock://` — an in-process sink that counts, checksums and times what it gets, optionally
/// modelling a slow downstream.
///
/// - `mock://` delivers every message at once: latency from intended ≈ the engine's lateness.
///   At `--speed max` it times one message in 64 (`latency_sampled_one_in` in its summary);
///   it counts and checksums every one.
/// - `mock://?capacity=N` models a consumer serving at most N msg/s from an unbounded FIFO queue,
///   in virtual time (nothing sleeps): a message arrives at its *intended* send time, starts
///   service when the previous one is done, takes 1/N s. Its delivery is the end of service,
///   so `latencyFromIntended` is queueing + service latency. Queue depth (messages waiting or in
///   service, seen at each arrival) is reported as a maximum and a per-second timeline.
///   While the replay runs, `counts.delivered` holds the messages whose service has ended by
///   the clock's now (the rest is backlog, as for a real sink waiting for acknowledgements), so
///   a rate above N shows as delivered < sent and a growing backlog interval after interval;
///   `finish` runs the virtual queue to its end (everything delivered).
/// - `mock://?fail_after=K` accepts K messages and then fails (throws from `send`), to exercise the
///   engine's abort accounting.
package final class MockSink: ReplaySink {
    package let uri: String
    package let capacity: Double?
    let failAfter: UInt64?

    private let clock: any NanoClock
    private let lock = Lock()
    /// Messages refused by `fail_after` (sent and failed, with the reason), under `lock`.
    private var refused = SinkCounts()
    private var fromIntended = Histogram()
    private var fromActual = Histogram()

    /// Written by the sending thread only, without a lock (one word each, like the engine's
    /// stop flag): accepted messages, their bytes, the running checksum. Exact after `finish`;
    /// read from another thread while a replay runs they may lag by a message.
    private struct Hot {
        var delivered: UInt64 = 0
        var bytes: UInt64 = 0
        var checksum: UInt64 = 0
        /// Capacity mode: the last accepted message's departure (virtual, the clock's ns) and
        /// how many messages were in the system at its arrival (it included).
        var lastDeparture: Int64 = .min
        var inSystem: Int64 = 0
        /// Capacity mode: set by `finish`: the virtual queue ran to its end.
        var drained = false
    }
    private let hot: UnsafeMutablePointer<Hot> = {
        let storage = UnsafeMutablePointer<Hot>.allocate(capacity: 1)
        storage.initialize(to: Hot())
        return storage
    }()
    /// In instant mode, time messages whose `sequence & timingMask == 0`: every message when
    /// paced, one in `ReplayEngine.maxStampEvery` at `--speed max` (set by `willStart`).
    private var timingMask: UInt64 = 0

    /// A 64-bit checksum over every payload accepted, in order (`MockSink.checksum(_:continuing:)`).
    package var checksum: UInt64 { hot.pointee.checksum }

    // Virtual queue state (capacity mode; the departure and occupancy are in `hot`).
    private let serviceNanos: Int64
    private var maxDepth: Int64 = 0
    private var waitHistogram = Histogram()
    /// Per second of the replay schedule: the largest queue depth an arrival saw.
    private var depthTimeline: [Int64] = []
    private var firstIntended: Int64?

    package init(uri: String = "mock://", capacity: Double? = nil, failAfter: UInt64? = nil, clock: any NanoClock = SystemClock()) {
        self.uri = uri
        self.capacity = capacity
        self.failAfter = failAfter
        self.clock = clock
        serviceNanos = capacity.map { Swift.max(1, Int64((1e9 / $0).rounded())) } ?? 0
    }

    deinit { hot.deallocate() }

    package func open() throws {}

    /// The mock never reads `message.fields`: the engine may skip extracting them.
    package var usesPayloadFields: Bool { false }

    /// At `--speed max` (no schedule, batch clock stamps) the instant mode times one message in
    /// `ReplayEngine.maxStampEvery` — the one with a fresh engine stamp — instead of every one.
    package func willStart(pace: Pace) {
        timingMask = pace == .max ? ReplayEngine.maxStampEvery &- 1 : 0
    }

    /// An order-sensitive 64-bit checksum of every byte: four independent lanes take 32 bytes
    /// per step (each 8-byte word xor-ed in, multiplied, folded), so the dependency chains run
    /// in parallel; the remaining words go through lane 0, the last 1–7 bytes as one
    /// zero-extended word; the length and the lanes are mixed at the end. Continuing from the
    /// previous payload's value makes the whole stream order-sensitive.
    @inline(__always)
    package static func checksum(_ p: UnsafeRawBufferPointer, continuing h0: UInt64 = 0) -> UInt64 {
        let multiplier: UInt64 = 0x0000_0100_0000_01B3
        var lane0 = h0 ^ 0x9E37_79B9_7F4A_7C15
        let length = p.count
        guard length > 0, let base = p.baseAddress else {
            lane0 = (lane0 ^ 0xFF) &* 0xBF58_476D_1CE4_E5B9
            return lane0 ^ (lane0 >> 31)
        }
        var lane1: UInt64 = 0x6A09_E667_F3BC_C908
        var lane2: UInt64 = 0xBB67_AE85_84CA_A73B
        var lane3: UInt64 = 0x3C6E_F372_FE94_F82B
        var offset = 0
        while offset &+ 32 <= length {
            lane0 = (lane0 ^ base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* multiplier
            lane1 = (lane1 ^ base.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt64.self)) &* multiplier
            lane2 = (lane2 ^ base.loadUnaligned(fromByteOffset: offset &+ 16, as: UInt64.self)) &* multiplier
            lane3 = (lane3 ^ base.loadUnaligned(fromByteOffset: offset &+ 24, as: UInt64.self)) &* multiplier
            lane0 ^= lane0 >> 29
            lane1 ^= lane1 >> 29
            lane2 ^= lane2 >> 29
            lane3 ^= lane3 >> 29
            offset &+= 32
        }
        while offset &+ 8 <= length {
            lane0 = (lane0 ^ base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* multiplier
            lane0 ^= lane0 >> 29
            offset &+= 8
        }
        var tail: UInt64 = 0
        let rest = length &- offset
        if rest > 0 {
            if length >= 8 {
                // The last 8 bytes, shifted so only the `rest` unread ones remain.
                tail = base.loadUnaligned(fromByteOffset: length &- 8, as: UInt64.self) >> UInt64(8 &* (8 &- rest))
            } else {
                var shift: UInt64 = 0
                while offset < length {
                    tail |= UInt64(base.load(fromByteOffset: offset, as: UInt8.self)) << shift
                    shift &+= 8
                    offset &+= 1
                }
            }
        }
        var hash = (lane0 ^ tail ^ UInt64(truncatingIfNeeded: length) << 56) &* 0xBF58_476D_1CE4_E5B9
        // Each lane enters through a bijection (odd multiplier, rotation): a change in any one lane shows.
        hash ^= (lane1 &* 0x94D0_49BB_1331_11EB) ^ (lane2 &* 0xD6E8_FEB8_6659_FD93) ^ (lane3 << 11 | lane3 >> 53)
        hash = (hash ^ (hash >> 31)) &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 29)
    }

    package func send(_ message: borrowing ReplayMessage) throws {
        let payload = message.record.payload
        if let failAfter, hot.pointee.delivered &+ refused.sent >= failAfter {
            lock.withLock {
                refused.sent &+= 1
                refused.bytes &+= UInt64(payload.count)
                refused.failed &+= 1
                refused.failureReasons["mock failure after \(failAfter) messages", default: 0] &+= 1
            }
            throw ReplayError(
                .sinkFailed, place: uri, what: "mock sink failed after \(failAfter) messages (fail_after)",
                remedy: "drop fail_after from the URI")
        }
        let hotState = hot
        hotState.pointee.checksum = Self.checksum(payload, continuing: hotState.pointee.checksum)
        if serviceNanos > 0 {
            let arrival = message.intendedNanos
            let start: Int64
            let lastDeparture = hotState.pointee.lastDeparture
            if lastDeparture > arrival {
                // Messages still in the system depart every serviceNanos until lastDeparture.
                let inSystem = Swift.min((lastDeparture - arrival + serviceNanos - 1) / serviceNanos, hotState.pointee.inSystem)
                hotState.pointee.inSystem = inSystem + 1
                start = lastDeparture
            } else {
                hotState.pointee.inSystem = 1
                start = arrival
            }
            let departure = start + serviceNanos
            hotState.pointee.lastDeparture = departure
            let depth = hotState.pointee.inSystem
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
                fromIntended.record(departure - message.intendedNanos)
                fromActual.record(departure - message.actualNanos)
            }
        } else if message.sequence & timingMask == 0 {
            let now = clock.monotonicNanos()
            let intended = message.intendedNanos
            let actual = message.actualNanos
            lock.withLock {
                fromIntended.record(now - intended)
                fromActual.record(now - actual)
            }
        }
        hotState.pointee.delivered &+= 1
        hotState.pointee.bytes &+= UInt64(payload.count)
    }

    package func finish(timeoutNanos: Int64) throws {
        hot.pointee.drained = true
    }

    package var counts: SinkCounts {
        let hotState = hot.pointee
        var total = lock.withLock { refused }
        var done = hotState.delivered
        if serviceNanos > 0, !hotState.drained, hotState.lastDeparture != .min {
            // Still in service or waiting at now: they depart one per serviceNanos until lastDeparture.
            let now = clock.monotonicNanos()
            if hotState.lastDeparture > now {
                let waiting = Swift.min((hotState.lastDeparture - now + serviceNanos - 1) / serviceNanos, hotState.inSystem)
                done &-= UInt64(Swift.max(0, Swift.min(waiting, Int64(done))))
            }
        }
        total.sent &+= hotState.delivered
        total.delivered &+= done
        total.bytes &+= hotState.bytes
        return total
    }

    /// The per-second maximum queue depth (capacity mode).
    package var queueDepthTimeline: [Int64] { lock.withLock { depthTimeline } }
    package var maxQueueDepth: Int64 { lock.withLock { maxDepth } }

    package var stats: SinkStats {
        let counts = self.counts
        let sum = checksum
        return lock.withLock {
            var details: [(String, JSONValue)] = [("checksum", .string(String(sum, radix: 16)))]
            if timingMask != 0 {
                details.append(("latency_sampled_one_in", .number(String(timingMask &+ 1))))
            }
            if let capacity {
                details.append(("capacity_msg_per_s", .number(TimeText.fixed(capacity, 3))))
                details.append(("queue_depth_max", .number(String(maxDepth))))
                details.append(
                    (
                        "queue_wait_ns",
                        .object([
                            ("p50", .number(String(waitHistogram.valueAtPercentile(50)))),
                            ("p99", .number(String(waitHistogram.valueAtPercentile(99)))),
                            ("max", .number(String(waitHistogram.max))),
                        ])
                    ))
                details.append(("queue_depth_per_second", .array(depthTimeline.map { .number(String($0)) })))
            }
            return SinkStats(counts: counts, latencyFromIntended: fromIntended, latencyFromActual: fromActual, details: details)
        }
    }
}

enum MockSinkMaker: SinkMaker {
    static let schemes = ["mock"]
    static let usage = "mock://[?capacity=MSG_PER_S][&fail_after=N]  in-process: counts, checksums; capacity models a slow consumer"

    static func make(_ uri: SinkURI, options: SinkOptions) throws -> any ReplaySink {
        try uri.checkParameters(["capacity", "fail_after"])
        guard uri.authority.isEmpty, uri.path.isEmpty || uri.path == "/" else {
            throw ReplayError(
                .invalidArgument, place: uri.text, what: "mock:// takes no host or path",
                remedy: "write mock:// or mock://?capacity=138")
        }
        let failAfter = try uri.positiveNumber("fail_after").map { UInt64($0) }
        return MockSink(uri: uri.text, capacity: try uri.positiveNumber("capacity"), failAfter: failAfter, clock: options.clock)
    }
}
