import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the harness did over one window of a replay (the whole run, or one interval): how busy
/// its sending thread was, how long sinks blocked it, how late it ran against the pacing budget,
/// and how much CPU the process used against the cores it may run on — and from those, whether
/// the window's figures are harness-bound or system-bound (`Bottleneck`).
package struct HarnessLoad: Sendable, Equatable {
    /// Window start, ns after the replay's first message.
    package var startNanos: Int64
    package var lengthNanos: Int64
    /// Messages handed to the sinks in the window.
    package var sent: UInt64
    /// Messages the slowest sink had delivered (or left unrouted) by the window's end, counted
    /// from its start; nil when not read.
    package var delivered: UInt64?
    /// Time the sending thread waited for the schedule (ahead of it: idle, or spinning to the
    /// deadline). Busy = the rest.
    package var waitedNanos: Int64
    /// Time the sending thread spent inside sinks' `send` waiting for room (`ReplaySink.blockedNanos`, all sinks).
    package var blockedNanos: Int64
    /// Lateness p50 and p99 in the window; nil at `--speed max` (no schedule).
    package var latenessP50Nanos: Int64?
    package var latenessP99Nanos: Int64?
    /// The most lateness at p99 that still counts as keeping the schedule (`latenessBudget`).
    package var latenessBudgetNanos: Int64?
    /// CPU time of the whole k2 process (all threads) in the window.
    package var cpuNanos: Int64
    /// CPUs the process may run on (its affinity mask).
    package var cores: Int
    /// Time the sending thread was runnable but waited for a CPU (`/proc/thread-self/schedstat`);
    /// nil where not available.
    package var runQueueNanos: Int64?

    /// The pacing budget: lateness at p99 up to one mean gap between messages, and never less
    /// than 1 ms (below that, lateness is scheduler noise that delays no result).
    package static func latenessBudget(messages: UInt64, sendingNanos: Int64) -> Int64 {
        let gap = messages > 1 ? sendingNanos / Int64(messages - 1) : 0
        return Swift.max(1_000_000, gap)
    }

    /// A delivered count this far below what was sent means the destination fell behind.
    package static let deliveredShare = 0.95

    private func share(_ nanos: Int64) -> Double { lengthNanos > 0 ? Swift.min(1, Double(Swift.max(0, nanos)) / Double(lengthNanos)) : 0 }

    /// Share of the window the sending thread worked (not waiting for the schedule), 0…1.
    package var busyFraction: Double { 1 - share(waitedNanos) }
    /// Share of the window the sending thread was blocked in a sink, 0…1.
    package var blockedFraction: Double { share(blockedNanos) }
    /// Share of the window the sending thread waited for a CPU, 0…1.
    package var runQueueFraction: Double? { runQueueNanos.map(share) }
    /// Mean CPU cores the process used in the window.
    package var cpuCores: Double { lengthNanos > 0 ? Double(cpuNanos) / Double(lengthNanos) : 0 }

    /// The evidence for `Bottleneck.classify`.
    package var evidence: Bottleneck.Evidence {
        var facts: [String] = []
        let budget = latenessBudgetNanos ?? 1_000_000
        // Behind for good (half the messages over the budget: it could not send at the rate),
        // or only at the tail (scheduler noise on a busy machine: it still sent at the rate).
        let sustained = (latenessP50Nanos ?? 0) > budget
        let tail = (latenessP99Nanos ?? 0) > budget
        if let p99 = latenessP99Nanos {
            let p50 = latenessP50Nanos.map { "p50 \(Self.ms($0)), " } ?? ""
            facts.append("lateness \(p50)p99 \(Self.ms(p99)) \(tail ? ">" : "≤") budget \(Self.ms(budget))")
        }
        facts.append("sending thread busy \(Bottleneck.percent(busyFraction)), blocked in sinks \(Bottleneck.percent(blockedFraction))")
        if let queued = runQueueFraction, queued >= 0.01 { facts.append("waited for a CPU \(Bottleneck.percent(queued))") }
        facts.append("k2 CPU \(TimeText.fixed(cpuCores, 2)) of \(cores) cores")
        var short = false
        if let delivered {
            short = Double(delivered) < Self.deliveredShare * Double(sent)
            if short { facts.append("delivered \(delivered) of \(sent) sent") }
        }
        // A late tail does not explain a destination that delivered short; a sustained lag does.
        return Bottleneck.Evidence(
            blockedFraction: blockedFraction, behindSchedule: sustained || (tail && !short), deliveredShort: short,
            unpaced: latenessP99Nanos == nil, facts: facts)
    }

    package var classification: (bound: Bottleneck, reason: String) { Bottleneck.classify(evidence) }
    package var bound: Bottleneck { classification.bound }

    static func ms(_ nanos: Int64) -> String { TimeText.fixed(Double(nanos) / 1e6, 3) + " ms" }

    /// The `summary.json` / `report.json` form (times in ns, shares 0…1).
    package func json() -> JSONValue {
        func num(_ v: some BinaryInteger) -> JSONValue { .number(String(v)) }
        let (bound, reason) = classification
        return .object([
            ("start_ns", num(startNanos)),
            ("length_ns", num(lengthNanos)),
            ("sent", num(sent)),
            ("delivered", delivered.map(num) ?? .null),
            ("busy_fraction", .number(TimeText.fixed(busyFraction, 4))),
            ("blocked_ns", num(blockedNanos)),
            ("blocked_fraction", .number(TimeText.fixed(blockedFraction, 4))),
            ("lateness_p50_ns", latenessP50Nanos.map(num) ?? .null),
            ("lateness_p99_ns", latenessP99Nanos.map(num) ?? .null),
            ("lateness_budget_ns", latenessBudgetNanos.map(num) ?? .null),
            ("cpu_cores", .number(TimeText.fixed(cpuCores, 3))),
            ("cores", num(cores)),
            ("run_queue_fraction", runQueueFraction.map { .number(TimeText.fixed($0, 4)) } ?? .null),
            ("bound", .string(bound.rawValue)),
            ("reason", .string(reason)),
        ])
    }
}

