import K2Core

/// Carries out faults on the systems of a run (the embedded broker, the embedded ClickHouse, a
/// shell); `WorkloadRun` gives the real one, tests a recording double.
package protocol FaultInjector: Sendable {
    /// Injects `fault`; throws with the reason when it cannot.
    func begin(_ fault: Workload.Fault) throws
    /// Undoes it (broker up, SIGCONT, restart, the `end` command); not called for one-offs.
    func end(_ fault: Workload.Fault) throws
}

/// Runs a workload's `faults:` schedule during a run: on its own thread it begins and ends each
/// fault at its offset from the start of the measured window, and records when each really
/// began and ended. `step()` does the work and takes its time from `clock`, so a test moves a
/// `ManualClock` by hand and calls it.
package final class FaultScheduler: @unchecked Sendable {
    // unchecked: mutable state only under `lock`; `thread` is touched by the owner only.

    /// One thing to do: begin or end fault `index` at `offsetNanos` from the start of measuring.
    package struct Event: Sendable, Equatable {
        package var offsetNanos: Int64
        package var index: Int
        package var isEnd: Bool
    }

    /// Every begin and end of `faults` in time order; at the same instant ends come before begins
    /// (a fault ending as the next starts clears the way), then in schedule order; the end of a
    /// zero-length fault (a kill and restart with no `for`) follows its own begin. One-offs have no end.
    package static func events(_ faults: [Workload.Fault]) -> [Event] {
        var out: [Event] = []
        for (index, fault) in faults.enumerated() {
            out.append(Event(offsetNanos: fault.atNanos, index: index, isEnd: false))
            if fault.hasEnd { out.append(Event(offsetNanos: fault.atNanos + fault.forNanos, index: index, isEnd: true)) }
        }
        func key(_ event: Event) -> (Int64, Int, Int, Int) {
            let endsEarly = event.isEnd && faults[event.index].forNanos > 0
            return (event.offsetNanos, endsEarly ? 0 : 1, event.index, event.isEnd ? 1 : 0)
        }
        return out.sorted { key($0) < key($1) }
    }

    package let faults: [Workload.Fault]
    private let injector: any FaultInjector
    private let clock: any NanoClock
    private let events: [Event]
    private let lock = Lock()
    private var next = 0
    private var measureFrom: Int64 = 0
    private var started: [Int: Int64] = [:]
    private var failures: [Int: String] = [:]
    private var ended: [Int: Int64] = [:]
    private let stopRequest = Latch<Void>()
    private var thread: JoinableThread?
    /// Called with a line per fault begun and ended (the run's progress output).
    package var progress: ((String) -> Void)?

    package init(faults: [Workload.Fault], injector: any FaultInjector, clock: any NanoClock = SystemClock()) {
        self.faults = faults
        self.injector = injector
        self.clock = clock
        events = Self.events(faults)
    }

    /// The start of the measured window (the clock's monotonic ns): the origin of the fault
    /// windows' seconds; 0 before `start` or `arm`.
    package var measureFromNanos: Int64 { lock.withLock { measureFrom } }

    /// Sets the start of the measured window (the clock's monotonic ns) without a thread (tests).
    package func arm(measureFromNanos: Int64) { lock.withLock { measureFrom = measureFromNanos } }

    /// Starts the thread that runs the schedule from `measureFromNanos` (monotonic ns).
    package func start(measureFromNanos: Int64) {
        arm(measureFromNanos: measureFromNanos)
        thread = JoinableThread.start { [self] in
            while !stopRequest.isSet {
                step()
                let wait = lock.withLock { next < events.count ? measureFrom + events[next].offsetNanos - clock.monotonicNanos() : 200_000_000 }
                _ = stopRequest.wait(timeoutNanos: max(1_000_000, min(wait, 200_000_000)))
            }
        }
    }

    /// Begins and ends every fault due by the clock's time now; the events done, in order.
    @discardableResult
    package func step() -> [Event] {
        var done: [Event] = []
        while true {
            let event: Event? = lock.withLock {
                guard next < events.count, measureFrom + events[next].offsetNanos <= clock.monotonicNanos() else { return nil }
                next += 1
                return events[next - 1]
            }
            guard let event else { return done }
            perform(event)
            done.append(event)
        }
    }

    private func perform(_ event: Event) {
        let fault = faults[event.index]
        if event.isEnd {
            // A fault whose injection failed is not undone.
            guard lock.withLock({ failures[event.index] == nil && started[event.index] != nil }) else {
                lock.withLock { ended[event.index] = clock.monotonicNanos() }
                return
            }
            do { try injector.end(fault) } catch {
                lock.withLock { failures[event.index] = "could not be ended: \(error)" }
            }
            lock.withLock { ended[event.index] = clock.monotonicNanos() }
            progress?("fault over: \(fault.what)")
        } else {
            lock.withLock { started[event.index] = clock.monotonicNanos() }
            do { try injector.begin(fault) } catch {
                lock.withLock { failures[event.index] = "failed: \(error)" }
            }
            if !fault.hasEnd { lock.withLock { ended[event.index] = clock.monotonicNanos() } }
            progress?("fault: \(fault.what)" + (fault.hasEnd ? " for \(TimeText.humanDuration(nanos: fault.forNanos))" : ""))
        }
    }

    /// Stops the thread, ends every fault still on (so the systems are whole again) and returns
    /// the windows of the faults that began, in schedule order.
    package func stop() -> [BenchReport.FaultWindow] {
        stopRequest.set()
        thread?.join()
        thread = nil
        let open = lock.withLock { events[next...].filter(\.isEnd).filter { started[$0.index] != nil } }
        for event in open {
            perform(event)
            lock.withLock { if failures[event.index] == nil { failures[event.index] = "ended early (the run ended)" } }
        }
        return windows
    }

    /// The windows of the faults begun so far (an open one ends now).
    package var windows: [BenchReport.FaultWindow] {
        lock.withLock {
            let now = clock.monotonicNanos()
            return faults.indices.compactMap { index -> BenchReport.FaultWindow? in
                guard let begin = started[index] else { return nil }
                let fault = faults[index]
                return BenchReport.FaultWindow(
                    what: fault.what, target: fault.target,
                    startSeconds: Double(begin - measureFrom) / 1e9,
                    endSeconds: Double((ended[index] ?? now) - measureFrom) / 1e9,
                    outcome: failures[index] ?? "ok")
            }
        }
    }
}

extension Workload.Fault {
    /// Whether the fault is undone at `at + for` (a one-off is not: request errors, a leader move,
    /// a command without `end`).
    var hasEnd: Bool {
        switch action {
        case .requestErrors, .leaderMove: return false
        case let .exchange(fault): return fault == .stall
        case let .command(_, end): return end != nil
        case .clickhouseKill: return true
        default: return forNanos > 0
        }
    }
}
