import Foundation
import K2Capture
import K2Core
import K2Replay

/// Freshness of a pipeline that ends in ClickHouse: marked probe messages produced into the
/// pipeline's topic at a fixed interval, and a poller that asks ClickHouse (over HTTP) which
/// probe rows are visible. A probe's freshness is the time it became visible to a query minus
/// the time it was meant to be sent (its slot on the fixed schedule: coordinated-omission free)
/// and minus the time it was actually produced.
///
/// A probe is the message `{"stream":"k2.probe","data":{"k2_probe":ID,"intended_ns":NS}}` on the
/// same topic as the replayed traffic; the pipeline's schema must route it into `table`
/// (columns `id UInt64`, `intended_ns UInt64`), as reports/workloads/v2-pipeline.sql does.
/// Resolution: a row is stamped visible at the start of the first poll that sees it, so times
/// are within one poll interval (default 50 ms) of the truth.
package final class FreshnessProbes: @unchecked Sendable {
    // unchecked: probe times and counts under `lock`; threads started and joined by the owner.
    package struct Configuration: Sendable {
        /// Bootstrap servers and topic the pipeline reads.
        package var brokers: String
        package var topic: String
        /// ClickHouse HTTP interface.
        package var host: String = "127.0.0.1"
        package var port: Int = 8123
        package var database: String = "default"
        /// Where probe rows land (columns id, intended_ns). Default `k2_probes`.
        package var table: String = "k2_probes"
        /// A table whose row count is sampled every second (rows landed per second), or nil.
        var rowsTable: String? = "bronze"
        /// One probe every `intervalNanos`. Default 1 s.
        package var intervalNanos: Int64 = 1_000_000_000
        /// Poll interval. Default 50 ms.
        var pollNanos: Int64 = 50_000_000
        /// A probe not visible this long after its send time counts as lost. Default 30 s.
        package var timeoutNanos: Int64 = 30_000_000_000

        package init(brokers: String, topic: String, port: Int) {
            self.brokers = brokers
            self.topic = topic
            self.port = port
        }
    }

    /// What the probes saw, for the report.
    package struct Result: Sendable {
        /// Probes sent in the measured window, seen there, and never seen within the timeout.
        package var sent: Int
        package var seen: Int
        package var lost: Int
        /// Rows per second landed in `rowsTable` over the measured window (nil without samples).
        var rowsPerSecond: Double?
        /// Rows in `rowsTable` at the end.
        var rowsAtEnd: UInt64?
        /// Probes (warm-up included) the broker never acknowledged, and why: a lost probe that
        /// is also undelivered was lost before the pipeline, not by it.
        package var undelivered: Int = 0
        package var undeliveredReasons: [String] = []
        /// Ids of the lost probes (the first 10), to look them up in the topic.
        package var lostIDs: [UInt64] = []
        /// Probes of the measured window visible within the timeout of their intended send
        /// (the availability figure: answered in time / sent).
        var answeredInTime: Int = 0
    }

    package let configuration: Configuration
    private let sink: any ReplaySink
    private let clock = SystemClock()
    private let lock = Lock()
    private var intendedWall: [Int64] = []  // by probe id - 1
    private var actualWall: [Int64] = []
    private var visibleWall: [Int64] = []  // 0 = not yet
    /// Every probe below this id has been seen. Probes travel on different partitions and can
    /// become visible out of order, so the poll asks from the first unseen id, not the highest seen.
    private var firstUnseen: UInt64 = 1
    private var rowSamples: [(wall: Int64, rows: UInt64)] = []
    private var rowsAtStart: UInt64?
    private var probesAtStart = 0
    private var landedHigh: UInt64 = 0
    private var measureFromWall: Int64 = .max
    private var measureToWall: Int64 = .max
    private var sending = false
    private var polling = false
    private var sender: JoinableThread?
    private var poller: JoinableThread?
    private var pollError: String?
    private var fromIntended = Histogram(unit: .nanoseconds)
    private var fromActual = Histogram(unit: .nanoseconds)

    /// Connects the probe producer (a Kafka sink of its own) and checks the probe table exists.
    package init(_ configuration: Configuration) throws {
        self.configuration = configuration
        sink = try SinkFactory.make("kafka://\(configuration.brokers)?topic=\(configuration.topic)")
        try sink.open()
        _ = try poll(sql: "SELECT count() FROM \(configuration.table)")
    }

    /// Sends probe 1 and waits until it is visible: the pipeline consumes (the Kafka engine has
    /// joined its group). Returns the seconds it took; throws when nothing arrives in time.
    @discardableResult
    package func waitUntilFlowing(timeoutNanos: Int64 = 90_000_000_000) throws -> Double {
        let start = clock.monotonicNanos()
        try send(intendedWall: clock.wallNanos())
        while clock.monotonicNanos() - start < timeoutNanos {
            let ids = try newIDs()
            if !ids.isEmpty {
                mark(ids, visible: clock.wallNanos())
                return Double(clock.monotonicNanos() - start) / 1e9
            }
            usleep(100_000)
        }
        throw ReplayError(
            .unreachable, place: "\(configuration.database).\(configuration.table)",
            what: "the pipeline delivered no probe to ClickHouse within \(timeoutNanos / 1_000_000_000) s",
            remedy: "check the Kafka engine table (broker list, topic, format) and the server log")
    }

    /// Starts sending a probe every interval and polling. Probes meant before `measureFromWall`
    /// are sent but not measured (warm-up); rows/s are taken over [measureFromWall, measureToWall].
    package func start(measureFromWall: Int64, measureToWall: Int64) {
        let rows = configuration.rowsTable.flatMap { try? rowCount($0) }
        lock.withLock {
            rowsAtStart = rows
            probesAtStart = intendedWall.count
            self.measureFromWall = measureFromWall
            self.measureToWall = measureToWall
            sending = true
            polling = true
        }
        let interval = configuration.intervalNanos
        sender = JoinableThread.start { [self] in
            let wall0 = clock.wallNanos()
            let mono0 = clock.monotonicNanos()
            var probeNumber: Int64 = 1
            while lock.withLock({ sending }) {
                let due = mono0 + probeNumber * interval
                let now = clock.monotonicNanos()
                if now < due { usleep(UInt32(min(50_000, max(1, (due - now) / 1000)))); continue }
                do { try send(intendedWall: wall0 + probeNumber * interval) } catch { lock.withLock { pollError = "\(error)" } }
                probeNumber += 1
            }
        }
        poller = JoinableThread.start { [self] in
            var lastRows: Int64 = 0
            while lock.withLock({ polling }) {
                let polledAt = clock.wallNanos()
                do {
                    let ids = try newIDs()
                    if !ids.isEmpty { mark(ids, visible: polledAt) }
                    if let rt = configuration.rowsTable, polledAt - lastRows >= 1_000_000_000 {
                        lastRows = polledAt
                        let rows = UInt64(try poll(sql: "SELECT count() FROM \(rt)").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
                        lock.withLock { rowSamples.append((polledAt, rows)) }
                    }
                } catch {
                    lock.withLock { pollError = "\(error)" }
                }
                usleep(UInt32(max(1_000, configuration.pollNanos / 1000)))
            }
        }
    }

    /// Stops sending, waits (up to the timeout) for the probes still on their way, stops polling.
    package func stop() -> Result {
        guard sender != nil else { return Result(sent: 0, seen: 0, lost: 0) }
        lock.withLock { sending = false }
        sender?.join()
        // Every probe acknowledged by the broker or failed, before waiting for ClickHouse.
        try? sink.finish(timeoutNanos: 5_000_000_000)
        let counts = sink.counts
        let deadline = clock.monotonicNanos() + configuration.timeoutNanos
        while clock.monotonicNanos() < deadline {
            if lock.withLock({ visibleWall.allSatisfy { $0 != 0 } }) { break }
            usleep(50_000)
        }
        lock.withLock { polling = false }
        poller?.join()
        sender = nil
        poller = nil
        return lock.withLock {
            var sent = 0, seen = 0
            var lostIDs: [UInt64] = []
            var inTime = 0
            for i in intendedWall.indices where intendedWall[i] >= measureFromWall {
                sent += 1
                if visibleWall[i] != 0 { seen += 1 } else if lostIDs.count < 10 { lostIDs.append(UInt64(i + 1)) }
                if visibleWall[i] != 0 && visibleWall[i] - intendedWall[i] <= configuration.timeoutNanos { inTime += 1 }
            }
            return Result(
                sent: sent, seen: seen, lost: sent - seen, rowsPerSecond: rate(), rowsAtEnd: rowSamples.last?.rows,
                undelivered: Int(counts.failed + counts.inFlight),
                undeliveredReasons: counts.failureReasons.sorted { $0.value > $1.value }.map { "\($0.value) × \($0.key)" },
                lostIDs: lostIDs, answeredInTime: inTime)
        }
    }

    /// Probes the broker has acknowledged so far, warm-up included (they share the topic with the
    /// replayed messages, so a count of the topic subtracts them).
    var acknowledged: UInt64 { sink.counts.delivered }

    /// The run id in the probes' `k2-id` headers (their producer's, not the replay's): how the
    /// ledger's read-back tells a probe from a replayed message. A probe's `k2-id` sequence is
    /// its place in the producer's order from 0 (probe id − 1).
    var runID: UInt64? { (sink as? KafkaSink)?.runID }

    /// The probes' `k2-id` sequences the broker has acknowledged so far, warm-up included.
    var acknowledgedIDs: SequenceBitmap { (sink as? KafkaSink)?.acknowledgedIDs ?? SequenceBitmap() }

    /// When the probe with `k2-id` sequence `sequence` was sent (monotonic ns), nil when unknown.
    func sendNanos(sequence: UInt64) -> Int64? { (sink as? KafkaSink)?.sendNanos(sequence: sequence) }

    /// Rows landed in `rowsTable` since `start`, probe rows excluded (they land there too), by a
    /// query now; nil without a rows table or when the query fails.
    func landedSinceStart() -> UInt64? {
        guard let table = configuration.rowsTable, let now = try? rowCount(table) else { return nil }
        return lock.withLock {
            guard let start = rowsAtStart else { return nil }
            // Probes seen by the poller after the count was taken would make the figure step
            // back; it never goes down (rows do not disappear).
            let probes = UInt64(visibleWall.dropFirst(probesAtStart).filter { $0 != 0 }.count)
            let landed = now >= start &+ probes ? now &- start &- probes : 0
            landedHigh = Swift.max(landedHigh, landed)
            return landedHigh
        }
    }

    /// `freshness.intended` and `freshness.actual` (ns), probes in the measured window.
    package var latencies: [String: Histogram] {
        lock.withLock { ["freshness.intended": fromIntended, "freshness.actual": fromActual] }
    }

    /// The last error of the sender or poller (a failed query, a produce error), if any.
    package var lastError: String? { lock.withLock { pollError } }

    // MARK: - Internals

    private func send(intendedWall: Int64) throws {
        let id: Int = lock.withLock {
            self.intendedWall.append(intendedWall)
            actualWall.append(0)
            visibleWall.append(0)
            return self.intendedWall.count
        }
        let actual = clock.wallNanos()
        lock.withLock { actualWall[id - 1] = actual }
        var bytes = Array("{\"stream\":\"k2.probe\",\"data\":{\"k2_probe\":\(id),\"intended_ns\":\(intendedWall)}}".utf8)
        let mono = clock.monotonicNanos()
        try bytes.withUnsafeMutableBytes { raw in
            let payload = UnsafeRawBufferPointer(raw)
            let record = CaptureRecord(
                kind: .recv, timestamp: intendedWall, connection: 0, isBinary: false,
                aux: UnsafeRawBufferPointer(start: nil, count: 0), payload: payload)
            let message = ReplayMessage(
                record: record, fields: PayloadFields.extract(payload), sequence: UInt64(id),
                captureNanos: intendedWall, intendedNanos: mono - (actual - intendedWall),
                actualNanos: mono, exchange: "k2")
            try sink.send(message)
        }
    }

    private func rowCount(_ table: String) throws -> UInt64 {
        UInt64(try poll(sql: "SELECT count() FROM \(table)").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    private func newIDs() throws -> [UInt64] {
        let last = lock.withLock { firstUnseen - 1 }
        let text = try poll(sql: "SELECT id FROM \(configuration.table) WHERE id > \(last) ORDER BY id FORMAT TabSeparated")
        return text.split(separator: "\n").compactMap { UInt64($0) }
    }

    private func mark(_ ids: [UInt64], visible: Int64) {
        lock.withLock {
            for id in ids where id >= 1 && Int(id) <= visibleWall.count {
                let probeIndex = Int(id) - 1
                guard visibleWall[probeIndex] == 0 else { continue }
                visibleWall[probeIndex] = visible
                while Int(firstUnseen) <= visibleWall.count && visibleWall[Int(firstUnseen) - 1] != 0 { firstUnseen += 1 }
                if intendedWall[probeIndex] >= measureFromWall && intendedWall[probeIndex] <= measureToWall {
                    fromIntended.record(max(0, visible - intendedWall[probeIndex]))
                    fromActual.record(max(0, visible - actualWall[probeIndex]))
                }
            }
        }
    }

    /// Every probe of the measured window (warm-up left out): when it was meant to be sent, from
    /// `measureFromWall`, and how long until it was visible (nil: never seen), for the faults'
    /// freshness recovery.
    package func timeline() -> [FaultRecovery.ProbePoint] {
        lock.withLock {
            intendedWall.indices.compactMap { index in
                let intended = intendedWall[index]
                guard intended >= measureFromWall, intended <= measureToWall else { return nil }
                let visible = visibleWall[index]
                return FaultRecovery.ProbePoint(
                    sentSeconds: Double(intended - measureFromWall) / 1e9,
                    freshnessSeconds: visible == 0 ? nil : Double(max(0, visible - intended)) / 1e9)
            }
        }
    }

    private func rate() -> Double? {
        let inWindow = rowSamples.filter { $0.wall >= measureFromWall && $0.wall <= measureToWall }
        guard let firstSample = inWindow.first, let lastSample = inWindow.last, lastSample.wall > firstSample.wall else { return nil }
        return Double(lastSample.rows &- firstSample.rows) / (Double(lastSample.wall - firstSample.wall) / 1e9)
    }

    private let httpLock = Lock()
    private var http: ClickHouseHTTP?

    private func poll(sql: String) throws -> String {
        try httpLock.withLock {
            if http == nil {
                http = try ClickHouseHTTP(
                    host: configuration.host, port: configuration.port, place: "\(configuration.database).\(configuration.table)")
                http!.timeoutMillis = 10_000
            }
            return try http!.execute(sql, database: configuration.database)
        }
    }
}
