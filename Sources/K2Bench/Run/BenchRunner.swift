import Foundation
import K2Core
import K2Net
import K2Replay

/// What one repetition asks the replay engine to do.
package struct ReplayRequest {
    var source: Workload.Source
    var pace: Workload.Pace
    /// Warm-up + measured time: the replay stops after this long.
    var totalNanos: Int64
    /// The workload's sinks plus the harness's recorder (last).
    var sinks: [any ReplaySink]
    /// Called with the engine's progress snapshots (about twice a second), for the live metrics.
    var progress: ((ReplayProgress) -> Void)? = nil
}

/// Everything a repetition's sinks give back after the replay.
package struct SinkSetup {
    /// The workload's sinks, in workload order (the recorder is added by the runner).
    var sinks: [any ReplaySink]
    /// Latency histograms the sinks and consumers recorded, keyed `kind.basis` (ns), read after the run.
    var latencies: () -> [String: Histogram]
    /// Messages the consumer has read so far (nil without a consumer), polled every interval.
    var consumed: (() -> UInt64)?
    /// Stops consumers and probes after the replay.
    var close: () -> Void
    /// Notes for the report (e.g. probes lost).
    var notes: () -> [String]
    /// Rows landed in ClickHouse so far this repetition (pipeline workloads), read every interval,
    /// and the index of the Kafka sink that feeds the pipeline.
    var landed: (() -> UInt64?)?
    var landedSink: Int = 0
    /// Metrics measured outside the sinks (e.g. rows landed in ClickHouse), read after `close`.
    var metrics: () -> [String: BenchReport.Metric] = { [:] }
    /// The workload's fault schedule: started with the replay (offsets from the start of the
    /// measured window), stopped when the replay ends (nil without `faults:`).
    var faults: FaultScheduler?
    /// The freshness probes of the measured window, read after `close` (pipeline workloads).
    var probeTimeline: (() -> [FaultRecovery.ProbePoint])?

    init(
        sinks: [any ReplaySink], latencies: @escaping () -> [String: Histogram] = { [:] },
        consumed: (() -> UInt64)? = nil, close: @escaping () -> Void = {}, notes: @escaping () -> [String] = { [] }
    ) {
        self.sinks = sinks
        self.latencies = latencies
        self.consumed = consumed
        self.close = close
        self.notes = notes
    }
}

