import Foundation
import K2Core

/// A reference workload measured in the same run: `zstd -d` of a fixed, seeded 32 MB stream of
/// Binance-like trade lines (the same work a replay's reader does). `compare --normalize`
/// divides throughput by it, so a slower or busier machine does not read as a regression.
public enum ReferenceWorkload {
    /// MB/s of decompressed output, the best of `rounds` (the least disturbed by neighbours).
    public static func zstdDecompress(megabytes: Int = 32, rounds: Int = 3) throws(BenchError) -> Double {
        guard let zstd = which("zstd") else {
            throw BenchError(.run, what: "the zstd command is not installed (the same-run reference)", remedy: "run scripts/install-deps.sh or apt-get install zstd")
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
            let s = symbols[Int(rng.next() % 5)]
            id += 1
            ts += rng.next() % 20
            let price = 50_000 + Double(rng.next() % 1_000_000) / 100
            let qty = Double(rng.next() % 100_000) / 10_000
            let line = "{\"stream\":\"\(s.lowercased())@trade\",\"data\":{\"e\":\"trade\",\"E\":\(ts),\"s\":\"\(s)\",\"t\":\(id),\"p\":\"\(TimeText.fixed(price, 2))\",\"q\":\"\(TimeText.fixed(qty, 4))\",\"T\":\(ts),\"m\":\(rng.next() & 1 == 0)}}\n"
            text.append(contentsOf: line.utf8)
        }
        guard FileManager.default.createFile(atPath: raw, contents: Data(text)) else {
            throw BenchError(.io, path: raw, what: "cannot write the reference input")
        }
        guard run(zstd, ["-q", "-3", "-f", raw, "-o", packed]) != nil else {
            throw BenchError(.run, what: "zstd could not compress the reference input")
        }
        var best = 0.0
        for _ in 0..<rounds {
            guard let secs = run(zstd, ["-q", "-d", "-c", "-f", packed, "-o", "/dev/null"]), secs > 0 else {
                throw BenchError(.run, what: "zstd -d failed on the reference input")
            }
            best = Swift.max(best, Double(text.count) / 1e6 / secs)
        }
        return best
    }

    /// Runs a command with output discarded; returns its wall time in seconds or nil on failure.
    static func run(_ exe: String, _ args: [String]) -> Double? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let clock = SystemClock()
        let t0 = clock.monotonicNanos()
        do { try p.run() } catch { return nil }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return Double(clock.monotonicNanos() - t0) / 1e9
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}
