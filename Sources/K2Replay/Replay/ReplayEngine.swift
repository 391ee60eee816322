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
package final class ReplayEngine: @unchecked Sendable {
    // unchecked: runs on one thread; only the atomic stop flag is touched from others.
    package let config: ReplayConfig
    package let sinks: [any ReplaySink]
    private let clock: any NanoClock
    /// Set by `requestStop` from any thread, read on every message: an atomic word (like the
    /// signal flag), not a mutex, to keep the per-message check at one load.
    private let stopFlag = StopFlag()
    private var manualWaiter: ManualWaiter?

    /// `clock` gives the wall start time; the monotonic clock of `SystemClock` paces, unless
    /// a `ManualWaiter` is given (tests), whose `ManualClock` then paces.
    package init(config: ReplayConfig, sinks: [any ReplaySink], clock: any NanoClock = SystemClock(), waiter: ManualWaiter? = nil) {
        self.config = config
        self.sinks = sinks
        self.clock = clock
        manualWaiter = waiter
    }

    /// Asks the engine to stop sending (thread-safe; e.g. from a signal watcher).
    package func requestStop() {
        stopFlag.set()
    }

    @inline(__always)
    var shouldStop: Bool { StopSignals.received.isSet || stopFlag.isSet }

    /// At `--speed max` the engine reads the clock once per this many messages (a power of two):
    /// message `sequence` is stamped fresh when `sequence % maxStampEvery == 0`, the others of
    /// its batch carry that stamp. There is no schedule at max, so there is no lateness to
    /// measure; the stamps only feed the sending time, progress and the sinks' sampled latency.
    package static let maxStampEvery: UInt64 = 64

    /// Runs the replay on a new thread and waits for it.
    package func runOnDedicatedThread(progress: ((ReplayProgress) -> Void)? = nil) throws -> ReplaySummary {
        let job = ThreadJob { [self] in try self.run(progress: progress) }
        guard let thread = JoinableThread.start({ job.result = Result { try job.body() } }) else {
            return try run(progress: progress)
        }
        thread.join()
        return try job.result!.get()
    }

    /// Opens the captures and sinks, replays, finishes the sinks and returns the summary.
    /// Throws (before anything is sent) for unreadable captures or sinks that fail to open.
    package func run(progress: ((ReplayProgress) -> Void)? = nil) throws -> ReplaySummary {
        guard config.source != nil || !config.files.isEmpty else {
            throw ReplayError(.invalidArgument, what: "no capture file given", remedy: "name one or more .k2cap files")
        }
        guard config.loops >= 1 else {
            throw ReplayError(.invalidArgument, what: "--loop \(config.loops) must be ≥ 1", remedy: "write e.g. --loop 3")
        }
        if let priority = config.realtimePriority, !(1...99).contains(priority) {
            // Checked at every pace (at max it is not used, but a bad value is still a mistake).
            throw ReplayError(.invalidArgument, what: "--realtime \(priority) is not a SCHED_FIFO priority", remedy: "use 1 … 99, e.g. --realtime 10")
        }
        if manualWaiter == nil, config.pace != .max {
            // This thread sends: sleeps that end on time, and the scheduling class asked for.
            SpinWaiter.reduceTimerSlack()
            if let priority = config.realtimePriority { try Self.raiseToRealtime(priority) }
        }
        if let factory = config.source {
            // The existential is opened once here; the loop is generic over the source's type
            // (specialized for capture files, witness calls per record for other sources).
            return try start(try factory.make(), progress)
        }
        let captures = try RecordSource(
            paths: config.files, filter: config.filter, readAhead: config.readAhead,
            maxChains: config.maxOverlappingChains, skipsDamagedFrames: config.allowTorn)
        if let (path, damage) = captures.damage.first, !config.allowTorn {
            throw ReplayError(
                .damagedInput, place: path, what: "\(damage)",
                remedy: damage.kind == .tornTail
                    ? "nothing was sent; replay the intact frames with --allow-torn, or cut the tail for good with `k2 capture reindex \(path)`"
                    : "nothing was sent; replay every intact frame before and after it with --allow-torn; `k2 capture verify \(path)` checks the file"
            )
        }
        var summary = try start(captures, progress)
        summary.inputDamage = captures.damage.filter { $0.damage.kind == .tornTail }.map { "\($0.path): \($0.damage)" }
        // Without `allowTorn` the damaged frame stopped the replay (the stop reason names it).
        let skipped = config.allowTorn ? captures.skippedFrames : (all: [], unique: [])
        summary.skippedFrames = skipped.unique.map { "\($0.path): \($0.frame.description)" }
        summary.recordsSkipped = skipped.all.reduce(0) { $0 &+ UInt64($1.frame.records ?? 0) }
        if !skipped.unique.isEmpty, summary.outcome == .completed {
            let lost =
                skipped.unique.contains { $0.frame.records == nil }
                ? "records lost, not all counted: no seek index" : "\(summary.recordsSkipped) records lost"
            summary.outcome = .damagedInput
            summary.stopReason =
                "skipped \(skipped.unique.count) damaged frame(s) (\(lost)); every intact frame was replayed (--allow-torn)"
        }
        return summary
    }

    /// The stop reason of a replay that met the damaged frame `error` without `allowTorn`.
    static func damagedFrameReason(_ error: CaptureError) -> String {
        "\(error.place): \(error.what) — the replay stopped at this frame; --allow-torn replays every intact frame before and after it, "
            + "`k2 capture verify \(error.path ?? "FILE")` checks the whole file"
    }

    private func start<S: ReplaySource>(_ source: S, _ progress: ((ReplayProgress) -> Void)?) throws -> ReplaySummary {
        try Self.checkScheduleRange(span: source.span, loops: config.loops, pace: config.pace)
        for sink in sinks { try sink.open() }
        for sink in sinks { sink.willStart(pace: config.pace) }
        if var waiter = manualWaiter {
            return try replay(source, &waiter, progress)
        }
        var waiter = SpinWaiter(spinNanos: config.spinNanos)
        return try replay(source, &waiter, progress)
    }

    private func replay<S: ReplaySource, W: PaceWaiter>(
        _ source: S, _ waiter: inout W,
        _ progress: ((ReplayProgress) -> Void)?
    ) throws -> ReplaySummary {
        let startWall = clock.wallNanos()
        let kinds = config.kinds
        var kindAllowed = [Bool](repeating: false, count: 256)
        for k in kinds { kindAllowed[Int(k.rawValue)] = true }
        let filter = config.filter
        let filterIsEmpty = filter.isEmpty
        let shard = config.shard
        let span = source.span
        var lateness = Histogram()
        var interval = Histogram()
        // Lateness of the current harness window (closed every `histogramIntervalNanos` after a
        // message, apart from the .hlog intervals, which wait for slack to encode).
        var windowLateness = Histogram()
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
        var stopSignal: Int32?
        var outcome = ReplayOutcome.completed
        var sinkErrors = [String?](repeating: nil, count: sinks.count)
        var lastSent = startMono
        let isMax = config.pace == .max
        let stampMask = Self.maxStampEvery &- 1
        var stamp = startMono
        // What the harness did per interval and over the run (`HarnessLoad`): sampled when an
        // interval closes (paced) or once a batch's stamp has crossed one (max), never per message.
        var sampler: HarnessSampler?
        var window = LoadWindow()
        var loads: [HarnessLoad] = []
        var runStart = LoadWindow()
        // Locals, not properties, in the loop: no exclusivity checks, no lazy-global checks.
        let sinks = self.sinks
        let sinkCount = sinks.count
        let onlySink: (any ReplaySink)? = sinkCount == 1 ? sinks[0] : nil
        let signalFlag = StopSignals.received
        let stopFlag = self.stopFlag
        let needFields = shard != nil || sinks.contains { $0.usesPayloadFields }
        let singleExchange: String? = source.singleExchange
        let totalCaptureNanos = span > 0 ? span * Int64(config.loops) : 0

        // Closing an interval encodes its histogram (~0.1 ms): done when the next message has
        // at least 1 ms of slack, or regardless once five intervals are overdue. (Written out at
        // both places rather than as a nested function: captured vars would be boxed and
        // access-checked on every message.)
        var round = 0
        var unsentCurrent: UInt64 = 0
        rounds: while round < config.loops {
            defer { round += 1 }
            try source.rewind()
            let shift = Pacer.loopShift(round: round, span: span)
            // A round that keeps nothing (a shard or filter no message matches) ends the replay:
            // looping it again would only re-read the input, deaf to a stop request.
            if round > 0 && sequence == 0 { break rounds }
            while true {
                let next: CaptureRecord?
                do {
                    next = try source.next()
                } catch let damaged as CaptureError where damaged.code == .corrupt {
                    // A damaged frame mid-file without `allowTorn` (with it, the readers skip it).
                    outcome = .damagedInput
                    stopReason = Self.damagedFrameReason(damaged)
                    break rounds
                }
                guard let record = next else { break }
                guard kindAllowed[Int(record.kind.rawValue)] else { continue }
                if !filterIsEmpty, !filter.matches(record) { continue }
                let fields: PayloadFields? = needFields ? PayloadFields.extract(record.payload) : nil
                if let shard, !shard.keeps(symbol: fields?.symbol, connection: record.connection) { continue }
                let captureNanos = record.timestamp &+ shift
                if pacer == nil {
                    startMono = waiter.now()
                    intervalStart = startMono
                    lastProgress = startMono
                    firstCapture = captureNanos
                    pacer = Pacer(pace: config.pace, captureStart: captureNanos, startNanos: startMono)
                    let newSampler = HarnessSampler()
                    sampler = newSampler
                    window = LoadWindow(
                        at: startMono, origin: startMono, sample: newSampler.sample(), waited: waiter.waitedNanos,
                        blocked: Self.blocked(sinks), sent: 0, delivered: Self.delivered(sinks))
                    runStart = window
                }
                if signalFlag.isSet || stopFlag.isSet {
                    outcome = .interrupted
                    unsentCurrent = 1
                    break rounds
                }
                let actual: Int64
                let intended: Int64
                if let due = pacer!.intended(captureNanos: captureNanos, sequence: sequence) {
                    if intervalDue {
                        let now = waiter.now()
                        if due &- now >= 1_000_000 || now &- intervalStart >= 5 &* config.histogramIntervalNanos {
                            intervals.append(Self.encodeInterval(interval, from: intervalStart, to: now, origin: startMono))
                            interval.reset()
                            intervalStart = now
                            intervalDue = false
                        }
                    }
                    actual = waiter.wait(until: due, shouldStop: { signalFlag.isSet || stopFlag.isSet })
                    if actual < due {
                        outcome = .interrupted
                        unsentCurrent = 1
                        break rounds
                    }
                    intended = due
                    lateness.record(actual &- intended)
                    interval.record(actual &- intended)
                    windowLateness.record(actual &- intended)
                    // A harness window: one getrusage and one pread, about once a second.
                    if actual &- window.startNanos >= config.histogramIntervalNanos {
                        loads.append(
                            window.close(
                                at: actual, sampler: sampler!, waited: waiter.waitedNanos, sinks: sinks, sent: sequence,
                                latenessP50: windowLateness.valueAtPercentile(50), latenessP99: windowLateness.valueAtPercentile(99),
                                budget: config.latenessBudgetNanos))
                        windowLateness.reset()
                    }
                } else {
                    // max: one clock read per batch (see `maxStampEvery`).
                    if sequence & stampMask == 0 {
                        stamp = waiter.now()
                        if stamp &- window.startNanos >= config.histogramIntervalNanos {
                            loads.append(
                                window.close(
                                    at: stamp, sampler: sampler!, waited: waiter.waitedNanos, sinks: sinks, sent: sequence,
                                    latenessP50: nil, latenessP99: nil, budget: nil))
                        }
                    }
                    actual = stamp
                    intended = stamp
                }
                let message = ReplayMessage(
                    record: record, fields: fields, sequence: sequence, captureNanos: captureNanos,
                    intendedNanos: intended, actualNanos: actual, exchange: singleExchange ?? source.exchange)
                var failed = -1
                var failure: (any Error)?
                if let onlySink {
                    do { try onlySink.send(message) } catch { failed = 0; failure = error }
                } else {
                    for i in 0..<sinkCount {
                        do { try sinks[i].send(message) } catch { failed = i; failure = error; break }
                    }
                }
                if failed >= 0 {
                    let error = failure.map { "\($0)" } ?? "unknown error"
                    sinkErrors[failed] = error
                    stopReason = "\(sinks[failed].uri) failed: \(error)"
                    outcome = .sinkFailed
                    sequence &+= 1
                    bytes &+= UInt64(record.payload.count)
                    lastCapture = captureNanos
                    lastSent = actual
                    break rounds
                }
                sequence &+= 1
                bytes &+= UInt64(record.payload.count)
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
                        case let .speed(speed): eta = Int64(Double(totalCaptureNanos - done) / speed)
                        case .max, .rate, .rates:
                            // Below 2^63 (a tiny fraction done early would overflow Int64).
                            if let completed = fraction, completed > 0, Double(elapsed) * (1 - completed) / completed < 9.2e18 {
                                eta = Int64(Double(elapsed) * (1 - completed) / completed)
                            }
                        }
                    }
                    progress(
                        ReplayProgress(
                            messages: sequence, bytes: bytes,
                            rate: Double(sequence - lastProgressCount) * 1e9 / Double(actual - lastProgress),
                            lagNanos: Swift.max(0, waiter.now() - intended), etaNanos: eta,
                            fraction: fraction, elapsedNanos: elapsed, harness: loads.last))
                    lastProgress = actual
                    lastProgressCount = sequence
                }
            }
        }
        // At max the last stamp may be up to a batch old: read the clock once more.
        let sendingEnd = isMax && sequence > 0 ? waiter.now() : lastSent
        if outcome == .interrupted {
            stopSignal = StopSignals.received.code
            switch stopSignal {
            case SIGINT?: stopReason = "stopped by SIGINT (Ctrl-C)"
            case SIGTERM?: stopReason = "stopped by SIGTERM"
            default: stopReason = "stopped by request"
            }
        }
        if !isMax, interval.totalCount > 0 {
            intervals.append(Self.encodeInterval(interval, from: intervalStart, to: waiter.now(), origin: startMono))
        }
        if !isMax, let sampler, windowLateness.totalCount > 0 {
            loads.append(
                window.close(
                    at: Swift.max(lastSent, window.startNanos), sampler: sampler, waited: waiter.waitedNanos, sinks: sinks, sent: sequence,
                    latenessP50: windowLateness.valueAtPercentile(50), latenessP99: windowLateness.valueAtPercentile(99),
                    budget: config.latenessBudgetNanos))
        } else if isMax, let sampler, sequence > window.sent {
            loads.append(
                window.close(
                    at: sendingEnd, sampler: sampler, waited: waiter.waitedNanos, sinks: sinks, sent: sequence,
                    latenessP50: nil, latenessP99: nil, budget: nil))
        }
        // The whole sending phase, before `finish` (which drains what the sinks still hold).
        var harness: HarnessLoad?
        if let sampler, sequence > 0 {
            let budget = config.latenessBudgetNanos ?? HarnessLoad.latenessBudget(messages: sequence, sendingNanos: sendingEnd &- startMono)
            harness = runStart.close(
                at: Swift.max(sendingEnd, window.startNanos), sampler: sampler, waited: waiter.waitedNanos, sinks: sinks,
                sent: sequence, latenessP50: isMax ? nil : lateness.valueAtPercentile(50),
                latenessP99: isMax ? nil : lateness.valueAtPercentile(99), budget: isMax ? nil : budget)
        }

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
            summaries.append(
                SinkSummary(
                    uri: Secrets.mask(sinks[i].uri), stats: stats, neverSent: never,
                    error: sinkErrors[i].map(Secrets.mask)))
            if outcome == .completed, stats.counts.delivered &+ stats.counts.unrouted != stats.counts.sent || never != 0 || stats.counts.dropped > 0 {
                outcome = .incomplete
                stopReason =
                    stopReason
                    ?? (stats.counts.unknown > 0
                        ? "\(sinks[i].uri) cannot tell whether \(stats.counts.unknown) message(s) landed"
                        : stats.counts.dropped > 0
                            ? "\(Secrets.mask(sinks[i].uri)) dropped \(stats.counts.dropped) message(s) meant for a client"
                            : "\(sinks[i].uri) did not deliver everything")
            }
        }
        return ReplaySummary(
            files: config.inputNames, pace: config.pace, loops: config.loops, shard: shard, outcome: outcome,
            stopReason: stopReason, startedWallNanos: startWall, durationNanos: end - startMono,
            sendingNanos: sequence > 0 ? sendingEnd - startMono : 0, messages: sequence, bytes: bytes,
            neverSent: neverSent, captureSpanNanos: firstCapture.map { lastCapture - $0 } ?? 0,
            lateness: lateness, latenessIntervals: intervals, sinks: summaries, stopSignal: stopSignal,
            realtimePriority: config.pace == .max ? nil : config.realtimePriority, harness: harness, harnessIntervals: loads)
    }

    /// Blocked time of all sinks (`ReplaySink.blockedNanos`).
    static func blocked(_ sinks: [any ReplaySink]) -> Int64 {
        sinks.reduce(0) { $0 &+ $1.blockedNanos }
    }

    /// What the slowest sink has delivered or left unrouted so far.
    static func delivered(_ sinks: [any ReplaySink]) -> UInt64 {
        sinks.map { sink in
            let counts = sink.counts; return counts.delivered &+ counts.unrouted
        }.min() ?? 0
    }

    /// The start of a `HarnessLoad` window: the counters as they were.
    struct LoadWindow {
        var startNanos: Int64 = 0
        var origin: Int64 = 0
        var sample = HarnessSampler.Sample(cpuNanos: 0, runQueueNanos: nil)
        var waited: Int64 = 0
        var blocked: Int64 = 0
        var sent: UInt64 = 0
        var delivered: UInt64 = 0

        init() {}

        init(at start: Int64, origin: Int64, sample: HarnessSampler.Sample, waited: Int64, blocked: Int64, sent: UInt64, delivered: UInt64) {
            startNanos = start
            self.origin = origin
            self.sample = sample
            self.waited = waited
            self.blocked = blocked
            self.sent = sent
            self.delivered = delivered
        }

        /// The window from its start to `now`; this window then starts at `now`.
        mutating func close(
            at now: Int64, sampler: HarnessSampler, waited: Int64, sinks: [any ReplaySink], sent: UInt64,
            latenessP50: Int64?, latenessP99: Int64?, budget: Int64?
        ) -> HarnessLoad {
            let next = LoadWindow(
                at: now, origin: origin, sample: sampler.sample(), waited: waited, blocked: ReplayEngine.blocked(sinks),
                sent: sent, delivered: ReplayEngine.delivered(sinks))
            let queued = next.sample.runQueueNanos.flatMap { end in sample.runQueueNanos.map { end &- $0 } }
            let load = HarnessLoad(
                startNanos: startNanos &- origin, lengthNanos: now &- startNanos, sent: sent &- self.sent,
                delivered: next.delivered &- Swift.min(delivered, next.delivered),
                waitedNanos: waited &- self.waited, blockedNanos: next.blocked &- blocked,
                latenessP50Nanos: latenessP50, latenessP99Nanos: latenessP99,
                latenessBudgetNanos: latenessP99 == nil
                    ? nil
                    : budget ?? HarnessLoad.latenessBudget(messages: sent &- self.sent, sendingNanos: now &- startNanos),
                cpuNanos: next.sample.cpuNanos &- sample.cpuNanos, cores: sampler.cores, runQueueNanos: queued)
            self = next
            return load
        }
    }

    /// The most capture time a replay covers (rounds × span) and the longest schedule it
    /// keeps: 2^62 ns, 146 years. Capture times (before 2116) plus the `--loop` shift, and
    /// the schedule's and ETA's nanoseconds, then stay within Int64.
    static let maxScheduleNanos: Int64 = 1 << 62

    /// Refuses a `--loop` or `--speed` that would carry times past `maxScheduleNanos`.
    static func checkScheduleRange(span: Int64, loops: Int, pace: Pace) throws(ReplayError) {
        let (covered, overflow) = Swift.max(span, 0).multipliedReportingOverflow(by: Int64(loops))
        if overflow || covered > maxScheduleNanos {
            throw ReplayError(
                .invalidArgument,
                what:
                    "--loop \(loops) rounds of \(TimeText.humanDuration(nanos: span)) are more than 146 years of capture time, the most k2 schedules",
                remedy: "give at most --loop \(maxScheduleNanos / Swift.max(span, 1))")
        }
        if case let .speed(multiplier) = pace, Double(covered) / multiplier > Double(maxScheduleNanos) {
            throw ReplayError(
                .invalidArgument,
                what: "--speed \(multiplier) would take more than 146 years to replay \(TimeText.humanDuration(nanos: covered)) of capture time",
                remedy: "give a higher --speed, e.g. --speed 1")
        }
    }

    /// `SCHED_FIFO` at `priority` (1…99, checked by `run`) for the calling thread (the sending thread).
    static func raiseToRealtime(_ priority: Int32) throws {
        #if os(Linux)
        var param = sched_param()
        param.sched_priority = priority
        let rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param)
        guard rc == 0 else {
            throw ReplayError(
                .invalidArgument, what: "cannot run the sending thread under SCHED_FIFO: \(String(cString: strerror(rc)))",
                remedy: "run as root or with CAP_SYS_NICE, or drop --realtime")
        }
        #else
        throw ReplayError(.invalidArgument, what: "--realtime is supported on Linux only", remedy: "drop --realtime")
        #endif
    }

    static func encodeInterval(_ h: Histogram, from: Int64, to: Int64, origin: Int64) -> EncodedHistogramInterval {
        EncodedHistogramInterval(
            HistogramInterval(
                startSeconds: Double(from - origin) / 1e9,
                lengthSeconds: Double(to - from) / 1e9, histogram: h))
    }

    /// After a stop: the selected messages left in this round and the remaining rounds.
    private func countRest<S: ReplaySource>(_ source: S, kinds: Set<RecordKind>, filter: RecordFilter, shard: Shard?, roundsLeft: Int) throws
        -> UInt64
    {
        func countOnePass() throws -> UInt64 {
            var remaining: UInt64 = 0
            var lastDamage: CaptureError?
            while true {
                let next: CaptureRecord?
                do {
                    next = try source.next()
                } catch let damaged as CaptureError where damaged.code == .corrupt && damaged != lastDamage {
                    // The reader goes on with the frame after it (the same damage twice: it cannot); its records are not counted.
                    lastDamage = damaged
                    continue
                }
                guard let record = next else { break }
                guard kinds.contains(record.kind), filter.matches(record) else { continue }
                if let shard {
                    let fields = PayloadFields.extract(record.payload)
                    if !shard.keeps(symbol: fields.symbol, connection: record.connection) { continue }
                }
                remaining &+= 1
            }
            return remaining
        }
        var rest = try countOnePass()
        // Rounds not started: each is one full pass.
        if roundsLeft > 0 {
            try source.rewind()
            rest &+= try countOnePass() &* UInt64(roundsLeft)
        }
        return rest
    }
}

