import K2Capture
import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The paced replay: reads the captures in receive-time order, keeps the selected messages,
/// schedules each with a `Pacer`, waits for its intended time, hands it to every sink and
/// measures lateness (actual − intended) into an HdrHistogram. Every selected message ends up
/// counted: sent to each sink (delivered / failed / in flight there) or never sent.
///
/// `run` works on the calling thread; `runOnDedicatedThread` starts its own thread (what the CLI
/// uses, so that the sending loop never shares a thread with anything else). Per message the
/// loop allocates nothing: the record is a view into the reader's block, the fields are views
/// into the payload, the histogram is preallocated.
public final class ReplayEngine: @unchecked Sendable {
    public let config: ReplayConfig
    public let sinks: [any ReplaySink]
    private let clock: any NanoClock
    private let stopLock = Lock()
    private var stopRequested = false
    private var manualWaiter: ManualWaiter?

    /// `clock` gives the wall start time; the monotonic clock of `SystemClock` paces, unless
    /// a `ManualWaiter` is given (tests), whose `ManualClock` then paces.
    public init(config: ReplayConfig, sinks: [any ReplaySink], clock: any NanoClock = SystemClock(), waiter: ManualWaiter? = nil) {
        self.config = config
        self.sinks = sinks
        self.clock = clock
        manualWaiter = waiter
    }

    /// Asks the engine to stop sending (thread-safe; e.g. from a signal watcher).
    public func requestStop() {
        stopLock.withLock { stopRequested = true }
    }

    var shouldStop: Bool { ReplayInterrupt.requested || stopLock.withLock { stopRequested } }