/// Runs a workload's repetitions and builds the report. The replay itself and the sinks are
/// given as functions (the k2 command passes K2Replay's engine and sink factory), so the runner
/// is the measurement around them: recorder, interval ticker, resource sampler, assembly.
package final class BenchRunner {
    package let workload: Workload
    package var progress: ((String) -> Void)?
    /// When set, the live figures are published here every interval (`--metrics-port`).
    var metricsServer: MetricsServer?
    /// When set (wall-clock ns), the first repetition waits until then before its set-up and
    /// replay (`--start-at`): shards given the same time start together, so their load overlaps
    /// and their intervals line up for `k2 bench merge`.
    package var startAtWallNanos: Int64?
    /// When set (HOST:PORT of `k2 bench clock` or `k2 broker --control-port`), this host's clock
    /// offset from that reference is measured before the first repetition: the start time is then
    /// read on the reference's clock, and the report carries the offset for `k2 bench merge`.
    package var clockReference: String?
    private let clock = SystemClock()

    package init(workload: Workload) {
        self.workload = workload
    }

    /// The watch targets of the workload (the harness last, when on).
    package var watchTargets: [WatchTarget] {
        var targets = workload.watch.processes.map(WatchTarget.process) + workload.watch.cgroups.map(WatchTarget.cgroupPath)
        if workload.watch.harness { targets.append(.harness) }
        return targets
    }

    package struct Output {
        package var report: BenchReport
        package var intervalLogs: [String: String]
    }

    /// Runs every repetition. `makeSinks` is called once per repetition; `replay` must block until
    /// the replay ends, and returns its summary (the harness-/system-bound labels come from it).
    package func run(
        makeSinks: (Int) throws -> SinkSetup, replay: (ReplayRequest) throws -> ReplaySummary?,
        extraWatch: [WatchTarget] = []
    ) throws -> Output {
        let startedWall = clock.wallNanos()
        var reference: BenchReport.Reference?
        var runs: [BenchReport.Run] = []
        var notes: [String] = []
        var logs: [String: HistogramLogWriter] = [:]
        let targets = extraWatch + watchTargets
        let clockOffset = try clockReference.map { address -> ClockReference.Measurement in
            let measured = try ClockReference.measure(address: address)
            progress?(
                String(
                    format: "clock: %+.3f ms from the reference %@ (± %.3f ms, best of %d)", measured.offsetMs, address, measured.roundTripMs / 2,
                    measured.samples))
            return measured
        }

        for rep in 0..<workload.repetitions {
            if workload.reference == .zstd {
                progress?("reference: zstd -d …")
                let measurement = try ReferenceWorkload.zstdMeasure()
                if reference == nil { reference = .init(name: "zstd -d", values: [], unit: "MB/s", cpuValues: []) }
                reference!.values.append(measurement.mbPerSecond)
                reference!.cpuValues?.append(measurement.mbPerCPUSecond)
            }
            progress?(
                "repetition \(rep + 1)/\(workload.repetitions): \(workload.pace.text)\(workload.burst.map { Self.burstText($0) } ?? ""), warm-up \(TimeText.humanDuration(nanos: workload.warmupNanos)), measure \(TimeText.humanDuration(nanos: workload.durationNanos))"
            )
            // The barrier comes before the set-up: the consumer's and the probes' measuring windows
            // are set from the clock there. The set-up's own time then adds to the start skew,
            // which the merge reports (short for Kafka sinks; seconds for a pipeline's first probe).
            if rep == 0, let startAt = startAtWallNanos {
                // The start time is on the reference's clock: here it is that minus the offset.
                if let note = waitForStart(startAt - (clockOffset?.offsetNanos ?? 0)) { notes.append(note) }
            }
            let setup = try makeSinks(rep)
            let repWall = clock.wallNanos()
            let t0 = clock.monotonicNanos()
            let measureFrom = t0 + workload.warmupNanos
            let recorder = RunRecorder(measureFromNanos: measureFrom)
            let sampler = ResourceSampler(targets: targets, intervalNanos: workload.watch.intervalNanos)
            try sampler.check()

            // The interval ticker: closes 1 s intervals with the sinks' counts.
            // The resource sampler starts with measuring (after warm-up).
            var live: (() -> Void)?
            let lastHarness = LockedValue<HarnessLoad?>(nil)
            if let server = metricsServer {
                let name = workload.name
                live = {
                    var lat = setup.latencies()
                    lat["lateness.intended"] = recorder.latenessHistogram
                    server.update(
                        LiveMetrics.samples(
                            .init(
                                workload: name, repetition: rep, interval: recorder.intervals.last,
                                sinks: setup.sinks.map { (uri: $0.uri, counts: $0.counts) }, consumed: setup.consumed?(),
                                latencies: lat, resources: sampler.snapshot(), harness: lastHarness.value)))
                }
                live?()
            }
            let ticker = Ticker(
                recorder: recorder, sinks: setup.sinks, consumed: setup.consumed, landed: setup.landed, landedSink: setup.landedSink,
                sampler: sampler,
                measureFrom: measureFrom, end: measureFrom + workload.durationNanos, progress: progress, onInterval: live)
            let sinks = setup.sinks + [recorder]
            var replayError: (any Error)?
            var summary: ReplaySummary?
            ticker.start()
            setup.faults?.start(measureFromNanos: measureFrom)
            do {
                summary = try replay(
                    ReplayRequest(
                        source: workload.source, pace: workload.pace,
                        totalNanos: workload.warmupNanos + workload.durationNanos, sinks: sinks,
                        progress: metricsServer == nil ? nil : { snapshot in if let harness = snapshot.harness { lastHarness.value = harness } }))
            } catch {
                replayError = error
            }
            let faultWindows = setup.faults?.stop()
            ticker.stop()
            let resources = sampler.stop()
            setup.close()
            if let replayError { throw replayError }

            // Latencies: lateness from the recorder, the rest from the sinks and consumers.
            var latencies = setup.latencies()
            latencies["lateness.intended"] = recorder.latenessHistogram
            let iv = recorder.intervals
            var lat: [BenchReport.Latency] = []
            for key in latencies.keys.sorted() {
                let parts = key.split(separator: ".").map(String.init)
                lat.append(BenchReport.latency(kind: parts[0], basis: parts.count > 1 ? parts[1] : "actual", latencies[key]!))
            }
            var writer =
                logs["lateness.intended"] ?? HistogramLogWriter(startNanos: repWall, comment: "k2 bench \(workload.name): replay lateness, ns")
            for i in recorder.latenessIntervals { writer.append(i) }
            logs["lateness.intended"] = writer

            let sinkResults = setup.sinks.map { sink -> BenchReport.SinkResult in
                let counts = sink.counts
                return .init(
                    uri: sink.uri, sent: counts.sent, delivered: counts.delivered, failed: counts.failed, bytes: counts.bytes,
                    failureReasons: counts.failureReasons)
            }
            for sinkResult in sinkResults where sinkResult.failed > 0 {
                notes.append(
                    "repetition \(rep + 1): \(sinkResult.uri) failed \(sinkResult.failed) message(s): "
                        + sinkResult.failureReasons.map { "\($0.key) (\($0.value))" }.sorted().joined(separator: "; "))
            }
            notes.append(contentsOf: setup.notes().map { "repetition \(rep + 1): \($0)" })
            var metrics = Assembler.metrics(intervals: iv, latencies: latencies, resources: resources, sinkCount: setup.sinks.count)
            for (k, v) in setup.metrics() where metrics[k] == nil { metrics[k] = v }
            if let burst = workload.burst {
                let (burstMetrics, burstNotes) = Assembler.burstMetrics(intervals: iv, burst: burst)
                metrics.merge(burstMetrics) { _, new in new }
                notes.append(contentsOf: burstNotes.map { "repetition \(rep + 1): \($0)" })
            }
            var run = BenchReport.Run(
                index: rep, startedAt: TimeText.iso8601(nanos: repWall, fractionDigits: 3),
                measuredSeconds: iv.map(\.seconds).reduce(0, +), intervals: iv, latencies: lat,
                sinks: sinkResults, resources: resources, metrics: metrics)
            run.bound = summary?.harness.map(BenchReport.BoundLabel.init)
            run.boundIntervals = summary.map { $0.harnessIntervals.map(BenchReport.BoundLabel.init) }
            if let label = run.bound {
                progress?("repetition \(rep + 1): \(label.bound) — \(label.reason)")
            }
            if let faultWindows {
                let recovery = FaultRecovery.apply(faultWindows, intervals: iv, probes: setup.probeTimeline?())
                run.faults = recovery.windows
                run.lagLevels = recovery.levels
                for window in faultWindows where window.outcome != "ok" {
                    notes.append("repetition \(rep + 1): fault '\(window.what)' at \(Units.format(window.startSeconds)) s: \(window.outcome)")
                }
            }
            runs.append(run)
            if let achieved = metrics["throughput.achieved.msgs_per_s"] {
                progress?("repetition \(rep + 1): achieved \(Units.format(achieved.value)) msg/s")
            }
        }

        Assembler.addReferenceCPU(&runs, reference: reference)
        let spec = workload
        let source: String
        switch spec.source {
        case let .captures(paths, loop): source = paths.joined(separator: ", ") + (loop ? " (looped)" : "")
        case let .profile(profileName, seed): source = "K2Sim profile \(profileName) (seed \(seed))"
        }
        var info = BenchReport.WorkloadInfo(
            name: spec.name, path: spec.path, description: spec.description, source: source,
            pace: spec.pace.text + (spec.burst.map { Self.burstText($0) } ?? ""),
            warmupSeconds: Double(spec.warmupNanos) / 1e9, durationSeconds: Double(spec.durationNanos) / 1e9,
            sinks: spec.sinks.map { Secrets.mask($0.uri) }, repetitions: spec.repetitions, targets: spec.targets)
        info.notTested = spec.notTested.isEmpty ? nil : spec.notTested
        info.clickhouseSettings = spec.embedded.clickhouseSettings.isEmpty ? nil : spec.embedded.clickhouseSettings
        info.startAt = startAtWallNanos.map { TimeText.iso8601(nanos: $0, fractionDigits: 3) }
        var environment = EnvironmentInfo.current(startedAt: startedWall, finishedAt: clock.wallNanos())
        environment.clock = clockOffset
        let report = BenchReport(
            tool: .init(gitRevision: EnvironmentInfo.gitRevision()),
            environment: environment,
            workload: info, runs: runs, metrics: try Assembler.combine(runs: runs), reference: reference, notes: notes)
        return Output(report: report, intervalLogs: logs.mapValues(\.text))
    }
}