/// The work a dedicated thread runs, and its result.
private final class ThreadJob: @unchecked Sendable {
    // unchecked: `result` is written by the job's thread before join and read after it.
    let body: () throws -> ReplaySummary
    var result: Result<ReplaySummary, any Error>?
    init(_ body: @escaping () throws -> ReplaySummary) { self.body = body }
}

/// The captures, read in receive-time order, restricted to the frames the time filter needs.
///
/// A capture is read in receive-time order whatever its file order: each frame's records are
/// ordered on loading (`CaptureReader.sortsWithinFrames`), and frames whose time ranges overlap
/// (found from the index: `CaptureIndex.timeOrderedChains`) are read by one reader per chain and
/// merged by time with `MergedReader`, as several captures are. One reader when there is one
/// capture in time order (the common case: no merge on the per-record path).
final class RecordSource: ReplaySource {
    let readers: [CaptureReader]
    private let frames: [[CaptureIndex.Entry]]
    /// The capture (index into `exchanges`) each reader reads.
    private let captureOfReader: [Int]
    /// Capture span used to shift loop rounds: last − first receive time in the window, plus one mean gap.
    let span: Int64
    private let exchanges: [String]
    private var merged: MergedReader?
    /// Captures whose index scan met a torn tail (no stored index, the file cut inside a frame)
    /// or damaged frames (no stored index; the scan went past them).
    let damage: [(path: String, damage: CaptureDamage)]
    private let paths: [String]

