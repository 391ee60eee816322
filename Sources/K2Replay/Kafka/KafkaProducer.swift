import CRdKafka
import Foundation
import K2Core

/// Receives delivery reports in batches, on the producer's poll thread.
protocol KafkaDeliveryHandler: AnyObject, Sendable {
    /// One entry per message: `tokens[i]` is what was passed to `produce`, `errors[i]` is 0 when
    /// the broker acknowledged it, else librdkafka's error code (see `kafkaErrorString(code:)`).
    func delivered(tokens: UnsafeBufferPointer<UInt>, errors: UnsafeBufferPointer<Int32>)
}

/// A librdkafka producer: configuration from properties, delivery reports through a handler,
/// its own poll thread, client-side diagnostics (the last error librdkafka logged).
///
/// Delivery reports are collected by the (capture-free) C callback into a buffer and handed to
/// the handler in batches of up to `deliveryBatch` after each `rd_kafka_poll`, so that the
/// handler takes its lock once per batch rather than once per message.
///
/// Who serves them: the producing thread itself while it is busy (`pollIfDue`, at most every
/// 0.1 ms, as kcat polls after each message), the poll thread when the producing thread has not
/// polled for `standAside` (a paced replay below a few thousand msg/s, the end of a run).
/// Serving on the producing thread keeps each message's malloc and free on one thread: when
/// another thread frees them, glibc's per-thread cache never refills and every produce pays a
/// full `malloc`, and the freeing thread takes the producing thread's arena lock. `pollLock`
/// makes the two take turns. `standAside` is 0.3 ms for paced replays (a report waits at most
/// that long to be served) and 20 ms at `--speed max`: there the producing thread is only ever
/// off its loop when the scheduler runs another thread (2 cores, 4 busy threads), and with
/// 0.3 ms the poll thread served ~60% of the reports and the replay used ~40% more CPU.
final class KafkaProducer: @unchecked Sendable {
    // unchecked: librdkafka handle (thread-safe); Swift state under `lock`/`pollLock`.
    let rk: OpaquePointer
    let place: String
    private let box: CallbackBox
    private let lock = Lock()
    private var running = true
    private var pollThread: JoinableThread?
    /// Held by whichever thread is inside `rd_kafka_poll` (the report buffer is not shared).
    private let pollLock = Lock()
    /// Monotonic time of the producing thread's last poll (guarded by `lock`).
    private var lastProducerPoll: Int64 = 0
    /// Delivery reports served by each thread (under `pollLock`).
    private var servedByProducingThread = 0
    private var servedByPollThread = 0
    /// How long the producing thread may go without polling before the poll thread serves (guarded by `lock`).
    private var standAside: Int64 = KafkaProducer.pacedStandAsideNanos
    /// The producing thread's own copy (producing thread only).
    private var producerPolled: Int64 = 0
    private let monotonic: any NanoClock
    private var topics: [String: OpaquePointer] = [:]
    /// Most delivery reports handed over in one call; a sink keeps the data of at least
    /// `queue.buffering.max.messages + deliveryBatch` messages addressable by token.
    static let deliveryBatch = 4096

    /// What the callbacks see: the handler, the report buffer and the last client-side errors.
    final class CallbackBox: @unchecked Sendable {
        // unchecked: touched by librdkafka callbacks under `lock` (and under the producer's `pollLock`).
        /// Not `weak`: a weak reference gives the handler (the sink) a side table, and then every
        /// retain/release of it — the engine retains the sink for each `send` — takes the slow
        /// path (~3% of the replay's instructions). The owner calls `detachHandler()` before it goes.
        unowned(unsafe) var handler: (any KafkaDeliveryHandler)?
        let lock = Lock()
        var lastError: String?
        var logLines: [String] = []
        /// A fatal error (idempotent producer) or the code of the last failed delivery.
        var fatal: String?
        // Poll thread only:
        let tokens = UnsafeMutablePointer<UInt>.allocate(capacity: KafkaProducer.deliveryBatch)
        let errors = UnsafeMutablePointer<Int32>.allocate(capacity: KafkaProducer.deliveryBatch)
        var count = 0
        /// Reports handed over since the start (under `pollLock`).
        var served = 0

