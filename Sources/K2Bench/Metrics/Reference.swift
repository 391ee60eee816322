import Foundation
import K2Core

/// A reference workload measured in the same run: `zstd -d` of a fixed, seeded 32 MB stream of
/// Binance-like trade lines (the same work a replay's reader does). `compare --normalize`
/// divides throughput by it, so a slower or busier machine does not read as a regression.
package enum ReferenceWorkload {
    /// One measurement: wall-clock and CPU-time speed of `zstd -d`.
    package struct Measurement: Sendable, Equatable {
        /// MB of output per wall-clock second (slower when the machine is busy).
        package var mbPerSecond: Double
        /// MB of output per CPU-second of the zstd process (user + system): the machine's speed,
        /// nearly independent of how busy it is.
        package var mbPerCPUSecond: Double
    }

    /// MB/s of decompressed output, the best of `rounds` (the least disturbed by neighbours).
    static func zstdDecompress(megabytes: Int = 32, rounds: Int = 3) throws(BenchError) -> Double {
        try zstdMeasure(megabytes: megabytes, rounds: rounds).mbPerSecond
    }

    /// Wall-clock and CPU-time speed of `zstd -d`, each the best of `rounds`.
    package static func zstdMeasure(megabytes: Int = 32, rounds: Int = 3) throws(BenchError) -> Measurement {
        guard let zstd = ChildProcess.which("zstd") else {
            throw BenchError(
                .run, what: "the zstd command is not installed (the same-run reference)",
                remedy: "run scripts/install-deps.sh or apt-get install zstd")
        }
        let dir = NSTemporaryDirectory() + "k2-ref-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = dir + "/ref.ndjson", packed = raw + ".zst"
        var rng = SplitMix64(seed: 2026)
        var text: [UInt8] = []
        text.reserveCapacity(megabytes * 1_000_000 + 300)
        let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]
        var id: UInt64 = 1_000_000
        var ts: UInt64 = 1_763_769_600_000
        while text.count < megabytes * 1_000_000 {
            let symbol = symbols[Int(rng.next() % 5)]
            id += 1
            ts += rng.next() % 20
            let price = 50_000 + Double(rng.next() % 1_000_000) / 100
            let qty = Double(rng.next() % 100_000) / 10_000
            let line =
                "{\"stream\":\"\(symbol.lowercased())@trade\",\"data\":{\"e\":\"trade\",\"E\":\(ts),\"s\":\"\(symbol)\",\"t\":\(id),\"p\":\"\(TimeText.fixed(price, 2))\",\"q\":\"\(TimeText.fixed(qty, 4))\",\"T\":\(ts),\"m\":\(rng.next() & 1 == 0)}}\n"
            text.append(contentsOf: line.utf8)
        }
        guard FileManager.default.createFile(atPath: raw, contents: Data(text)) else {
            throw BenchError(.io, path: raw, what: "cannot write the reference input")
        }
        guard run(zstd, ["-q", "-3", "-f", raw, "-o", packed]) != nil else {
            throw BenchError(.run, what: "zstd could not compress the reference input")
        }
        var best = Measurement(mbPerSecond: 0, mbPerCPUSecond: 0)
        for _ in 0..<rounds {
            let cpu0 = childCPUSeconds()
            guard let secs = run(zstd, ["-q", "-d", "-c", "-f", packed, "-o", "/dev/null"]), secs > 0 else {
                throw BenchError(.run, what: "zstd -d failed on the reference input")
            }
            let cpu = childCPUSeconds() - cpu0
            best.mbPerSecond = Swift.max(best.mbPerSecond, Double(text.count) / 1e6 / secs)
            if cpu > 0 { best.mbPerCPUSecond = Swift.max(best.mbPerCPUSecond, Double(text.count) / 1e6 / cpu) }
        }
        if best.mbPerCPUSecond == 0 { best.mbPerCPUSecond = best.mbPerSecond }
        return best
    }

    /// User + system CPU seconds of this process's reaped children.
    static func childCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec)
            / 1e6
    }

    /// Runs a command with output discarded; returns its wall time in seconds or nil on failure.
    static func run(_ exe: String, _ args: [String]) -> Double? {
        let clock = SystemClock()
        let t0 = clock.monotonicNanos()
        guard let child = try? ChildProcess.start([exe] + args, dieWithParent: false),
            ChildProcess.wait(child.pid) == 0
        else { return nil }
        return Double(clock.monotonicNanos() - t0) / 1e9
    }
}