    /// Damaged frames the readers met while iterating: `all` once per meeting (every round),
    /// `unique` once per frame; with the index scan's, once (a file without an index).
    var skippedFrames: (all: [(path: String, frame: SkippedFrame)], unique: [(path: String, frame: SkippedFrame)]) {
        var all: [(path: String, frame: SkippedFrame)] = []
        for (i, reader) in readers.enumerated() {
            all += reader.skippedFrames.map { (paths[captureOfReader[i]], $0) }
        }
        var seen = Set<String>()
        let unique = all.filter { seen.insert("\($0.path)\u{0}\($0.frame.damage.offset)").inserted }
        return (all, unique)
    }

    /// `skipsDamagedFrames`: read past a damaged frame mid-file (`CaptureReader.skipsDamagedFrames`)
    /// instead of throwing. Either way a file without a seek index is scanned past damaged
    /// frames, which are then listed in `damage` (found before anything is sent).
    init(paths: [String], filter: RecordFilter, readAhead: Bool, maxChains: Int = 16, skipsDamagedFrames: Bool = false) throws {
        var readers: [CaptureReader] = []
        var frames: [[CaptureIndex.Entry]] = []
        var captureOfReader: [Int] = []
        var exchanges: [String] = []
        var first = Int64.max
        var last = Int64.min
        var count = 0
        var damage: [(path: String, damage: CaptureDamage)] = []
        for (capture, path) in paths.enumerated() {
            let firstReader = try CaptureReader(path: path)
            firstReader.skipsDamagedFrames = true
            let index: CaptureIndex
            do throws(CaptureError) {
                index = try firstReader.index()
            } catch {
                // No seek index, and a damaged frame whose end cannot be found: nothing after it can be read.
                guard error.code == .corrupt else { throw error }
                throw ReplayError(
                    .damagedInput, place: error.place, what: error.what,
                    remedy:
                        "nothing was sent; without a seek index the frames after it cannot be found: salvage the frames before it with `k2 capture slice --to`"
                )
            }
            if let torn = firstReader.damage { damage.append((path, torn)) }
            for frame in firstReader.skippedFrames { damage.append((path, frame.damage)) }
            firstReader.skipsDamagedFrames = skipsDamagedFrames
            exchanges.append(firstReader.header.metadataValue("exchange")?.stringValue ?? "unknown")
            if let fileFirst = index.firstTimestamp, let fileLast = index.lastTimestamp {
                let lo = Swift.max(fileFirst, filter.from ?? fileFirst)
                let hi = Swift.min(fileLast, filter.to ?? fileLast)
                first = Swift.min(first, lo)
                last = Swift.max(last, hi)
            }
            count += index.recordCount
            // All frames come from the index (the reader then reads each frame's exact size
            // instead of probing 512 KiB and parsing the zstd header); a time window takes only
            // the frames overlapping it.
            let wanted =
                filter.from != nil || filter.to != nil
                ? index.frames(overlapping: filter.from ?? .min, filter.to ?? .max).map { index.entries[$0] }
                : index.entries
            let chains = index.timeOrderedChains(of: wanted)
            if chains.count > maxChains {
                throw ReplayError(
                    .invalidArgument, place: path,
                    what:
                        "records are not in receive-time order (\(chains.count) stretches of the file overlap in time; replay merges at most \(maxChains))",
                    remedy: "sort it first: k2 capture sort \(path) -o \(Self.sortedName(path)), then replay that")
            }
            for (k, chain) in chains.enumerated() {
                let reader = k == 0 ? firstReader : try CaptureReader(path: path)
                reader.skipsDamagedFrames = skipsDamagedFrames
                // The next block is decompressed on another thread: a paced send never waits for it.
                reader.readAhead = readAhead
                reader.sortsWithinFrames = true
                readers.append(reader)
                frames.append(chain)
                captureOfReader.append(capture)
            }
            if chains.isEmpty {
                firstReader.sortsWithinFrames = true
                readers.append(firstReader)
                frames.append([])
                captureOfReader.append(capture)
            }
        }
        self.paths = paths
        self.readers = readers
        self.frames = frames
        self.captureOfReader = captureOfReader
        self.exchanges = exchanges
        self.damage = damage
        if last > first {
            let raw = last - first
            span = raw + (count > 1 ? raw / Int64(count - 1) : 0)
        } else {
            span = 1
        }
    }

    /// `day.k2cap` → `day.sorted.k2cap`: the output the refusal suggests.
    static func sortedName(_ path: String) -> String {
        path.hasSuffix(".k2cap") ? String(path.dropLast(6)) + ".sorted.k2cap" : path + ".sorted.k2cap"
    }

    /// Back to the start (of the time window) of every capture.
    func rewind() {
        for (i, r) in readers.enumerated() { r.restrict(to: frames[i]) }
        merged = readers.count > 1 ? MergedReader(readers: readers) : nil
        merged?.fileGroups = captureOfReader
    }

    @inline(__always)
    func next() throws -> CaptureRecord? {
        if let merged { return try merged.next() }
        return try readers[0].next()
    }

    /// The venue of every record when there is one capture.
    var singleExchange: String? { exchanges.count == 1 ? exchanges[0] : nil }

    /// The venue of the capture the last record came from.
    @inline(__always)
    var exchange: String {
        if let merged, merged.currentSource >= 0 { return exchanges[captureOfReader[merged.currentSource]] }
        return exchanges[0]
    }
}