        deinit {
            tokens.deallocate()
            errors.deallocate()
        }

        func note(_ line: String) {
            lock.withLock {
                lastError = line
                if logLines.count < 50 { logLines.append(line) }
            }
        }

        @inline(__always)
        func add(token: UInt, error: Int32) {
            tokens[count] = token
            errors[count] = error
            count += 1
            served += 1
            if count == KafkaProducer.deliveryBatch { drain() }
        }

        func drain() {
            guard count > 0 else { return }
            handler?.delivered(
                tokens: UnsafeBufferPointer(start: tokens, count: count),
                errors: UnsafeBufferPointer(start: errors, count: count))
            count = 0
        }
    }

    /// Creates the producer. `properties` are applied after k2's defaults, so `-X` overrides them.
    init(
        properties: [(String, String)], defaults: [(String, String)] = [], place: String,
        handler: (any KafkaDeliveryHandler)?, clock: any NanoClock = SystemClock()
    ) throws {
        self.place = place
        monotonic = clock
        let conf = try KafkaConf(defaults + properties, place: place)
        box = CallbackBox()
        box.handler = handler
        let confHandle = conf.handle
        rd_kafka_conf_set_opaque(confHandle, Unmanaged.passUnretained(box).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(confHandle) { _, message, opaque in
            guard let message, let opaque else { return }
            // Once per message: borrow the box (the producer keeps it) rather than retain and release it.
            Unmanaged<CallbackBox>.fromOpaque(opaque)._withUnsafeGuaranteedRef {
                $0.add(token: UInt(bitPattern: k2_message_opaque(message)), error: message.pointee.err.rawValue)
            }
        }
        rd_kafka_conf_set_error_cb(confHandle) { _, err, reason, opaque in
            guard let opaque else { return }
            let box = Unmanaged<CallbackBox>.fromOpaque(opaque).takeUnretainedValue()
            let text = (reason.map { String(cString: $0) }) ?? String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(err)))
            box.note(text)
            if err == RD_KAFKA_RESP_ERR__FATAL.rawValue { box.lock.withLock { box.fatal = text } }
        }
        rd_kafka_conf_set_log_cb(confHandle) { rk, level, _, buf in
            // Keep librdkafka's own stderr quiet; remember warnings and errors for diagnostics.
            guard level <= 4, let rk, let buf, let opaque = rd_kafka_opaque(rk) else { return }
            let box = Unmanaged<CallbackBox>.fromOpaque(opaque).takeUnretainedValue()
            box.note(String(cString: buf))
        }
        var err = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf.take(), &err, err.count) else {
            throw ReplayError(
                .invalidArgument, place: place, what: "cannot create the Kafka producer: \(cText(err))",
                remedy: "check the -X properties")
        }
        rk = handle
    }

    /// Stops handing delivery reports to the handler (call before the handler goes away); waits
    /// for a batch being handed over to finish.
    func detachHandler() {
        pollLock.withLock { box.handler = nil }
    }

    /// Starts the thread that serves delivery reports.
    func startPolling() {
        pollThread = JoinableThread.start { [self] in
            while true {
                let (run, last, aside) = lock.withLock { (running, lastProducerPoll, standAside) }
                guard run else { break }
                let idle = monotonic.monotonicNanos() &- last
                if idle < aside {
                    // The producing thread is busy and serves the reports: nothing to do before
                    // `last + aside`, so sleep until then (0.1 … 5 ms; 5 at most so that `close`
                    // waits little). A fixed 250 µs woke this thread ~4,000 times a second at
                    // `--speed max` (stand-aside 20 ms), each a context switch on the cores the
                    // sending thread needs.
                    usleep(UInt32(Swift.min(Swift.max(aside &- idle, 100_000), 5_000_000) / 1000))
                    continue
                }
                pollLock.withLock { servedByPollThread += serveReports(timeoutMillis: 2) }
            }
            pollLock.withLock { servedByPollThread += serveReports(timeoutMillis: 0) }
        }
    }

    /// Called by the producing thread with the current monotonic time after each message:
    /// serves delivery reports if it has not done so for `everyNanos`.
    @inline(__always)
    func pollIfDue(now: Int64) {
        if now &- producerPolled >= Self.producerPollNanos { pollHere(now: now, timeoutMillis: 0) }
    }

    /// The producing thread polls at most this often (an empty poll costs ~0.1 µs).
    static let producerPollNanos: Int64 = 100_000
    /// Paced replays: the poll thread leaves the reports to the producing thread while that
    /// polled this recently, so a report waits at most ~0.3 ms longer to be served than with a
    /// dedicated thread.
    static let pacedStandAsideNanos: Int64 = 300_000
    /// `--speed max`: the producing thread serves (nearly) every report; see the type's comment.
    static let maxStandAsideNanos: Int64 = 20_000_000

    /// Sets how long the producing thread may go without polling before the poll thread serves.
    func setStandAside(nanos: Int64) {
        lock.withLock { standAside = nanos }
    }

    /// The current stand-aside time (ns).
    var standAsideNanos: Int64 { lock.withLock { standAside } }

    /// Delivery reports served so far on the producing thread and on the poll thread.
    var reportsServed: (producingThread: Int, pollThread: Int) {
        pollLock.withLock { (servedByProducingThread, servedByPollThread) }
    }

    /// Serves delivery reports on the calling (producing) thread, unless the poll thread is at
    /// it (then returns false).
    @discardableResult
    func pollHere(now: Int64, timeoutMillis: Int32) -> Bool {
        producerPolled = now
        lock.withLock { lastProducerPoll = now }
        guard pollLock.tryLock() else { return false }
        servedByProducingThread += serveReports(timeoutMillis: timeoutMillis)
        pollLock.unlock()
        return true
    }

    /// One `rd_kafka_poll` and the hand-over of its reports; returns how many (caller holds `pollLock`).
    @inline(__always)
    private func serveReports(timeoutMillis: Int32) -> Int {
        let before = box.served
        rd_kafka_poll(rk, timeoutMillis)
        box.drain()
        return box.served - before
    }

    /// The topic handle for `name` (created once, cached).
    func topic(_ name: String) -> OpaquePointer? {
        if let cached = topics[name] { return cached }
        guard let handle = rd_kafka_topic_new(rk, name, nil) else { return nil }
        topics[name] = handle
        return handle
    }

    /// Queues one message. The value is copied unless `valueStays` (the caller keeps its bytes
    /// valid and unchanged until the message's delivery report: no `RD_KAFKA_MSG_F_COPY`, and
    /// never `RD_KAFKA_MSG_F_FREE`). Returns nil when queued, else librdkafka's reason — then
    /// librdkafka does not own the message and there will be no delivery report for it.
    /// Waits while librdkafka's queue is full (`queue.buffering.max.messages`; delivery reports
    /// make room), never drops — unless `giveUp()` says the destination is gone, then returns
    /// its reason.
    @inline(__always)
    func produce(
        topic: OpaquePointer, value: UnsafeRawBufferPointer, valueStays: Bool, key: UnsafeRawBufferPointer?,
        headers: (
            StaticString, UnsafeRawBufferPointer, StaticString, UnsafeRawBufferPointer,
            StaticString, UnsafeRawBufferPointer
        )?,
        token: UInt, giveUp: () -> String?
    ) -> String? {
        let flags = valueStays ? 0 : RD_KAFKA_MSG_F_COPY
        // One list for the three headers, kept across queue-full retries; librdkafka owns it once queued.
        let list = headers.flatMap { named in
            k2_headers3(
                UnsafeRawPointer(named.0.utf8Start).assumingMemoryBound(to: CChar.self), named.0.utf8CodeUnitCount,
                named.1.baseAddress, named.1.count,
                UnsafeRawPointer(named.2.utf8Start).assumingMemoryBound(to: CChar.self), named.2.utf8CodeUnitCount,
                named.3.baseAddress, named.3.count,
                UnsafeRawPointer(named.4.utf8Start).assumingMemoryBound(to: CChar.self), named.4.utf8CodeUnitCount,
                named.5.baseAddress, named.5.count)
        }
        var status: rd_kafka_resp_err_t
        var blockedSince: Int64?
        defer { if let blockedSince { blockedNanos &+= monotonic.monotonicNanos() &- blockedSince } }
        repeat {
            status = k2_produce(
                rk, topic, flags, value.baseAddress, value.count,
                key?.baseAddress, key?.count ?? 0, list, UnsafeMutableRawPointer(bitPattern: token))
            // Queue full: serve delivery reports until there is room (never drop).
            if status == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                let now = monotonic.monotonicNanos()
                if blockedSince == nil { blockedSince = now }
                if let reason = giveUp() { if let list { rd_kafka_headers_destroy(list) }; return reason }
                if !pollHere(now: now, timeoutMillis: 1) { usleep(200) }
            }
        } while status == RD_KAFKA_RESP_ERR__QUEUE_FULL
        if status == RD_KAFKA_RESP_ERR_NO_ERROR { return nil }
        if let list { rd_kafka_headers_destroy(list) }
        return kafkaErrorString(status)
    }

    /// Time `produce` spent waiting for room in librdkafka's queue (sending thread only), ns.
    private(set) var blockedNanos: Int64 = 0

    /// Waits until every queued message has its delivery report (served by the poll thread),
    /// or the timeout passes. Returns the number still queued.
    @discardableResult
    func flush(timeoutMillis: Int32) -> Int {
        let deadline = monotonic.monotonicNanos() + Int64(timeoutMillis) * 1_000_000
        while rd_kafka_outq_len(rk) > 0 {
            let now = monotonic.monotonicNanos()
            guard now < deadline else { break }
            if !pollHere(now: now, timeoutMillis: 5) { usleep(1000) }
        }
        return Int(rd_kafka_outq_len(rk))
    }

    /// The idempotent producer's fatal error, if one happened.
    var fatalError: String? { box.lock.withLock { box.fatal } }

    /// Messages (and requests) not yet acknowledged.
    var outstanding: Int { Int(rd_kafka_outq_len(rk)) }

    /// Broker ids and addresses from a metadata request, or a one-line error.
    func brokers(timeoutMillis: Int32) throws -> [String] {
        try KafkaMetadata.brokers(rk, timeoutMillis: timeoutMillis, place: place, diagnostics: box)
    }

    /// The last warning or error librdkafka reported on its own (connection refused …).
    var lastClientError: String? { box.lock.withLock { box.lastError } }
    var clientLog: [String] { box.lock.withLock { box.logLines } }

    /// Purges what is still queued (reported as failed with `Local: Purged ...`) and closes.
    func close(purgeAfterMillis: Int32) {
        if purgeAfterMillis >= 0 {
            flush(timeoutMillis: purgeAfterMillis)
            if rd_kafka_outq_len(rk) > 0 {
                _ = rd_kafka_purge(rk, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
                flush(timeoutMillis: 1000)
            }
        }
        lock.withLock { running = false }
        pollThread?.join()
        pollThread = nil
        for (_, t) in topics { rd_kafka_topic_destroy(t) }
        topics.removeAll()
    }

    deinit {
        if lock.withLock({ running }) { close(purgeAfterMillis: 0) }
        rd_kafka_destroy(rk)
    }
}
