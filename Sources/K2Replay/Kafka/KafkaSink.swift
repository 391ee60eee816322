import CRdKafka
import K2Capture
import K2Core
import Synchronization

/// `kafka://[user:password@]host:port[,host:port]?topic=TEMPLATE` — replays into Kafka/Redpanda
/// (or the embedded broker) with librdkafka.
///
/// - `user:password@` (percent-encoded where needed) sets `sasl.username`/`sasl.password`,
///   `security.protocol=SASL_PLAINTEXT` and `sasl.mechanism=PLAIN`; `-X` overrides any of them
///   (e.g. `-X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-256`);
/// - topic: `{exchange}`, `{stream}`, `{type}` template (default `market.crypto.{type}.{exchange}`);
/// - key: the message's symbol (none if the payload names no symbol);
/// - headers: `k2-receive-ns` (capture receive time) and `k2-intended-ns` (intended send time,
///   wall clock), both decimal ns since the epoch, and `k2-id` (`RUNID-SEQ`: the sink's run id,
///   16 hex digits, and the message's sequence from 0, decimal: the ledger's id, `MessageID`);
///   `headers=off` leaves them out;
/// - idempotence on (`enable.idempotence=true`), `message.timeout.ms=30000` bounds retries
///   when the broker goes away; every `-X key=value` is passed to librdkafka after k2's defaults;
/// - delivery reports give the publish latency from the intended send time and from the actual
///   send time; every message ends delivered or failed with librdkafka's/the broker's reason.
package final class KafkaSink: ReplaySink, KafkaDeliveryHandler, @unchecked Sendable {
    // unchecked: a ring slot is written before produce, read in its delivery report (ordered by librdkafka); counts under the recorder's lock.
    /// Settings of the Kafka sink (from the URI and `-X`).
    package struct Options: Sendable {
        /// `host:port[,host:port]`.
        package var bootstrap: String
        package var topic: TopicTemplate
        /// librdkafka properties (`-X`), applied after k2's defaults.
        package var properties: [KeyValue]
        /// Attach the receive-time and intended-time headers.
        package var headers: Bool = true
        /// How long `open()` waits for the cluster's metadata.
        package var connectTimeoutMillis: Int32 = 5000

        package init(bootstrap: String, topic: TopicTemplate, properties: [KeyValue] = [], headers: Bool = true) {
            self.bootstrap = bootstrap
            self.topic = topic
            self.properties = properties
            self.headers = headers
        }
    }

    /// A librdkafka property (`-X key=value`).
    package struct KeyValue: Sendable, Equatable {
        package var key: String
        package var value: String
        package init(_ key: String, _ value: String) { self.key = key; self.value = value }
        /// Parses `key=value`; a missing `=` is one actionable error.
        package static func parse(_ text: String) throws -> KeyValue {
            let (key, value) = try KafkaConf.parse(text)
            return KeyValue(key, value)
        }
    }

    /// k2's producer defaults (each can be overridden with `-X`).
    static let defaultProperties: [KeyValue] = [
        KeyValue("enable.idempotence", "true"),
        KeyValue("message.timeout.ms", "30000"),
        KeyValue("linger.ms", "5"),
        KeyValue("batch.num.messages", "10000"),
        KeyValue("queue.buffering.max.messages", "100000"),
        KeyValue("socket.timeout.ms", "10000"),
    ]

    package let uri: String
    package let options: Options
    private let clock: any NanoClock
    private var producer: KafkaProducer? {
        didSet { producerRef = producer.map { Unmanaged.passUnretained($0) } }
    }
    /// `producer`, unretained, for `send`: it calls the producer without a retain and release
    /// per message (a strong `guard let` of the `var` took both). Set with `producer`, which holds it.
    @exclusivity(unchecked) private var producerRef: Unmanaged<KafkaProducer>?
    /// Read and written by the sending thread only (`send`): no exclusivity check per message.
    @exclusivity(unchecked) private var topics: TopicCache<OpaquePointer>
    private let recorder: SinkRecorder
    // The sending thread's state below is `@exclusivity(unchecked)`: `send` is the only thing that
    // touches it after `open` (delivery reports only read `ring`/`ringMask`), and a dynamic
    // exclusivity check on them cost ~300 instructions per message (callgrind, issue 18).
    /// Slot ring, `ringStride` words per in-flight message: intended and actual send times
    /// (monotonic ns) and the `CaptureBlock` hold on its payload (0 when the payload was copied).
    @exclusivity(unchecked) private var ring: UnsafeMutablePointer<Int64>
    private static let ringStride = 3
    /// Payload holds taken (sending thread) and released (whoever serves delivery reports).
    @exclusivity(unchecked) private var holdsTaken = 0
    private let holdsReleased = Atomic<Int>(0)
    @exclusivity(unchecked) private var ringMask: UInt = 0
    /// Messages handed to librdkafka so far: the next message's sequence (its `k2-id`); a
    /// message's token is its sequence + 1, its ring slot the sequence masked.
    @exclusivity(unchecked) private var nextSlot: UInt = 0
    /// This sink's run id, the first half of every `k2-id` header.
    package let runID: UInt64
    /// Sequences the broker acknowledged (guarded by `deliveredLock`; grown by delivery reports).
    private var deliveredIDs = SequenceBitmap()
    private let deliveredLock = Lock()
    /// When ids were sent: (sequence, the engine's monotonic send time) of the first message and
    /// then of the first one at least `sendMarkNanos` after the previous mark (guarded by
    /// `deliveredLock`; appended by the sending thread about ten times a second).
    private var sendMarks: [(sequence: UInt64, nanos: Int64)] = []
    @exclusivity(unchecked) private var nextMarkNanos = Int64.min
    /// The resolution of `sendNanos(sequence:)`.
    package static let sendMarkNanos: Int64 = 100_000_000
    @exclusivity(unchecked) private var wallMinusMono: Int64 = 0
    /// The header values' text: receive time at 0, intended time at 32, `k2-id` at 64.
    @exclusivity(unchecked) private var numbers: UnsafeMutableRawBufferPointer
    /// What `numbers` holds of the two times, so that `send` rewrites only what changed.
    @exclusivity(unchecked) private var receiveText = HeaderNumber(offset: 0)
    @exclusivity(unchecked) private var intendedText = HeaderNumber(offset: 32)
    /// What `numbers` holds of the `k2-id` sequence (after the run id's prefix at 64).
    @exclusivity(unchecked) private var sequenceText = SequenceText(offset: 64 + MessageID.prefixLength)
    private let goneLock = Lock()
    private var gone: String?
    private var messageTimeout = ""
    /// Why `finish` purged what was queued (guarded by `goneLock`): purged messages fail with it.
    private var purgeReason: String?

    /// Parses `kafka://host:port[,host:port]?topic=TEMPLATE[&headers=off]`.
    package convenience init(uri: String, properties: [KeyValue] = [], clock: any NanoClock = SystemClock()) throws {
        try self.init(parsed: try SinkURI(parsing: uri), properties: properties, clock: clock)
    }

    convenience init(parsed u: SinkURI, properties: [KeyValue], clock: any NanoClock) throws {
        let uri = u.display
        guard u.scheme == "kafka" else {
            throw ReplayError(.invalidArgument, place: uri, what: "not a kafka:// URI", remedy: "write kafka://host:port?topic=…")
        }
        try u.checkParameters(["topic", "headers"])
        guard !u.authority.isEmpty, u.authority.split(separator: ",").allSatisfy({ $0.contains(":") }) else {
            throw ReplayError(.invalidArgument, place: uri, what: "missing host:port", remedy: "write kafka://127.0.0.1:9092?topic=…")
        }
        var parsedOptions = Options(
            bootstrap: u.authority, topic: try TopicTemplate(u.parameter("topic") ?? TopicTemplate.defaultTemplate),
            properties: Self.saslProperties(user: u.user, password: u.password) + properties)
        if let setting = u.parameter("headers") { parsedOptions.headers = !(setting == "off" || setting == "false" || setting == "0") }
        try self.init(uri: uri, options: parsedOptions, clock: clock)
    }

    /// What `user:password@` in the URI stands for, before the `-X` properties (which override it).
    static func saslProperties(user: String?, password: String?) -> [KeyValue] {
        guard let user else { return [] }
        return [
            KeyValue("security.protocol", "SASL_PLAINTEXT"), KeyValue("sasl.mechanism", "PLAIN"),
            KeyValue("sasl.username", user), KeyValue("sasl.password", password ?? ""),
        ]
    }

    package init(uri: String, options: Options, clock: any NanoClock = SystemClock()) throws {
        self.uri = Secrets.mask(uri)
        self.options = options
        self.clock = clock
        recorder = SinkRecorder(clock: clock)
        topics = TopicCache(template: options.topic)
        ring = .allocate(capacity: Self.ringStride)
        numbers = .allocate(byteCount: 128, alignment: 8)
        runID = UInt64.random(in: 1...UInt64.max)
        // `k2-id`: the run id and '-' are written once at 64..<81, the sequence after them per message.
        _ = MessageID.writePrefix(runID, into: numbers, at: 64)
        // Validate the properties now (bad -X → exit 2 before anything starts).
        _ = try KafkaConf(Self.defaultProperties.map { ($0.key, $0.value) } + options.properties.map { ($0.key, $0.value) }, place: self.uri)
    }

    deinit {
        producer?.detachHandler()
        producer = nil
        ring.deallocate()
        numbers.deallocate()
    }

    package var counts: SinkCounts { recorder.snapshot }

    /// The sequences (`k2-id`) the broker acknowledged so far (a copy).
    package var acknowledgedIDs: SequenceBitmap { deliveredLock.withLock { deliveredIDs } }

    /// When the message with `k2-id` sequence `sequence` was sent (the engine's monotonic ns, its
    /// `actualNanos`), to within `sendMarkNanos` before it; nil before the first message.
    package func sendNanos(sequence: UInt64) -> Int64? {
        deliveredLock.withLock {
            // The last mark at or before the sequence.
            var low = 0
            var high = sendMarks.count
            while low < high {
                let middle = (low + high) / 2
                if sendMarks[middle].sequence <= sequence { low = middle + 1 } else { high = middle }
            }
            return low > 0 ? sendMarks[low - 1].nanos : nil
        }
    }

    /// Counts and publish latency (delivery report time minus intended / actual send time).
    package var stats: SinkStats {
        let served = producer?.reportsServed ?? reportsServed
        return recorder.stats(details: [
            ("topic_template", .string(options.topic.template)),
            ("headers", .bool(options.headers)),
            ("delivery_reports_on_sending_thread", .number("\(served.producingThread)")),
            ("delivery_reports_on_poll_thread", .number("\(served.pollThread)")),
        ])
    }

    /// Delivery reports served on the sending thread and on the poll thread (kept at `finish`).
    private var reportsServed: (producingThread: Int, pollThread: Int) = (0, 0)

    /// How long the sending thread may go without serving delivery reports before the poll
    /// thread does (ns); set by `willStart`, nil before `open`.
    package var deliveryStandAsideNanos: Int64? { producer?.standAsideNanos }

    package func open() throws {
        let props =
            [("bootstrap.servers", options.bootstrap)] + Self.defaultProperties.map { ($0.key, $0.value) }
            + options.properties.map { ($0.key, $0.value) }
        let newProducer = try KafkaProducer(properties: props, place: uri, handler: self, clock: clock)
        _ = try newProducer.brokers(timeoutMillis: options.connectTimeoutMillis)
        let conf = try KafkaConf(props, place: uri)
        let maxQueued = Int(conf.get("queue.buffering.max.messages") ?? "100000") ?? 100_000
        messageTimeout = conf.get("message.timeout.ms") ?? "?"
        // Tokens stay addressable until their (batched) delivery report is handled.
        var cap = 2
        while cap < maxQueued + KafkaProducer.deliveryBatch + 1 { cap <<= 1 }
        ring.deallocate()
        ring = .allocate(capacity: cap * Self.ringStride)
        ringMask = UInt(cap - 1)
        wallMinusMono = clock.wallNanos() - clock.monotonicNanos()
        newProducer.startPolling()
        producer = newProducer
    }

    /// At `--speed max` the producing thread serves the delivery reports itself (see `KafkaProducer`).
    package func willStart(pace: Pace) {
        producer?.setStandAside(nanos: pace == .max ? KafkaProducer.maxStandAsideNanos : KafkaProducer.pacedStandAsideNanos)
    }

    package func send(_ message: borrowing ReplayMessage) throws {
        guard let producerRef else {
            throw ReplayError(.io, place: uri, what: "send before open", remedy: "call open() first")
        }
        try producerRef._withUnsafeGuaranteedRef { producer in try send(message, through: producer) }
    }

    /// `send` with the producer borrowed (`producer` holds it from `open` until `finish`).
    @inline(__always)
    private func send(_ message: borrowing ReplayMessage, through producer: KafkaProducer) throws {
        let payload = message.record.payload
        let fields = message.fields
        // A recent topic first: no closure (and no retain of the producer for it) per message.
        let rkt =
            topics.recentValue(exchange: message.exchange, event: fields.event)
            ?? topics.lookup(exchange: message.exchange, stream: fields.stream, event: fields.event) { producer.topic($0) }
        recorder.sent(bytes: payload.count)
        guard let rkt else { fail("invalid topic name"); return }
        let sequence = nextSlot
        let slot = sequence & ringMask
        nextSlot &+= 1
        if message.actualNanos >= nextMarkNanos {
            nextMarkNanos = message.actualNanos &+ Self.sendMarkNanos
            deliveredLock.withLock { sendMarks.append((UInt64(sequence), message.actualNanos)) }
        }
        // No payload copy: librdkafka points into the reader's block, held until the delivery report.
        let hold = message.record.block?.hold()
        if hold != nil { holdsTaken &+= 1 }
        let entry = ring + Int(slot) * Self.ringStride
        entry[0] = message.intendedNanos
        entry[1] = message.actualNanos
        entry[2] = Int64(Int(bitPattern: hold))
        let err: String?
        if options.headers {
            let n1 = receiveText.write(message.captureNanos, into: numbers)
            let n2 = intendedText.write(message.intendedNanos &+ wallMinusMono, into: numbers)
            let n3 = MessageID.prefixLength + sequenceText.write(Int64(sequence), into: numbers)
            err = producer.produce(
                topic: rkt, value: payload, valueStays: hold != nil, key: fields.symbol,
                headers: (
                    "k2-receive-ns", UnsafeRawBufferPointer(rebasing: numbers[0..<n1]),
                    "k2-intended-ns", UnsafeRawBufferPointer(rebasing: numbers[32..<(32 + n2)]),
                    MessageID.header, UnsafeRawBufferPointer(rebasing: numbers[64..<(64 + n3)])
                ),
                token: sequence + 1
            ) { self.goneReason() }
        } else {
            err = producer.produce(
                topic: rkt, value: payload, valueStays: hold != nil, key: fields.symbol, headers: nil,
                token: sequence + 1
            ) { self.goneReason() }
        }
        if let err {
            // Not queued: librdkafka does not own the message, no delivery report will come.
            if let hold {
                CaptureBlock.release(hold)
                holdsReleased.add(1, ordering: .relaxed)
            }
            fail(err)
        }
        // Serve delivery reports on this thread about once a millisecond (see KafkaProducer).
        producer.pollIfDue(now: message.actualNanos)
        // The broker is gone (messages timed out after message.timeout.ms): stop the replay
        // (checked every 256 messages and whenever the queue is full).
        if nextSlot & 255 == 0 || err != nil, goneReason() != nil {
            throw stopError()
        }
    }

    /// Why the destination counts as gone (a message timed out, or the idempotent producer
    /// hit a fatal error), or nil.
    private func goneReason() -> String? {
        if let failure = producer?.fatalError { return "fatal producer error: \(failure)" }
        return goneLock.withLock { gone }
    }

    /// The error `send` stops the replay with, naming the cause: a fatal error of the idempotent
    /// producer (the broker is there, the producer's sequence state is broken) or a broker gone.
    private func stopError() -> ReplayError {
        if let fatal = producer?.fatalError {
            let sequence = fatal.uppercased().contains("SEQUENCE")
            return ReplayError(
                .unreachable, place: uri,
                what: "the Kafka producer stopped on a fatal error: \(fatal)",
                remedy: sequence
                    ? "the broker rejected the idempotent producer's message sequence (a broker-side loss or a bug, not a network problem); rerun, or check the broker's logs; messages not yet sent are counted as never sent"
                    : "see librdkafka's message; messages not yet sent are counted as never sent")
        }
        return ReplayError(
            .unreachable, place: uri, what: "the Kafka broker went away: \(goneReason() ?? "unreachable")",
            remedy: "check that the broker at \(options.bootstrap) runs; messages not yet sent are counted as never sent")
    }

    private func fail(_ reason: String) {
        recorder.failed(reason: reason)
    }

    /// A batch of delivery reports (poll thread): one lock for the whole batch.
    func delivered(tokens: UnsafeBufferPointer<UInt>, errors: UnsafeBufferPointer<Int32>) {
        let now = clock.monotonicNanos()
        let ring = ring
        var timedOut: String?
        let purged = goneLock.withLock { purgeReason }
        let mask = ringMask
        deliveredLock.withLock {
            for index in 0..<tokens.count where errors[index] == 0 { deliveredIDs.insert(UInt64(tokens[index] &- 1)) }
        }
        var released = 0
        // librdkafka is done with the payloads: release their blocks, one atomic operation per
        // run of reports from the same block (reports come in order per partition, so a batch
        // is mostly runs), not one per message bouncing the block's count between threads.
        var runHold = 0
        var runLength = 0
        recorder.outcomes { outcomes in
            for i in 0..<tokens.count {
                let entry = ring + Int((tokens[i] &- 1) & mask) * Self.ringStride
                let hold = Int(entry[2])
                if hold != 0 {
                    if hold != runHold {
                        if let token = UnsafeMutableRawPointer(bitPattern: runHold) { CaptureBlock.release(token, count: runLength) }
                        runHold = hold
                        runLength = 0
                    }
                    runLength += 1
                    released += 1
                }
                let code = errors[i]
                if code == 0 {
                    outcomes.delivered(intendedNanos: entry[0], actualNanos: entry[1], now: now)
                } else {
                    var reason = kafkaErrorString(rd_kafka_resp_err_t(code))
                    if let purged, code == RD_KAFKA_RESP_ERR__PURGE_QUEUE.rawValue || code == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT.rawValue {
                        reason += " (\(purged))"
                    }
                    outcomes.failed(reason: reason)
                    if Self.meansGone(code) { timedOut = reason }
                }
            }
        }
        if let token = UnsafeMutableRawPointer(bitPattern: runHold) { CaptureBlock.release(token, count: runLength) }
        if released > 0 { holdsReleased.add(released, ordering: .relaxed) }
        if let timedOut {
            let after = messageTimeout
            goneLock.withLock { if gone == nil { gone = "messages failed with '\(timedOut)' (message.timeout.ms=\(after))" } }
        }
    }

    /// Messages whose payload block is still held (sent without a copy, delivery report not yet
    /// served): 0 after `finish` unless librdkafka kept messages past its purge.
    var payloadHolds: Int { holdsTaken - holdsReleased.load(ordering: .relaxed) }

    /// Messages sent without copying their payload.
    var payloadsNotCopied: Int { holdsTaken }

    /// Time `send` waited for room in librdkafka's queue (`queue.buffering.max.messages`).
    package var blockedNanos: Int64 { producer?.blockedNanos ?? 0 }

    /// Delivery errors that mean the broker is unreachable rather than one message being bad.
    static func meansGone(_ code: Int32) -> Bool {
        code == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue || code == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE.rawValue
            || code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue || code == RD_KAFKA_RESP_ERR__TRANSPORT.rawValue
            || code == RD_KAFKA_RESP_ERR__FATAL.rawValue
    }

    /// Waits for the delivery reports of what is queued, at most `timeoutNanos`, then purges
    /// the rest (failed, `Local: Purged …` with the reason). A broker gone for good does not
    /// keep it waiting: when a second passes without a report, a metadata request (1 s) asks
    /// whether any broker answers; none → purge now (so ~2–3 s, not `message.timeout.ms`).
    package func finish(timeoutNanos: Int64) throws {
        guard let activeProducer = producer else { return }
        let deadline = clock.monotonicNanos() + max(0, timeoutNanos)
        var millisLeft: Int32 { Int32(clamping: max(0, (deadline - clock.monotonicNanos()) / 1_000_000)) }
        if let reason = goneReason() {
            // Broker gone: what is still queued would only time out one by one; purge it soon.
            goneLock.withLock { purgeReason = "purged at the end: \(reason)" }
            activeProducer.close(purgeAfterMillis: min(millisLeft, 1000))
        } else {
            while activeProducer.outstanding > 0, millisLeft > 0 {
                let settled = { () -> UInt64 in
                    let snapshot = self.recorder.snapshot; return snapshot.delivered &+ snapshot.failed
                }
                let before = settled()
                activeProducer.flush(timeoutMillis: min(millisLeft, 1000))
                guard activeProducer.outstanding > 0, settled() == before else { continue }
                // No delivery report for a second: is any broker there at all?
                do {
                    _ = try activeProducer.brokers(timeoutMillis: min(millisLeft, 1000))
                } catch {
                    let why =
                        "no Kafka broker at \(options.bootstrap) answered at the end of the replay"
                        + (activeProducer.lastClientError.map { " (\($0))" } ?? "")
                    goneLock.withLock {
                        if gone == nil { gone = why }
                        purgeReason = "purged at the end: \(why)"
                    }
                    break
                }
            }
            if activeProducer.outstanding > 0 {
                let waited = "\(timeoutNanos / 1_000_000_000) s"
                goneLock.withLock { if purgeReason == nil { purgeReason = "purged at the end: the \(waited) finish wait ended first" } }
            }
            activeProducer.close(purgeAfterMillis: 0)
        }
        reportsServed = activeProducer.reportsServed
        producer = nil
    }
}
