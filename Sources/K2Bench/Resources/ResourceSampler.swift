import Foundation
import K2Core

/// What a resource series watches.
package enum WatchTarget: Sendable, Equatable {
    /// One process and all its descendants.
    case pid(Int32)
    /// Every process whose command name (comm or argv[0]'s last component) is this, with descendants.
    case name(String)
    /// A cgroup v2 directory (cpu.stat usage_usec, memory.current).
    case cgroup(String)
    /// The harness itself (this process), shown apart from the system under test.
    case harness

    /// `1234` → pid, `/sys/fs/cgroup/…` → cgroup, anything else → a command name.
    package static func process(_ text: String) -> WatchTarget {
        if let pid = Int32(text), pid > 0 { return .pid(pid) }
        return .name(text)
    }

    static func cgroupPath(_ text: String) -> WatchTarget {
        .cgroup(text.hasPrefix("/") ? text : "/sys/fs/cgroup/" + text)
    }

    package var label: String {
        switch self {
        case let .pid(pid): return "pid \(pid)"
        case let .name(name): return name
        case let .cgroup(directory): return "cgroup " + directory.replacingOccurrences(of: "/sys/fs/cgroup/", with: "")
        case .harness: return "k2 (harness)"
        }
    }

    var isHarness: Bool { self == .harness }
}

/// One sample: CPU used over the interval that ends at `t`, and memory at `t`.
package struct ResourceSample: Sendable, Equatable, Codable {
    /// Seconds since the sampler started.
    package var t: Double
    /// CPU cores used on average over the interval before `t` (1.0 = one core busy).
    package var cpuCores: Double
    /// Resident memory (processes: RSS summed over the tree; cgroups: memory.current), bytes.
    package var memoryBytes: Int64
    /// Processes counted (process targets), 0 for cgroups.
    package var processes: Int
}

/// The samples of one watched target, with summary figures.
package struct ResourceSeries: Sendable, Equatable, Codable {
    package var name: String
    /// `process`, `cgroup` or `harness`.
    package var kind: String
    package var samples: [ResourceSample]

    package var meanCores: Double {
        samples.isEmpty ? 0 : samples.map(\.cpuCores).reduce(0, +) / Double(samples.count)
    }
    var peakCores: Double { samples.map(\.cpuCores).max() ?? 0 }
    var meanMemory: Double {
        samples.isEmpty ? 0 : Double(samples.map(\.memoryBytes).reduce(0, +)) / Double(samples.count)
    }
    package var peakMemory: Int64 { samples.map(\.memoryBytes).max() ?? 0 }
}

