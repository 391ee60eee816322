import Foundation
import K2Core

/// wrk2's open-loop model, shared by the query stage and the HTTP stage: request k of a class has
/// an intended start `start + k / rate`, fixed before the run. `concurrency` workers take the due
/// requests in intended-start order (over all classes), each with a client of its own (one
/// keep-alive connection), so a stalled server cannot hide its stall by holding the load back: a
/// request that starts late because every worker is busy carries its wait in the latency from
/// its intended start (`corrected`); `uncorrected` measures from the actual start, i.e. what a
/// closed-loop client would report.
final class OpenLoopScheduler: @unchecked Sendable {
    // unchecked: results, positions and flags only under `lock`; the rest is set in init.
    /// What one request did, as the stage's client saw it.
    struct Outcome: Sendable {
        /// Why it failed (nil = it succeeded): an error, an unexpected answer. Kept per class (the first 3 distinct).
        var failure: String?
        /// Rows (or items) the answer held.
        var rows = 0
        /// The HTTP status, when there was an answer.
        var status: Int?
        init(failure: String? = nil, rows: Int = 0, status: Int? = nil) {
            self.failure = failure
            self.rows = rows
            self.status = status
        }
    }

    /// What one class measured.
    struct ClassResult: Sendable {
        var name: String
        /// From the intended start (coordinated-omission corrected), ns; successes only.
        var corrected = Histogram()
        /// From the actual start, ns; successes only.
        var uncorrected = Histogram()
        var succeeded = 0
        var failed = 0
        var rows = 0
        /// Distinct failure messages (the first 3).
        var failures: [String] = []
        /// Requests due in the window that never started (the window ended first).
        var notStarted = 0
        /// Answers per HTTP status code.
        var statuses: [Int: Int] = [:]
    }

    /// A worker's client: runs request `index` of class `classIndex` and says how it went.
    typealias Client = (_ classIndex: Int, _ index: Int) -> Outcome

    let names: [String]
    let rates: [Double]
    let concurrency: Int
    private let clock = SystemClock()
    private let lock = Lock()
    private var results: [ClassResult]
    private var nextIndex: [Int]
    private var scheduleStart: Int64 = 0
    private var scheduleEnd: Int64 = 0
    private var stopped = false
    private var clientError: String?

    init(names: [String], rates: [Double], concurrency: Int) {
        self.names = names
        self.rates = rates
        self.concurrency = concurrency
        results = names.map { ClassResult(name: $0) }
        nextIndex = Array(repeating: 0, count: names.count)
    }

    /// Runs the schedule from now (monotonic) until `endMono` or `stop()`: starts `concurrency`
    /// workers, each with the client `makeClient` gives it (a client that cannot be made stops
    /// that worker and is reported by `finish`), and returns when they are done.
    func run(until endMono: Int64, makeClient: @escaping @Sendable () throws -> Client) {
        lock.withLock {
            scheduleStart = clock.monotonicNanos()
            scheduleEnd = endMono
        }
        var workers: [JoinableThread] = []
        for _ in 0..<concurrency {
            let worker = JoinableThread.start { [self] in
                let client: Client
                do { client = try makeClient() } catch {
                    lock.withLock { if clientError == nil { clientError = "\(error)" } }
                    return
                }
                work(client)
            }
            if let worker {
                workers.append(worker)
            } else {
                lock.withLock { if clientError == nil { clientError = "the system refused a thread for a worker" } }
            }
        }
        for worker in workers { worker.join() }
    }

    /// Stops handing out requests (those in flight finish).
    func stop() {
        lock.withLock { stopped = true }
    }

    /// Per class what was measured (with the requests due but never started), and the error
    /// of a client that could not be made.
    func finish() -> (classes: [ClassResult], error: String?) {
        lock.withLock {
            var out = results
            if scheduleEnd > scheduleStart {
                for index in out.indices {
                    let due = Int((Double(scheduleEnd - scheduleStart) / 1e9 * rates[index]).rounded(.up))
                    out[index].notStarted = max(0, due - nextIndex[index])
                }
            }
            return (out, clientError)
        }
    }

    /// The intended start of request `index` of a class at `rate`, from the schedule's start.
    static func intendedOffset(index: Int, rate: Double) -> Int64 {
        Int64((Double(index) / rate * 1e9).rounded())
    }

    /// The next due request over all classes (earliest intended start), or nil when the window is over.
    private func nextSlot() -> (classIndex: Int, index: Int, intended: Int64)? {
        lock.withLock {
            guard !stopped else { return nil }
            var best: (Int, Int, Int64)?
            for classIndex in rates.indices {
                let index = nextIndex[classIndex]
                let intended = scheduleStart + Self.intendedOffset(index: index, rate: rates[classIndex])
                if intended < scheduleEnd && (best == nil || intended < best!.2) { best = (classIndex, index, intended) }
            }
            if let best { nextIndex[best.0] += 1 }
            return best
        }
    }

    private func work(_ client: Client) {
        while let slot = nextSlot() {
            sleep(until: slot.intended)
            let started = clock.monotonicNanos()
            let outcome = client(slot.classIndex, slot.index)
            let ended = clock.monotonicNanos()
            lock.withLock {
                let classIndex = slot.classIndex
                if let status = outcome.status { results[classIndex].statuses[status, default: 0] += 1 }
                if let failure = outcome.failure {
                    results[classIndex].failed += 1
                    if results[classIndex].failures.count < 3 && !results[classIndex].failures.contains(failure) {
                        results[classIndex].failures.append(failure)
                    }
                } else {
                    results[classIndex].succeeded += 1
                    results[classIndex].rows += outcome.rows
                    results[classIndex].corrected.record(ended - slot.intended)
                    results[classIndex].uncorrected.record(ended - started)
                }
            }
        }
    }

    /// Sleeps until a monotonic time (the stage threads' wait for their window or slot).
    func sleep(until mono: Int64) {
        while true {
            let left = mono - clock.monotonicNanos()
            if left <= 0 { return }
            var request = timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000))
            nanosleep(&request, nil)
        }
    }
}
