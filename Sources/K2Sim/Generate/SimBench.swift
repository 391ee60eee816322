import K2Capture
import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures generation speed: generation alone (records handed to a no-op sink) and
/// generation + `CaptureWriter` (zstd level 3, compressed on `compressionThreads` threads
/// while this one generates, as `k2 sim generate` does) into a file. CPU time is the
/// process's, so it includes the compression threads.
package enum SimBench {
    /// The compression threads of the write pass (`CaptureGenerator.write`'s).
    package static var compressionThreads: Int { CaptureGenerator.compressionThreads }

    package struct Figures: Sendable {
        package var messages: Int64
        package var payloadBytes: Int64
        var wallSeconds: Double
        /// CPU time of this process (user + system), which on a busy machine is the fairer figure.
        package var cpuSeconds: Double
        package var fileBytes: Int64 = 0
        /// CPU time of the generating thread alone (the write pass; compression runs on other
        /// threads): with cores to spare, the wall rate's limit.
        var threadCPUSeconds: Double?

        package var messagesPerSecond: Double { Double(messages) / max(1e-9, wallSeconds) }
        var messagesPerCPUSecond: Double { Double(messages) / max(1e-9, cpuSeconds) }
        package var megabytesPerSecond: Double { Double(payloadBytes) / 1e6 / max(1e-9, wallSeconds) }

        package var line: String {
            "\(messages) msgs, \(SizeText.human(bytes: payloadBytes)) payload in \(TimeText.fixed(wallSeconds, 2)) s wall / \(TimeText.fixed(cpuSeconds, 2)) s CPU: "
                + "\(Int(messagesPerSecond)) msg/s wall, \(Int(messagesPerCPUSecond)) msg/s per CPU-second, \(TimeText.fixed(megabytesPerSecond, 1)) MB/s"
                + (fileBytes > 0 ? ", file \(SizeText.human(bytes: fileBytes))" : "")
                + (threadCPUSeconds.map {
                    "; generating thread \(TimeText.fixed($0, 2)) s (\(Int(Double(messages) / max(1e-9, $0))) msg/s per its CPU-second)"
                } ?? "")
        }
    }

    package static func cpuSeconds() -> Double { seconds(of: CLOCK_PROCESS_CPUTIME_ID) }

    private static func seconds(of clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Generation only.
    package static func generateOnly(profile: SimProfile) -> Figures {
        let generator = CaptureGenerator(profile: profile)
        var result = CaptureGenerator.Result()
        let clock = SystemClock()
        let w0 = clock.monotonicNanos()
        let c0 = cpuSeconds()
        var sink: UInt64 = 0
        try? generator.run(
            { (_, ts, _, p) throws(CaptureError) in sink &+= UInt64(truncatingIfNeeded: ts) &+ UInt64(p.count) },
            opening: { (_) throws(CaptureError) in }, result: &result)
        let c1 = cpuSeconds()
        let w1 = clock.monotonicNanos()
        if sink == 42 { print("") }  // keep the work observable
        return Figures(messages: result.messages, payloadBytes: result.payloadBytes, wallSeconds: Double(w1 - w0) / 1e9, cpuSeconds: c1 - c0)
    }

    /// Generation + capture writing.
    package static func generateAndWrite(profile: SimProfile, path: String) throws(CaptureError) -> Figures {
        let generator = CaptureGenerator(profile: profile)
        let clock = SystemClock()
        let w0 = clock.monotonicNanos()
        let c0 = cpuSeconds()
        let t0 = seconds(of: CLOCK_THREAD_CPUTIME_ID)
        let result = try generator.write(path: path, commandLine: "k2 sim bench")
        let t1 = seconds(of: CLOCK_THREAD_CPUTIME_ID)
        let c1 = cpuSeconds()
        let w1 = clock.monotonicNanos()
        var figures = Figures(messages: result.messages, payloadBytes: result.payloadBytes, wallSeconds: Double(w1 - w0) / 1e9, cpuSeconds: c1 - c0)
        figures.fileBytes = result.fileBytes
        figures.threadCPUSeconds = t1 - t0
        return figures
    }
}
