import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The pieces of `k2 capture bench`: write and read a capture of Binance-like trade messages
/// and time other programs (zstd, zstdcat | wc -l, k2 itself for peak RSS) on the same file.
package enum CaptureBench {
    package struct Phase: Sendable {
        package var name: String
        package var records: Int
        /// Bytes the rate in MB/s refers to (uncompressed block bytes for reads, payload bytes for writes).
        package var bytes: Int64
        package var seconds: Double
        /// CPU time (user + system) it used: the fair figure on a shared, busy machine.
        package var cpuSeconds: Double
        /// Peak resident memory of the process that did it, in KiB (nil when measured in-process).
        var maxRSSKiB: Int?
        var recordsPerSecond: Double { seconds > 0 ? Double(records) / seconds : 0 }
        package var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds / 1e6 : 0 }
    }

    @inline(__always)
    static func now() -> Int64 { SystemClock().monotonicNanos() }

    /// CPU seconds (user + system) this process has used so far.
    static func cpu() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return seconds(usage)
    }

    static func seconds(_ u: rusage) -> Double {
        Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// This process's peak resident memory in KiB (`VmHWM` of /proc/self/status; it starts
    /// afresh at exec, unlike `ru_maxrss`, which a child inherits from its parent).
    package static func peakRSSKiB() -> Int? {
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 8192)
        let readCount = Glibc.read(fd, &buf, buf.count)
        guard readCount > 0 else { return nil }
        let text = String(decoding: buf[0..<readCount], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.dropFirst(6).filter { $0 >= "0" && $0 <= "9" })
    }

    /// A Binance combined-stream trade message of about 160 bytes.
    static func appendTrade(_ out: inout [UInt8], _ rng: inout SplitMix64, id: Int64, ms: Int64) {
        let sym = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"][Int(rng.next() % 4)]
        out.append(contentsOf: #"{"stream":""#.utf8)
        out.append(contentsOf: sym.lowercased().utf8)
        out.append(contentsOf: #"@trade","data":{"e":"trade","E":"#.utf8)
        JSONText.appendInt(ms, to: &out)
        out.append(contentsOf: #","s":""#.utf8)
        out.append(contentsOf: sym.utf8)
        out.append(contentsOf: #"","t":"#.utf8)
        JSONText.appendInt(id, to: &out)
        out.append(contentsOf: #","p":""#.utf8)
        JSONText.appendInt(30_000 + Int64(rng.next() % 5_000), to: &out)
        out.append(contentsOf: ".".utf8)
        JSONText.appendInt(10 + Int64(rng.next() % 90), to: &out)
        out.append(contentsOf: #"","q":"0.0"#.utf8)
        JSONText.appendInt(100 + Int64(rng.next() % 900), to: &out)
        out.append(contentsOf: #"","T":"#.utf8)
        JSONText.appendInt(ms, to: &out)
        out.append(contentsOf: (rng.next() & 1 == 0 ? #","m":true,"M":true}}"# : #","m":false,"M":true}}"#).utf8)
    }

    /// Writes `count` trade messages (one every ~50 µs) to `path` and times the writing only
    /// (messages are generated into memory first).
    package static func write(path: String, count: Int, level: Int32 = 3, seed: UInt64 = 1) throws(CaptureError) -> Phase {
        var rng = SplitMix64(seed: seed)
        var arena: [UInt8] = []
        arena.reserveCapacity(count * 170)
        var ends: [Int] = []
        ends.reserveCapacity(count)
        var stamps: [Int64] = []
        stamps.reserveCapacity(count)
        var ts: Int64 = 1_700_000_000_000_000_000
        for i in 0..<count {
            ts += 1 + Int64(rng.next() % 100_000)
            appendTrade(&arena, &rng, id: 1_000_000 + Int64(i), ms: ts / 1_000_000)
            ends.append(arena.count)
            stamps.append(ts)
        }
        let header = CaptureHeader(
            createdNanos: 1_700_000_000_000_000_000, host: HostInfo.hostname(),
            metadata: [("exchange", .string("binance")), ("profile", .string("bench-trades"))])
        let t0 = now(), c0 = cpu()
        let writer = try CaptureWriter(path: path, header: header, options: .init(level: level))
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        let result: Result<Void, CaptureError> = arena.withUnsafeBytes { arenaBytes in
            var start = 0
            do throws(CaptureError) {
                for i in 0..<count {
                    let payload = UnsafeRawBufferPointer(rebasing: arenaBytes[start..<ends[i]])
                    try writer.append(kind: .recv, timestamp: stamps[i], connection: 0, isBinary: false, aux: empty, payload: payload)
                    start = ends[i]
                }
                try writer.close()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        let t1 = now(), c1 = cpu()
        return Phase(
            name: "k2 write (level \(level))", records: count, bytes: Int64(arena.count),
            seconds: Double(t1 - t0) / 1e9, cpuSeconds: c1 - c0, maxRSSKiB: nil)
    }

    /// Reads every record of `path`, touching each payload's length; returns the phase and a
    /// checksum-like sum so the loop cannot be optimised away.
    package static func read(path: String) throws(CaptureError) -> (Phase, Int64) {
        let t0 = now(), c0 = cpu()
        let reader = try CaptureReader(path: path)
        var count = 0
        var sum: Int64 = 0
        while let rec = try reader.next() {
            count += 1
            sum &+= Int64(rec.payload.count) &+ rec.timestamp
        }
        let t1 = now(), c1 = cpu()
        let bytes = (try? CaptureReader(path: path).index().uncompressedBytes) ?? 0
        return (
            Phase(
                name: "k2 read + iterate", records: count, bytes: bytes, seconds: Double(t1 - t0) / 1e9,
                cpuSeconds: c1 - c0, maxRSSKiB: nil), sum
        )
    }

    /// Runs `argv` with stdout to /dev/null (stderr to `stderrPath` when given) and returns wall
    /// seconds, CPU seconds of the child and its children, and the exit status.
    package static func run(_ argv: [String], stderrPath: String? = nil) -> (seconds: Double, cpuSeconds: Double, status: Int32)? {
        let t0 = now()
        // No setpriv in front: the child is measured as it is.
        guard
            let child = try? ChildProcess.start(
                argv, stdout: .null, stderr: stderrPath.map { .file($0) } ?? .inherit,
                dieWithParent: false)
        else { return nil }
        var before = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &before)
        let exit = ChildProcess.wait(child.pid)
        guard exit >= 0 else { return nil }
        let t1 = now()
        var after = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &after)  // includes the child's own children (a shell pipeline)
        return (Double(t1 - t0) / 1e9, seconds(after) - seconds(before), exit)
    }

    package struct Report: Sendable {
        var phases: [Phase]
        package var fileBytes: Int64
        package var uncompressedBytes: Int64
        /// k2's read rate over `zstd -d`'s on CPU time (the goal is ≥ 0.8).
        var readOverZstd: Double?
    }

    /// The whole benchmark: write `records` messages, read them back (best of `repeats`), time
    /// `zstd -d` and `zstdcat | wc -l` on the same file, and measure the peak RSS of a read and
    /// of a slice by running `readCommand + [file]` and `sliceCommand + [file, out]` as children.
    package static func runAll(
        records: Int, dir: String, level: Int32 = 3, repeats: Int = 3,
        readCommand: [String]?, sliceCommand: [String]?, keep: Bool = false
    ) throws(CaptureError) -> Report {
        let path = dir + "/k2-bench-\(getpid()).k2cap"
        let slicePath = dir + "/k2-bench-\(getpid())-slice.k2cap"
        defer {
            if !keep { _ = unlink(path) }
            _ = unlink(slicePath)
        }
        var phases: [Phase] = [try write(path: path, count: records, level: level)]
        let index = try CaptureReader(path: path).index()
        let raw = index.uncompressedBytes
        var best: Phase?
        for _ in 0..<max(repeats, 1) {
            let (phase, _) = try read(path: path)
            if best == nil || phase.cpuSeconds < best!.cpuSeconds { best = phase }
        }
        phases.append(best!)
        func peer(_ name: String, _ argv: [String]) -> Phase? {
            var fastest: Phase?
            for _ in 0..<max(repeats, 1) {
                guard let child = run(argv), child.status == 0 else { return nil }
                if fastest == nil || child.cpuSeconds < fastest!.cpuSeconds {
                    fastest = Phase(name: name, records: records, bytes: raw, seconds: child.seconds, cpuSeconds: child.cpuSeconds, maxRSSKiB: nil)
                }
            }
            return fastest
        }
        let zstdPhase = peer("zstd -d > /dev/null", ["zstd", "-d", "-q", "-c", path])
        if let phase = zstdPhase { phases.append(phase) }
        if let phase = peer("zstdcat | wc -l", ["/bin/sh", "-c", "zstdcat -q '\(path)' | wc -l"]) { phases.append(phase) }
        let errPath = dir + "/k2-bench-\(getpid()).stderr"
        defer { _ = unlink(errPath) }
        /// The child prints `vmhwm_kib=N` on stderr.
        func childRSS() -> Int? {
            let fd = open(errPath, O_RDONLY)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var buf = [UInt8](repeating: 0, count: 4096)
            let readCount = Glibc.read(fd, &buf, buf.count)
            guard readCount > 0 else { return nil }
            let text = String(decoding: buf[0..<readCount], as: UTF8.self)
            guard let part = text.split(separator: "=").last, text.contains("vmhwm_kib=") else { return nil }
            return Int(part.prefix { $0 >= "0" && $0 <= "9" })
        }
        if let readCommand, let child = run(readCommand + [path], stderrPath: errPath), child.status == 0 {
            phases.append(
                Phase(
                    name: "k2 read in a child (peak RSS)", records: records, bytes: raw, seconds: child.seconds,
                    cpuSeconds: child.cpuSeconds, maxRSSKiB: childRSS()))
        }
        if let sliceCommand, let child = run(sliceCommand + [path, slicePath], stderrPath: errPath), child.status == 0 {
            phases.append(
                Phase(
                    name: "k2 slice of 10 s in a child (peak RSS)", records: 0, bytes: 0, seconds: child.seconds,
                    cpuSeconds: child.cpuSeconds, maxRSSKiB: childRSS()))
        }
        let fileBytes = Int64((try? CaptureReader(path: path).fileSize) ?? 0)
        // On CPU time: wall time on a shared machine measures the neighbours as much as k2.
        let ratio = zstdPhase.map { $0.cpuSeconds / max(best!.cpuSeconds, 1e-9) }
        return Report(phases: phases, fileBytes: fileBytes, uncompressedBytes: raw, readOverZstd: ratio)
    }

    /// The report as an aligned table.
    package static func text(_ r: Report) -> String {
        var lines: [String] = []
        lines.append(
            "file: " + SizeText.human(bytes: r.fileBytes) + " (" + SizeText.human(bytes: r.uncompressedBytes)
                + " of blocks, " + TimeText.fixed(Double(r.uncompressedBytes) / Double(max(r.fileBytes, 1)), 2) + ":1)")
        lines.append("rates per CPU second (wall-clock rates in brackets; the machine may be shared)")
        lines.append(
            "phase".padded(40) + "records/s".leftPadded(12) + "MB/s".leftPadded(9) + "cpu s".leftPadded(8)
                + "wall s".leftPadded(8) + "  [records/s wall]" + "peak RSS".leftPadded(11))
        for phase in r.phases {
            let perCPU = phase.cpuSeconds > 0 ? Double(phase.records) / phase.cpuSeconds : 0
            let rate = phase.records > 0 ? Int(perCPU).grouped : "-"
            let mb = phase.bytes > 0 && phase.cpuSeconds > 0 ? TimeText.fixed(Double(phase.bytes) / phase.cpuSeconds / 1e6, 1) : "-"
            let wall = phase.records > 0 ? "[" + Int(phase.recordsPerSecond).grouped + "]" : "-"
            let rss = phase.maxRSSKiB.map { TimeText.fixed(Double($0) / 1024, 1) + " MiB" } ?? "-"
            lines.append(
                phase.name.padded(40) + rate.leftPadded(12) + mb.leftPadded(9) + TimeText.fixed(phase.cpuSeconds, 3).leftPadded(8)
                    + TimeText.fixed(phase.seconds, 3).leftPadded(8) + ("  " + wall).padded(18) + rss.leftPadded(11))
        }
        if let ratio = r.readOverZstd {
            lines.append("k2 read / zstd -d (CPU time): " + TimeText.fixed(ratio, 2) + "x (goal >= 0.80)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