    /// Runs the replay on a new thread and waits for it.
    public func runOnDedicatedThread(progress: ((ReplayProgress) -> Void)? = nil) throws -> ReplaySummary {
        let job = ThreadJob { [self] in try self.run(progress: progress) }
        let ctx = Unmanaged.passRetained(job).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            let job = Unmanaged<ThreadJob>.fromOpaque(arg).takeRetainedValue()
            job.result = Result { try job.body() }
            return nil
        }, ctx)
        if rc != 0 {
            Unmanaged<ThreadJob>.fromOpaque(ctx).release()
            return try run(progress: progress)
        }
        pthread_join(thread, nil)
        return try job.result!.get()
    }

    /// Opens the captures and sinks, replays, finishes the sinks and returns the summary.
    /// Throws (before anything is sent) for unreadable captures or sinks that fail to open.
    public func run(progress: ((ReplayProgress) -> Void)? = nil) throws -> ReplaySummary {
        guard !config.files.isEmpty else {
            throw ReplayError(.invalidArgument, what: "no capture file given", remedy: "name one or more .k2cap files")
        }
        guard config.loops >= 1 else {
            throw ReplayError(.invalidArgument, what: "--loop \(config.loops) must be ≥ 1", remedy: "write e.g. --loop 3")
        }
        let source = try RecordSource(paths: config.files, filter: config.filter)
        for sink in sinks { try sink.open() }
        if var w = manualWaiter {
            return try replay(source, &w, progress)
        }
        var w = SpinWaiter(spinNanos: config.spinNanos)
        return try replay(source, &w, progress)
    }

    private func replay<W: PaceWaiter>(_ source: RecordSource, _ waiter: inout W,
                                       _ progress: ((ReplayProgress) -> Void)?) throws -> ReplaySummary {
        let startWall = clock.wallNanos()
        let kinds = config.kinds
        let filter = config.filter
        let filterIsEmpty = filter.isEmpty
        let shard = config.shard
        let span = source.span
        var lateness = Histogram()
        var interval = Histogram()
        var intervals: [EncodedHistogramInterval] = []
        var intervalDue = false
        var sequence: UInt64 = 0
        var bytes: UInt64 = 0
        var firstCapture: Int64?
        var lastCapture: Int64 = 0
        var pacer: Pacer?
        var startMono = waiter.now()
        var lastProgress = startMono
        var lastProgressCount: UInt64 = 0
        var intervalStart = startMono
        var stopReason: String?
        var outcome = ReplayOutcome.completed
        var sinkErrors = [String?](repeating: nil, count: sinks.count)
        var lastSent = startMono
        let isMax = config.pace == .max
        let totalCaptureNanos = span > 0 ? span * Int64(config.loops) : 0

        // Closing an interval encodes its histogram (~0.1 ms): done when the next message has
        // at least 1 ms of slack, or regardless once five intervals are overdue.
        func closeInterval(_ now: Int64) {
            intervals.append(EncodedHistogramInterval(HistogramInterval(
                startSeconds: Double(intervalStart - startMono) / 1e9,
                lengthSeconds: Double(now - intervalStart) / 1e9, histogram: interval)))
            interval.reset()
            intervalStart = now
            intervalDue = false
        }

        var round = 0
        var unsentCurrent: UInt64 = 0
        rounds: while round < config.loops {
            defer { round += 1 }
            source.rewind()
            let shift = Pacer.loopShift(round: round, span: span)
            while let r = try source.next() {
                guard kinds.contains(r.kind) else { continue }
                if !filterIsEmpty, !filter.matches(r) { continue }
                let fields = PayloadFields.extract(r.payload)
                if let shard, !shard.keeps(symbol: fields.symbol, connection: r.connection) { continue }
                let captureNanos = r.timestamp &+ shift
                if pacer == nil {
                    startMono = waiter.now()
                    intervalStart = startMono
                    lastProgress = startMono
                    firstCapture = captureNanos
                    pacer = Pacer(pace: config.pace, captureStart: captureNanos, startNanos: startMono)
                }
                if shouldStop {
                    stopReason = "stopped by request (Ctrl-C)"
                    outcome = .interrupted
                    unsentCurrent = 1
                    break rounds
                }
                let actual: Int64
                let intended: Int64
                if let due = pacer!.intended(captureNanos: captureNanos, sequence: sequence) {
                    if intervalDue {
                        let now = waiter.now()
                        if due &- now >= 1_000_000 || now &- intervalStart >= 5 &* config.histogramIntervalNanos { closeInterval(now) }
                    }
                    actual = waiter.wait(until: due, shouldStop: { shouldStop })
                    if actual < due {
                        stopReason = "stopped by request (Ctrl-C)"
                        outcome = .interrupted
                        unsentCurrent = 1
                        break rounds
                    }
                    intended = due
                    lateness.record(actual &- intended)
                    interval.record(actual &- intended)
                } else {
                    actual = waiter.now()
                    intended = actual
                }
                let message = ReplayMessage(record: r, fields: fields, sequence: sequence, captureNanos: captureNanos,
                                            intendedNanos: intended, actualNanos: actual, exchange: source.exchange)
                for i in sinks.indices {
                    do {
                        try sinks[i].send(message)
                    } catch {
                        sinkErrors[i] = "\(error)"
                        stopReason = "\(sinks[i].uri) failed: \(error)"
                        outcome = .sinkFailed
                        sequence &+= 1
                        bytes &+= UInt64(r.payload.count)
                        lastCapture = captureNanos
                        lastSent = actual
                        break rounds
                    }
                }
                sequence &+= 1
                bytes &+= UInt64(r.payload.count)
                lastCapture = captureNanos
                lastSent = actual
                if !isMax, actual &- intervalStart >= config.histogramIntervalNanos { intervalDue = true }
                if let progress, actual &- lastProgress >= config.progressIntervalNanos {
                    let elapsed = actual - startMono
                    let done = captureNanos - (firstCapture ?? captureNanos)
                    var eta: Int64?
                    var fraction: Double?
                    if totalCaptureNanos > 0 {
                        fraction = Swift.min(1, Double(done) / Double(totalCaptureNanos))
                        switch config.pace {
                        case let .speed(s): eta = Int64(Double(totalCaptureNanos - done) / s)
                        case .max, .rate:
                            if let f = fraction, f > 0 { eta = Int64(Double(elapsed) * (1 - f) / f) }
                        }
                    }
                    progress(ReplayProgress(messages: sequence, bytes: bytes,
                                            rate: Double(sequence - lastProgressCount) * 1e9 / Double(actual - lastProgress),
                                            lagNanos: Swift.max(0, waiter.now() - intended), etaNanos: eta,
                                            fraction: fraction, elapsedNanos: elapsed))
                    lastProgress = actual
                    lastProgressCount = sequence
                }
            }
        }
        let sendingEnd = lastSent
        if !isMax, interval.totalCount > 0 { closeInterval(waiter.now()) }

        // Count what was selected but never handed over (the message a sink failed on was handed over).
        var neverSent: UInt64 = 0
        if outcome != .completed, config.countUnsentOnStop {
            neverSent = try countRest(source, kinds: kinds, filter: filter, shard: shard, roundsLeft: config.loops - round) &+ unsentCurrent
        }

        // Finish every sink, even after a failure: flush what is queued.
        for i in sinks.indices {
            do {
                try sinks[i].finish(timeoutNanos: config.finishTimeoutNanos)
            } catch {
                if sinkErrors[i] == nil { sinkErrors[i] = "finish: \(error)" }
            }
        }
        let end = waiter.now()
        let total = sequence &+ neverSent
        var summaries: [SinkSummary] = []
        for i in sinks.indices {
            let stats = sinks[i].stats
            let never = total &- stats.counts.sent
            summaries.append(SinkSummary(uri: sinks[i].uri, stats: stats, neverSent: never, error: sinkErrors[i]))
            if outcome == .completed, stats.counts.delivered != stats.counts.sent || never != 0 {
                outcome = .incomplete
                stopReason = stopReason ?? "\(sinks[i].uri) did not deliver everything"
            }
        }
        return ReplaySummary(
            files: config.files, pace: config.pace, loops: config.loops, shard: shard, outcome: outcome,
            stopReason: stopReason, startedWallNanos: startWall, durationNanos: end - startMono,
            sendingNanos: sequence > 0 ? sendingEnd - startMono : 0, messages: sequence, bytes: bytes,
            neverSent: neverSent, captureSpanNanos: firstCapture.map { lastCapture - $0 } ?? 0,
            lateness: lateness, latenessIntervals: intervals, sinks: summaries)
    }

    /// After a stop: the selected messages left in this round and the remaining rounds.
    private func countRest(_ source: RecordSource, kinds: Set<RecordKind>, filter: RecordFilter, shard: Shard?, roundsLeft: Int) throws -> UInt64 {
        func countOnePass() throws -> UInt64 {
            var n: UInt64 = 0
            while let r = try source.next() {
                guard kinds.contains(r.kind), filter.matches(r) else { continue }
                if let shard {
                    let f = PayloadFields.extract(r.payload)
                    if !shard.keeps(symbol: f.symbol, connection: r.connection) { continue }
                }
                n &+= 1
            }
            return n
        }
        var rest = try countOnePass()
        // Rounds not started: each is one full pass.
        if roundsLeft > 0 {
            source.rewind()
            rest &+= try countOnePass() &* UInt64(roundsLeft)
        }
        return rest
    }
}

