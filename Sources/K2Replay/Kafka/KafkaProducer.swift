import CRdKafka
import Foundation
import K2Core

/// Receives one delivery report per produced message, on the producer's poll thread.
protocol KafkaDeliveryHandler: AnyObject, Sendable {
    /// `token` is what was passed to `produce`; `error` is nil when the broker acknowledged the message.
    func delivered(token: UInt, error: String?)
}

/// A librdkafka producer: configuration from properties, delivery reports through a handler,
/// its own poll thread, client-side diagnostics (the last error librdkafka logged).
final class KafkaProducer: @unchecked Sendable {
    let rk: OpaquePointer
    let place: String
    private let box: CallbackBox
    private let lock = Lock()
    private var running = true
    private var pollThread: Thread?
    private var topics: [String: OpaquePointer] = [:]

    /// What the callbacks see: the handler and the last client-side errors.
    final class CallbackBox: @unchecked Sendable {
        weak var handler: (any KafkaDeliveryHandler)?
        let lock = Lock()
        var lastError: String?
        var logLines: [String] = []
        func note(_ line: String) {
            lock.withLock {
                lastError = line
                if logLines.count < 50 { logLines.append(line) }
            }
        }
    }

    /// Creates the producer. `properties` are applied after k2's defaults, so `-X` overrides them.
    init(properties: [(String, String)], defaults: [(String, String)] = [], place: String,
         handler: (any KafkaDeliveryHandler)?) throws {
        self.place = place
        let conf = try KafkaConf(defaults + properties, place: place)
        box = CallbackBox()
        box.handler = handler
        let c = conf.handle
        rd_kafka_conf_set_opaque(c, Unmanaged.passUnretained(box).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(c) { _, message, opaque in
            guard let message, let opaque else { return }
            let box = Unmanaged<CallbackBox>.fromOpaque(opaque).takeUnretainedValue()
            let token = UInt(bitPattern: k2_message_opaque(message))
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                box.handler?.delivered(token: token, error: nil)
            } else {
                let reason = String(cString: rd_kafka_err2str(message.pointee.err))
                box.handler?.delivered(token: token, error: reason)
            }
        }
        rd_kafka_conf_set_error_cb(c) { _, err, reason, opaque in
            guard let opaque else { return }
            let box = Unmanaged<CallbackBox>.fromOpaque(opaque).takeUnretainedValue()
            box.note((reason.map { String(cString: $0) }) ?? String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(err))))
        }
        rd_kafka_conf_set_log_cb(c) { rk, level, _, buf in
            // Keep librdkafka's own stderr quiet; remember warnings and errors for diagnostics.
            guard level <= 4, let rk, let buf, let opaque = rd_kafka_opaque(rk) else { return }
            let box = Unmanaged<CallbackBox>.fromOpaque(opaque).takeUnretainedValue()
            box.note(String(cString: buf))
        }
        var err = [CChar](repeating: 0, count: 512)
        guard let h = rd_kafka_new(RD_KAFKA_PRODUCER, conf.take(), &err, err.count) else {
            throw ReplayError(.invalidArgument, place: place, what: "cannot create the Kafka producer: \(cText(err))",
                            remedy: "check the -X properties")
        }
        rk = h
    }

    /// Starts the thread that serves delivery reports.
    func startPolling() {
        let t = Thread { [self] in
            while lock.withLock({ running }) { rd_kafka_poll(rk, 50) }
        }
        t.name = "k2-kafka-poll"
        pollThread = t
        t.start()
    }

    /// The topic handle for `name` (created once, cached).
    func topic(_ name: String) -> OpaquePointer? {
        if let t = topics[name] { return t }
        guard let t = rd_kafka_topic_new(rk, name, nil) else { return nil }
        topics[name] = t
        return t
    }

    /// Queues one message (value copied). Returns nil when queued, else librdkafka's reason.
    /// Waits (serving delivery reports) while librdkafka's queue is full (`queue.buffering.max.messages`), never drops.
    @inline(__always)
    func produce(topic: OpaquePointer, value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?,
                 header1: (StaticString, UnsafeRawBufferPointer)?, header2: (StaticString, UnsafeRawBufferPointer)?,
                 token: UInt) -> String? {
        let flags = RD_KAFKA_MSG_F_COPY
        var r: rd_kafka_resp_err_t
        repeat {
            r = k2_produce(rk, topic, flags, value.baseAddress, value.count,
                           key?.baseAddress, key?.count ?? 0,
                           header1.map { UnsafeRawPointer($0.0.utf8Start).assumingMemoryBound(to: CChar.self) },
                           header1?.1.baseAddress, header1.map { $0.1.count } ?? 0,
                           header2.map { UnsafeRawPointer($0.0.utf8Start).assumingMemoryBound(to: CChar.self) },
                           header2?.1.baseAddress, header2.map { $0.1.count } ?? 0,
                           UnsafeMutableRawPointer(bitPattern: token))
            // Queue full: serve delivery reports here until there is room (never drop).
            if r == RD_KAFKA_RESP_ERR__QUEUE_FULL { rd_kafka_poll(rk, 5) }
        } while r == RD_KAFKA_RESP_ERR__QUEUE_FULL
        return r == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : kafkaErrorString(r)
    }

    /// Waits until every queued message has its delivery report, or the timeout passes.
    /// Returns the number still queued.
    @discardableResult
    func flush(timeoutMillis: Int32) -> Int {
        _ = rd_kafka_flush(rk, timeoutMillis)
        return Int(rd_kafka_outq_len(rk))
    }

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
            _ = rd_kafka_flush(rk, purgeAfterMillis)
            if rd_kafka_outq_len(rk) > 0 {
                _ = rd_kafka_purge(rk, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
                _ = rd_kafka_flush(rk, 1000)
            }
        }
        lock.withLock { running = false }
        while let t = pollThread, !t.isFinished { usleep(1000) }
        pollThread = nil
        for (_, t) in topics { rd_kafka_topic_destroy(t) }
        topics.removeAll()
    }

    deinit {
        if lock.withLock({ running }) { close(purgeAfterMillis: 0) }
        rd_kafka_destroy(rk)
    }
}
