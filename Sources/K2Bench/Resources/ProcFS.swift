import K2Core

#if canImport(Glibc)
import Glibc
#endif

/// Small readers of Linux /proc and cgroup v2 files (no Foundation, no allocation beyond the text).
package enum ProcFS {
    /// Clock ticks per second for /proc CPU times.
    static let ticksPerSecond: Double = Double(sysconf(Int32(_SC_CLK_TCK)))
    package static let pageSize: Int64 = Int64(sysconf(Int32(_SC_PAGESIZE)))

    /// The whole content of a (small, virtual) file, or nil.
    package static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let readCount = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 8192) }
            if readCount < 0 { if errno == EINTR { continue }; return nil }
            if readCount == 0 { break }
            out.append(contentsOf: buf[0..<readCount])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One process as /proc/PID/stat shows it.
    package struct ProcStat: Sendable, Equatable {
        package var pid: Int32
        package var comm: String
        package var ppid: Int32
        /// utime + stime of the process (all its threads), in ticks.
        package var cpuTicks: Int64
        /// cutime + cstime: CPU of children it has waited for, in ticks.
        package var childTicks: Int64
        /// Resident pages × page size.
        package var rssBytes: Int64
    }

    /// Parses the text of /proc/PID/stat (the comm field may hold spaces and parentheses).
    package static func parseStat(_ text: String) -> ProcStat? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        guard let pid = Int32(String(text[text.startIndex..<open]).trimmingSpaces()) else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // rest[0] is field 3 (state); field N is rest[N - 3].
        guard rest.count >= 22 else { return nil }
        func f(_ n: Int) -> Int64 { Int64(rest[n - 3]) ?? 0 }
        return ProcStat(
            pid: pid, comm: comm, ppid: Int32(f(4)), cpuTicks: f(14) + f(15), childTicks: f(16) + f(17),
            rssBytes: f(24) * pageSize)
    }

    package static func stat(pid: Int32) -> ProcStat? {
        read("/proc/\(pid)/stat").flatMap(parseStat)
    }

    /// Every process now running.
    package static func allProcesses() -> [ProcStat] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [ProcStat] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let chars = raw.bindMemory(to: CChar.self)
                return String(cString: chars.baseAddress!)
            }
            guard let first = name.utf8.first, first >= 48, first <= 57, let pid = Int32(name) else { continue }
            if let procStat = stat(pid: pid) { out.append(procStat) }
        }
        return out
    }

    /// argv[0]'s last path component of a process, or nil.
    package static func commandName(pid: Int32) -> String? {
        guard let cmd = read("/proc/\(pid)/cmdline"), !cmd.isEmpty else { return nil }
        let argv0 = cmd.split(separator: "\0", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return argv0.split(separator: "/").last.map(String.init)
    }

    /// cgroup v2 usage: total CPU time (µs, from cpu.stat usage_usec) and memory.current (bytes).
    package static func cgroupUsage(_ dir: String) -> (cpuMicros: Int64, memoryBytes: Int64)? {
        guard let cpu = read(dir + "/cpu.stat") else { return nil }
        var usage: Int64?
        for line in cpu.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == "usage_usec" { usage = Int64(parts[1]) }
        }
        guard let usage else { return nil }
        let mem = read(dir + "/memory.current").flatMap { Int64($0.trimmingSpaces()) } ?? 0
        return (usage, mem)
    }
}