/// Samples CPU and memory of watched processes (by PID or name, descendants included, from
/// /proc) and cgroup v2 groups every interval, on its own thread. The harness's own use is a
/// separate series. `sampleNow` is public so tests can drive it without the thread.
package final class ResourceSampler: @unchecked Sendable {
    // unchecked: series and state under `lock`; `thread` used by start/stop from the owner only.
    package let targets: [WatchTarget]
    package let intervalNanos: Int64
    private let clock: any NanoClock
    private let lock = Lock()
    private var series: [ResourceSeries]
    /// Per target: last CPU reading per pid (ticks incl. reaped children) or per cgroup (µs).
    private var lastTicks: [[Int32: Int64]]
    private var lastCgroup: [Int64?]
    private var lastAt: Int64?
    private var startAt: Int64
    private var running = false
    private var thread: JoinableThread?
    /// Set by `stop`; a new one per `start`.
    private var stopRequest = Latch<Void>()

    package init(targets: [WatchTarget], intervalNanos: Int64 = 1_000_000_000, clock: any NanoClock = SystemClock()) {
        self.targets = targets
        self.intervalNanos = intervalNanos
        self.clock = clock
        self.series = targets.map {
            let kind: String
            switch $0 {
            case .harness: kind = "harness"
            case .cgroup: kind = "cgroup"
            default: kind = "process"
            }
            return ResourceSeries(name: $0.label, kind: kind, samples: [])
        }
        self.lastTicks = Array(repeating: [:], count: targets.count)
        self.lastCgroup = Array(repeating: nil, count: targets.count)
        self.startAt = clock.monotonicNanos()
    }

    /// Checks every target can be read now (a cgroup directory exists, a PID is alive); names
    /// may match nothing yet (a server starting later), which is not an error.
    package func check() throws(BenchError) {
        for target in targets {
            switch target {
            case let .pid(pid) where ProcFS.stat(pid: pid) == nil:
                throw BenchError(.invalidArgument, what: "process \(pid) is not running", remedy: "watch a live PID or a command name")
            case let .cgroup(dir) where ProcFS.cgroupUsage(dir) == nil:
                throw BenchError(
                    .invalidArgument, path: dir, what: "not a readable cgroup v2 directory (no cpu.stat)",
                    remedy: "give the container's cgroup, e.g. /sys/fs/cgroup/system.slice/docker-ID.scope")
            default: break
            }
        }
    }

    /// Starts sampling on a background thread (first sample is a baseline, the next ones produce values).
    package func start() {
        let stop = Latch<Void>()
        lock.withLock {
            running = true
            startAt = clock.monotonicNanos()
            stopRequest = stop
        }
        sampleNow()
        let interval = intervalNanos
        thread = JoinableThread.start { [self] in
            while stop.wait(timeoutNanos: interval) == nil {
                sampleNow()
            }
        }
    }

    /// Stops the thread, takes a last sample and returns every series.
    @discardableResult
    package func stop() -> [ResourceSeries] {
        let (wasRunning, stop) = lock.withLock { () -> (Bool, Latch<Void>) in
            let runningNow = running
            running = false
            return (runningNow, stopRequest)
        }
        if wasRunning {
            stop.set()
            thread?.join()
            thread = nil
            sampleNow()
        }
        return snapshot()
    }

    package func snapshot() -> [ResourceSeries] { lock.withLock { series } }

    /// Takes one sample of every target now.
    func sampleNow() {
        let now = clock.monotonicNanos()
        let procs =
            targets.contains(where: {
                if case .cgroup = $0 { return false }; return true
            }) ? ProcFS.allProcesses() : []
        var children: [Int32: [Int32]] = [:]
        var byPid: [Int32: ProcFS.ProcStat] = [:]
        for process in procs {
            children[process.ppid, default: []].append(process.pid)
            byPid[process.pid] = process
        }
        func tree(_ roots: [Int32]) -> [Int32] {
            var out: [Int32] = []
            var seen = Set<Int32>()
            var stack = roots
            while let pid = stack.popLast() {
                guard seen.insert(pid).inserted, byPid[pid] != nil else { continue }
                out.append(pid)
                stack.append(contentsOf: children[pid] ?? [])
            }
            return out
        }
        let me = getpid()

        lock.withLock {
            let dt = lastAt.map { Double(now - $0) / 1e9 }
            let elapsed = Double(now - startAt) / 1e9
            for (i, target) in targets.enumerated() {
                switch target {
                case let .cgroup(dir):
                    guard let usage = ProcFS.cgroupUsage(dir) else { continue }
                    if let dt, dt > 0, let last = lastCgroup[i] {
                        let cores = Double(max(0, usage.cpuMicros - last)) / 1e6 / dt
                        series[i].samples.append(ResourceSample(t: elapsed, cpuCores: cores, memoryBytes: usage.memoryBytes, processes: 0))
                    }
                    lastCgroup[i] = usage.cpuMicros
                default:
                    let roots: [Int32]
                    switch target {
                    case let .pid(pid): roots = [pid]
                    case .harness: roots = [me]
                    case let .name(name):
                        let matches = Set(
                            procs.filter {
                                $0.comm == name || ($0.comm.count >= 15 && name.hasPrefix($0.comm)) || ProcFS.commandName(pid: $0.pid) == name
                            }.map(\.pid))
                        // Top-level matches only: a match whose parent also matches is counted through the parent.
                        roots = matches.filter { !matches.contains(byPid[$0]?.ppid ?? 0) }.sorted()
                    default: roots = []
                    }
                    let pids = tree(roots)
                    var ticks: [Int32: Int64] = [:]
                    var rss: Int64 = 0
                    for pid in pids {
                        guard let stat = byPid[pid] else { continue }
                        ticks[pid] = stat.cpuTicks + stat.childTicks
                        rss += stat.rssBytes
                    }
                    if let dt, dt > 0 {
                        var used: Int64 = 0
                        for (pid, total) in ticks {
                            // A process that appeared since the last sample counts from 0 only if it is young;
                            // counting its whole history would spike, so new pids count from their first sighting.
                            if let last = lastTicks[i][pid] { used += max(0, total - last) }
                        }
                        let cores = Double(used) / ProcFS.ticksPerSecond / dt
                        series[i].samples.append(ResourceSample(t: elapsed, cpuCores: cores, memoryBytes: rss, processes: pids.count))
                    }
                    lastTicks[i] = ticks
                }
            }
            lastAt = now
        }
    }
}
