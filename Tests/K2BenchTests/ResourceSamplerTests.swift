import Foundation
import K2Core
import Testing

@testable import K2Bench

/// The sampler against processes of known CPU use. Bounds are generous: the machine is shared
/// and noisy; the tests check "about one core" vs "about idle", not exact figures.
@Suite(.serialized) struct ResourceSamplerTests {
    /// A child `sh -c script` (scripts bound their own lifetime with `timeout`).
    struct Child {
        let pid: Int32
    }

    func spawn(_ script: String) throws -> Child {
        Child(pid: try ChildProcess.start(["/bin/sh", "-c", script], stdout: .inherit, stderr: .inherit, dieWithParent: false).pid)
    }

    /// Kills the child and every descendant, and reaps the child.
    func end(_ c: Child) {
        var all: [Int32] = [c.pid]
        var frontier = [c.pid]
        let procs = ProcFS.allProcesses()
        while let parent = frontier.popLast() {
            for q in procs where q.ppid == parent { all.append(q.pid); frontier.append(q.pid) }
        }
        for p in all.reversed() { kill(p, SIGKILL) }
        var status: Int32 = 0
        waitpid(c.pid, &status, 0)
    }

    func sample(_ targets: [WatchTarget], seconds: Double) -> [ResourceSeries] {
        let sampler = ResourceSampler(targets: targets, intervalNanos: 250_000_000)
        sampler.start()
        Thread.sleep(forTimeInterval: seconds)
        return sampler.stop()
    }

    /// CPU time the kernel says a process tree ran (/proc/PID/schedstat, ns), the reference.
    func ranNanos(_ pids: [Int32]) -> Int64 {
        pids.compactMap { ProcFS.read("/proc/\($0)/schedstat")?.split(separator: " ").first.flatMap { Int64($0) } }.reduce(0, +)
    }

    @Test func busyLoopMeasuresWhatTheKernelRan() throws {
        let busy = try spawn("exec timeout -s KILL 6 sh -c 'while :; do :; done'")
        defer { end(busy) }
        let idle = try spawn("exec sleep 6")
        defer { end(idle) }
        Thread.sleep(forTimeInterval: 0.1)
        let pid = busy.pid
        // timeout forks the loop: the tree is timeout + sh.
        func tree() -> [Int32] { [pid] + ProcFS.allProcesses().filter { $0.ppid == pid }.map(\.pid) }
        let clock = SystemClock()
        let r0 = ranNanos(tree()), t0 = clock.monotonicNanos()
        let series = sample([.pid(pid), .pid(idle.pid)], seconds: 1.2)
        let r1 = ranNanos(tree()), t1 = clock.monotonicNanos()
        let expected = Double(r1 - r0) / Double(t1 - t0)  // cores the kernel gave it
        let measured = series[0].meanCores
        #expect(series[0].samples.count >= 2)
        // On a quiet machine both are ~1 core; on a loaded one both drop together.
        #expect(abs(measured - expected) <= 0.25 + 0.5 * expected, "sampler \(measured) vs kernel \(expected) cores")
        #expect(measured < 1.6)
        #expect(series[1].meanCores < 0.1, "sleep measured \(series[1].meanCores) cores")
        #expect(measured >= series[1].meanCores)
        #expect(series[0].peakMemory > 0)
    }

    @Test func childrenAreIncluded() throws {
        // The shell itself only waits; its child spins.
        let parent = try spawn("timeout -s KILL 6 sh -c 'while :; do :; done' & wait")
        defer { end(parent) }
        Thread.sleep(forTimeInterval: 0.1)
        let series = sample([.pid(parent.pid)], seconds: 1.2)
        #expect(series[0].meanCores > 0.01, "parent + child measured \(series[0].meanCores) cores")
        #expect(series[0].samples.last?.processes ?? 0 >= 2)
    }

    @Test func harnessIsSampledApart() {
        let series = sample([.harness], seconds: 0.6)
        #expect(series[0].kind == "harness")
        #expect(series[0].name == "k2 (harness)")
        #expect(series[0].peakMemory > 1_000_000)
    }

    @Test func parsesProcStatWithSpacesInComm() {
        let text = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 100 12345678 300 18446744073709551615"
        let stat = ProcFS.parseStat(text)
        #expect(stat?.pid == 1234)
        #expect(stat?.comm == "my (odd) name")
        #expect(stat?.ppid == 1)
        #expect(stat?.cpuTicks == 300)
        #expect(stat?.childTicks == 10)
        #expect(stat?.rssBytes == 300 * ProcFS.pageSize)
    }

    @Test func cgroupOfThisProcessIsReadableWhenCgroupV2IsMounted() throws {
        guard let line = ProcFS.read("/proc/self/cgroup")?.split(separator: "\n").first(where: { $0.hasPrefix("0::") }),
            FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
        else { return }
        let dir = "/sys/fs/cgroup" + line.dropFirst(3)
        guard ProcFS.cgroupUsage(dir) != nil else { return }  // cpu controller not delegated here
        let series = sample([.cgroup(dir)], seconds: 0.6)
        #expect(series[0].kind == "cgroup")
        #expect(series[0].samples.count >= 1)
    }
}