extension BenchRunner {
    /// The burst phase as the report's pace shows it.
    static func burstText(_ b: Workload.Burst) -> String {
        ", burst \(Units.format(b.rate)) msg/s for \(TimeText.humanDuration(nanos: b.lengthNanos)) at \(TimeText.humanDuration(nanos: b.atNanos)) into the measured window"
    }

    /// Sleeps until the wall clock reaches `startAt`; a note when it had passed already (the
    /// set-up took longer than the time left), nil otherwise.
    func waitForStart(_ startAt: Int64) -> String? {
        let late = clock.wallNanos() - startAt
        if late > 0 {
            progress?("the start time had passed \(TimeText.humanDuration(nanos: late)) ago: starting now")
            return
                "started \(TimeText.humanDuration(nanos: late)) after --start-at \(TimeText.iso8601(nanos: startAt, fractionDigits: 3)) (the set-up took longer): give the shards a later start time"
        }
        progress?("waiting \(TimeText.humanDuration(nanos: -late)) for the start time \(TimeText.iso8601(nanos: startAt, fractionDigits: 3))")
        while true {
            let left = startAt - clock.wallNanos()
            if left <= 0 { return nil }
            usleep(useconds_t(min(left / 1000, 50_000)))
        }
    }
}

/// Closes the recorder's intervals every second on its own thread and prints a progress line.
final class Ticker: @unchecked Sendable {
    // unchecked: immutable after init but for `thread`, which start/stop use from the owner only.
    let recorder: RunRecorder
    let sinks: [any ReplaySink]
    let consumed: (() -> UInt64)?
    let landed: (() -> UInt64?)?
    let landedSink: Int
    let sampler: ResourceSampler
    let measureFrom: Int64
    let end: Int64
    let progress: ((String) -> Void)?
    let onInterval: (() -> Void)?
    private let stopRequest = Latch<Void>()
    private var thread: JoinableThread?
    private let clock = SystemClock()