/// Reads what `HarnessLoad` needs from the system, on the sending thread: the process's CPU
/// time (`getrusage`), the CPUs it may use (`sched_getaffinity`) and the sending thread's
/// run-queue wait (`/proc/thread-self/schedstat`, opened once by the thread that sends).
/// A few microseconds per read: once per interval, never per message.
final class HarnessSampler {
    struct Sample {
        var cpuNanos: Int64
        var runQueueNanos: Int64?
    }

    private let schedstat: Int32
    let cores: Int

    /// Call on the sending thread.
    init() {
        #if os(Linux)
        schedstat = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)
        #else
        schedstat = -1
        #endif
        cores = Self.allowedCPUs() ?? Swift.max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    deinit {
        if schedstat >= 0 { close(schedstat) }
    }

    /// CPUs in the thread's affinity mask (`Cpus_allowed:` of /proc/thread-self/status, hex
    /// with commas; `sched_getaffinity` needs _GNU_SOURCE and does not import); nil elsewhere.
    static func allowedCPUs() -> Int? {
        let fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let length = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard length > 0 else { return nil }
        let key = Array("Cpus_allowed:".utf8)
        var lineStart = 0
        while lineStart + key.count <= length {
            if (lineStart == 0 || bytes[lineStart - 1] == UInt8(ascii: "\n")) && Array(bytes[lineStart..<(lineStart + key.count)]) == key {
                var count = 0
                var position = lineStart + key.count
                while position < length, bytes[position] != UInt8(ascii: "\n") {
                    if let digit = Int(String(UnicodeScalar(bytes[position])), radix: 16) { count += digit.nonzeroBitCount }
                    position += 1
                }
                return count > 0 ? count : nil
            }
            lineStart += 1
        }
        return nil
    }

    func sample() -> Sample {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu =
            Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000_000
            + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1_000
        return Sample(cpuNanos: cpu, runQueueNanos: runQueue())
    }

    /// The second field of schedstat: ns spent waiting on a run queue.
    private func runQueue() -> Int64? {
        guard schedstat >= 0 else { return nil }
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &buffer) { raw -> Int64? in
            let length = pread(schedstat, raw.baseAddress, raw.count, 0)
            guard length > 0 else { return nil }
            let text = UnsafeRawBufferPointer(rebasing: raw[0..<length])
            var field = 0
            var value: Int64 = 0
            for byte in text {
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") {
                    if field == 1 { return value }
                    field += 1
                    value = 0
                } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                    value = value &* 10 &+ Int64(byte - UInt8(ascii: "0"))
                }
            }
            return nil
        }
    }
}
