import Foundation
import K2Core

/// What a report says about the machine and the tool.
enum EnvironmentInfo {
    static func current(startedAt: Int64, finishedAt: Int64) -> BenchReport.Environment {
        var os = "Linux"
        if let rel = ProcFS.read("/etc/os-release") {
            for line in rel.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
                os = String(line.dropFirst("PRETTY_NAME=".count)).replacingOccurrences(of: "\"", with: "")
            }
        }
        let kernel = ProcFS.read("/proc/sys/kernel/osrelease")?.trimmingSpaces() ?? "unknown"
        var mem: Int64 = 0
        if let info = ProcFS.read("/proc/meminfo") {
            for line in info.split(separator: "\n") where line.hasPrefix("MemTotal:") {
                mem = (Int64(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
            }
        }
        return BenchReport.Environment(
            hostname: HostInfo.hostname(), os: os, kernel: kernel,
            cpus: ProcessInfo.processInfo.activeProcessorCount, memoryBytes: mem,
            startedAt: TimeText.iso8601(nanos: startedAt, fractionDigits: 3),
            finishedAt: TimeText.iso8601(nanos: finishedAt, fractionDigits: 3))
    }

    /// `git rev-parse --short HEAD` of the current folder (with `-dirty` when there are changes), or nil.
    static func gitRevision() -> String? {
        func git(_ args: [String]) -> String? {
            guard let finished = try? ChildProcess.run(["git"] + args), finished.status == 0 else { return nil }
            return finished.stdout.trimmingSpaces()
        }
        guard let rev = git(["rev-parse", "--short", "HEAD"]), !rev.isEmpty else { return nil }
        let dirty = !(git(["status", "--porcelain", "--untracked-files=no"]) ?? "").isEmpty
        return rev + (dirty ? "-dirty" : "")
    }
}