    init(
        recorder: RunRecorder, sinks: [any ReplaySink], consumed: (() -> UInt64)?, landed: (() -> UInt64?)? = nil, landedSink: Int = 0,
        sampler: ResourceSampler, measureFrom: Int64, end: Int64, progress: ((String) -> Void)?, onInterval: (() -> Void)? = nil
    ) {
        self.landed = landed
        self.landedSink = landedSink
        self.onInterval = onInterval
        self.recorder = recorder
        self.sampler = sampler
        self.sinks = sinks
        self.consumed = consumed
        self.measureFrom = measureFrom
        self.end = end
        self.progress = progress
    }

    func start() {
        thread = JoinableThread.start { [self] in
            // Wait for the end of warm-up, then take the baseline counts.
            if !wait(until: measureFrom) { return }
            recorder.baseline(sinks: sinks.map(\.counts), consumed: consumed?(), landed: landed?() ?? nil)
            sampler.start()
            var next = measureFrom + 1_000_000_000
            while next <= end {
                if !wait(until: next) { return }
                let now = clock.monotonicNanos()
                // Outside the recorder's lock: the landed count is a query to ClickHouse.
                let rows = landed?() ?? nil
                recorder.closeInterval(now: now, sinks: sinks.map(\.counts), consumed: consumed?(), landed: rows, landedSink: landedSink)
                onInterval?()
                if let report = progress, let last = recorder.intervals.last {
                    report(
                        "  t=\(Units.format(last.t))s offered \(Units.format(last.offeredMsgs / last.seconds)) sent \(Units.format(last.sentMsgs / last.seconds)) delivered \(last.deliveredMsgs.map { Units.format($0 / last.seconds) }.joined(separator: "/")) msg/s, backlog \(last.backlog.map { Units.format($0) }.joined(separator: "/"))"
                            + (last.clickhouseBehind.map { ", ClickHouse rows behind \(Units.format($0))" } ?? ""))
                }
                next += 1_000_000_000
            }
        }
    }

    /// Sleeps until `mono`; false when stopped first.
    private func wait(until mono: Int64) -> Bool {
        while true {
            if stopRequest.isSet { return false }
            let left = mono - clock.monotonicNanos()
            if left <= 0 { return true }
            if stopRequest.wait(timeoutNanos: Swift.min(left, 200_000_000)) != nil { return false }
        }
    }

    func stop() {
        stopRequest.set()
        thread?.join()
    }
}