/// The work a dedicated thread runs, and its result.
private final class ThreadJob: @unchecked Sendable {
    let body: () throws -> ReplaySummary
    var result: Result<ReplaySummary, any Error>?
    init(_ body: @escaping () throws -> ReplaySummary) { self.body = body }
}

/// The captures, read in receive-time order (one reader directly, several through
/// `MergedReader`), restricted to the frames the time filter needs.
final class RecordSource {
    let readers: [CaptureReader]
    private let frames: [[CaptureIndex.Entry]?]
    /// Capture span used to shift loop rounds: last − first receive time in the window, plus one mean gap.
    let span: Int64
    private let exchanges: [String]
    private var merged: MergedReader?

    init(paths: [String], filter: RecordFilter) throws {
        var readers: [CaptureReader] = []
        var frames: [[CaptureIndex.Entry]?] = []
        var first = Int64.max
        var last = Int64.min
        var count = 0
        for p in paths {
            let r = try CaptureReader(path: p)
            let index = try r.index()
            readers.append(r)
            if let f = index.firstTimestamp, let l = index.lastTimestamp {
                let lo = Swift.max(f, filter.from ?? f)
                let hi = Swift.min(l, filter.to ?? l)
                first = Swift.min(first, lo)
                last = Swift.max(last, hi)
            }
            count += index.recordCount
            if filter.from != nil || filter.to != nil {
                frames.append(index.frames(overlapping: filter.from ?? .min, filter.to ?? .max).map { index.entries[$0] })
            } else {
                frames.append(nil)
            }
        }
        self.readers = readers
        self.frames = frames
        if last > first {
            let raw = last - first
            span = raw + (count > 1 ? raw / Int64(count - 1) : 0)
        } else {
            span = 1
        }
        exchanges = readers.map { $0.header.metadataValue("exchange")?.stringValue ?? "unknown" }
    }

    /// Back to the start (of the time window) of every capture.
    func rewind() {
        for (i, r) in readers.enumerated() {
            if let f = frames[i] { r.restrict(to: f) } else { r.rewind() }
        }
        merged = readers.count > 1 ? MergedReader(readers: readers) : nil
    }

    @inline(__always)
    func next() throws -> CaptureRecord? {
        if let merged { return try merged.next() }
        return try readers[0].next()
    }

    /// The venue of the capture the last record came from.
    @inline(__always)
    var exchange: String {
        if let merged, merged.currentSource >= 0 { return exchanges[merged.currentSource] }
        return exchanges[0]
    }
}
