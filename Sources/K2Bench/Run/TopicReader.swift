import Foundation
import K2Core

/// Reads a Kafka topic back while the replay produces into it, with `kcat` as an independent
/// consumer, and measures end-to-end latency per message: from the intended send time (the
/// `k2-intended-ns` header the Kafka sink attaches, wall clock) and from the actual send time
/// (the message's CreateTime, which librdkafka stamps when `produce` is called; ms resolution).
final class TopicReader: @unchecked Sendable {
    // unchecked: histograms and counts under `lock`; pid and thread used by the owner only.
    let brokers: String
    let topic: String
    private var pid: pid_t = 0
    private let lock = Lock()
    private var fromIntended = Histogram(unit: .nanoseconds)
    private var fromActual = Histogram(unit: .nanoseconds)
    private var _consumed: UInt64 = 0
    private var measureFromWall: Int64 = .max
    private var reader: JoinableThread?
    private let clock = SystemClock()

    init(brokers: String, topic: String) {
        self.brokers = brokers
        self.topic = topic
    }

    /// Starts kcat at the topic's end offsets. Messages intended before `measureFromWall` count
    /// as consumed but are not recorded (warm-up).
    func start(measureFromWall: Int64) throws(BenchError) {
        guard let kcat = ChildProcess.which("kcat") else {
            throw BenchError(
                .run, what: "kcat is not installed (the consumer that reads the topic back)",
                remedy: "run scripts/install-deps.sh or apt-get install kcat")
        }
        lock.withLock { self.measureFromWall = measureFromWall }
        let args = [
            kcat, "-C", "-q", "-u", "-b", brokers, "-t", topic, "-o", "end", "-f", "%T %h\\n",
            "-X", "fetch.wait.max.ms=5", "-X", "topic.metadata.refresh.interval.ms=1000",
        ]
        let child: ChildProcess.Started
        do { child = try ChildProcess.start(args, stdout: .pipe, stderr: .null, dieWithParent: false) } catch {
            throw BenchError(.run, what: error.description, remedy: "check that kcat runs")
        }
        pid = child.pid
        guard let readFD = child.stdout else { return }
        reader = JoinableThread.start { [self] in
            defer { close(readFD) }
            var pending: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let readCount = buf.withUnsafeMutableBytes { Glibc.read(readFD, $0.baseAddress, 65536) }
                if readCount < 0 && errno == EINTR { continue }
                if readCount <= 0 { break }
                let now = clock.wallNanos()
                pending.append(contentsOf: buf[0..<readCount])
                var start = 0
                while let nl = pending[start...].firstIndex(of: 10) {
                    line(pending[start..<nl], now: now)
                    start = nl + 1
                }
                pending.removeFirst(start)
            }
        }
    }

    /// `TIMESTAMP_MS k2-receive-ns=…,k2-intended-ns=…`
    private func line(_ bytes: ArraySlice<UInt8>, now: Int64) {
        var created: Int64 = -1
        var intended: Int64 = -1
        var position = bytes.startIndex
        var value: Int64 = 0
        var neg = false
        while position < bytes.endIndex, bytes[position] != 32 {
            if bytes[position] == 45 { neg = true } else { value = value &* 10 &+ Int64(bytes[position] &- 48) }
            position += 1
        }
        created = neg ? -value : value
        let key = Array("k2-intended-ns=".utf8)
        if let match = bytes[position...].firstRange(of: key) {
            var digitPosition = match.upperBound
            var stamp: Int64 = 0
            while digitPosition < bytes.endIndex, bytes[digitPosition] >= 48, bytes[digitPosition] <= 57 {
                stamp = stamp &* 10 &+ Int64(bytes[digitPosition] - 48); digitPosition += 1
            }
            intended = stamp
        }
        lock.withLock {
            _consumed &+= 1
            guard intended > 0, intended >= measureFromWall else { return }
            fromIntended.record(Swift.max(0, now - intended))
            if created > 0 { fromActual.record(Swift.max(0, now - created * 1_000_000)) }
        }
    }

    var consumed: UInt64 { lock.withLock { _consumed } }

    /// Waits up to `graceNanos` for the consumer to catch up with `expected` messages, then stops kcat.
    func stop(expected: UInt64?, graceNanos: Int64 = 5_000_000_000) {
        if let expected {
            let deadline = clock.monotonicNanos() + graceNanos
            while consumed < expected && clock.monotonicNanos() < deadline { usleep(20_000) }
        }
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
        reader?.join()
    }

    /// `end_to_end.intended` and `end_to_end.actual` (ns).
    var latencies: [String: Histogram] {
        lock.withLock { ["end_to_end.intended": fromIntended, "end_to_end.actual": fromActual] }
    }
}
