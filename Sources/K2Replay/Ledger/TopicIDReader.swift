import CRdKafka
import Foundation
import K2Core

/// The ledger's read-back stage: a consumer of its own reads every partition of a topic from the
/// beginning while a run produces into it (consuming as it goes: a broker with little retention,
/// like the embedded one, deletes old messages) and tallies the `k2-id` headers of one run id:
/// which sequences it read (a bitmap), duplicates, and messages that came back out of order
/// within their key (partition + key). The freshness probes on the same topic carry `k2-id`s of
/// their own producer's run id (`probeRun`): tallied apart, so a message the broker lost after
/// acknowledging it is known to be a replayed message or a probe.
package final class TopicIDReader: @unchecked Sendable {
    // unchecked: a librdkafka handle (thread-safe C API); the tally and offsets under `lock`.
    /// What was read back.
    package struct Tally: Sendable, Equatable {
        /// Sequences of the run id read at least once.
        package var read = SequenceBitmap()
        /// Messages of the run id read again (same `k2-id`), and the first of them.
        package var duplicates = 0
        package var firstDuplicates: [UInt64] = []
        /// Messages of the run id with a lower sequence than one read before in the same
        /// partition and key, and the first of them.
        package var reordered = 0
        package var firstReordered: [UInt64] = []
        /// Sequences of the probes' run id read at least once, and probes read again.
        package var probesRead = SequenceBitmap()
        package var probeDuplicates = 0
        /// Messages with neither run id's `k2-id` (other producers, earlier repetitions).
        package var others = 0
        /// False when the reader did not reach every partition's high watermark in time (or could not read the topic).
        package var complete = false
        package init() {}
    }

    /// How many first ids each list keeps.
    package static let firstLimit = 5

    package let topic: String
    package let run: UInt64
    /// The run id of the freshness probes' producer; nil without probes.
    package let probeRun: UInt64?
    private let rk: OpaquePointer
    private let lock = Lock()
    private var tally = Tally()
    private var nextOffsets: [Int32: Int64] = [:]
    private var lastByKey: [UInt64: UInt64] = [:]
    private var running = true
    private var thread: JoinableThread?
    private var partitionCount = 0

    package init(bootstrap: String, topic: String, run: UInt64, probeRun: UInt64? = nil) throws {
        self.topic = topic
        self.run = run
        self.probeRun = probeRun
        let conf = try KafkaConf(
            [
                ("bootstrap.servers", bootstrap), ("group.id", "k2-ledger-\(run)"), ("enable.auto.commit", "false"),
                ("auto.offset.reset", "earliest"), ("log_level", "0"),
            ], place: "kafka://" + bootstrap)
        var err = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf.take(), &err, err.count) else {
            throw ReplayError(.io, place: "kafka://" + bootstrap, what: "cannot create the ledger's Kafka consumer: \(cText(err))")
        }
        rk = handle
    }

    deinit {
        if thread != nil { _ = stop(waitNanos: 0) }
        rd_kafka_consumer_close(rk)
        rd_kafka_destroy(rk)
    }

    /// Assigns every partition from its beginning and starts reading on a thread of its own.
    /// Throws when the topic's partitions cannot be read (5 s).
    package func start() throws {
        guard let count = KafkaMetadata.partitions(rk, topic: topic, timeoutMillis: 5000), count > 0 else {
            throw ReplayError(
                .unreachable, place: topic, what: "the ledger cannot read the partitions of topic \(topic)",
                remedy: "create the topic before the run (the embedded broker creates market.crypto.* topics)")
        }
        partitionCount = count
        guard let list = rd_kafka_topic_partition_list_new(Int32(count)) else { return }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for partition in 0..<Int32(count) {
            rd_kafka_topic_partition_list_add(list, topic, partition)?.pointee.offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
        }
        guard rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw ReplayError(.unreachable, place: topic, what: "the ledger's consumer could not be assigned topic \(topic)")
        }
        thread = JoinableThread.start { [self] in
            while lock.withLock({ running }) {
                guard let message = rd_kafka_consumer_poll(rk, 100) else { continue }
                if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR { take(message) }
                rd_kafka_message_destroy(message)
            }
        }
    }

    /// Waits (up to `waitNanos`) until every partition is read up to its high watermark now,
    /// stops and returns the tally.
    package func stop(waitNanos: Int64) -> Tally {
        var high: [Int32: Int64] = [:]
        for partition in 0..<Int32(partitionCount) {
            if let (_, mark) = KafkaMetadata.watermarks(rk, topic: topic, partition: partition, timeoutMillis: 5000) { high[partition] = mark }
        }
        let clock = SystemClock()
        let deadline = clock.monotonicNanos() + waitNanos
        var complete = high.count == partitionCount && partitionCount > 0
        while complete {
            let caughtUp = lock.withLock { high.allSatisfy { partition, mark in mark == 0 || (nextOffsets[partition] ?? 0) >= mark } }
            if caughtUp { break }
            if clock.monotonicNanos() >= deadline {
                complete = false
                break
            }
            usleep(50_000)
        }
        lock.withLock { running = false }
        thread?.join()
        thread = nil
        return lock.withLock {
            tally.complete = complete
            return tally
        }
    }

    /// One message (reader thread): its `k2-id`, duplicates, order within its key.
    private func take(_ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let partition = message.pointee.partition
        var headers: OpaquePointer?
        var value: UnsafeRawPointer?
        var size = 0
        var id: (run: UInt64, sequence: UInt64)?
        if rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers,
            rd_kafka_header_get_last(headers, "k2-id", &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR, let value
        {
            id = MessageID.parse(UnsafeRawBufferPointer(start: value, count: size))
        }
        // FNV-1a of partition and key: the order is kept per key within a partition.
        var key: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(UInt32(bitPattern: partition))
        if let bytes = message.pointee.key {
            for byte in UnsafeRawBufferPointer(start: bytes, count: message.pointee.key_len) { key = (key ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        let offset = message.pointee.offset
        lock.withLock {
            nextOffsets[partition] = max(nextOffsets[partition] ?? 0, offset + 1)
            if let id, id.run != run, id.run == probeRun {
                if !tally.probesRead.insert(id.sequence) { tally.probeDuplicates += 1 }
                return
            }
            guard let id, id.run == run else {
                tally.others += 1
                return
            }
            if !tally.read.insert(id.sequence) {
                tally.duplicates += 1
                if tally.firstDuplicates.count < Self.firstLimit { tally.firstDuplicates.append(id.sequence) }
            }
            if let last = lastByKey[key], id.sequence < last {
                tally.reordered += 1
                if tally.firstReordered.count < Self.firstLimit { tally.firstReordered.append(id.sequence) }
            } else {
                lastByKey[key] = id.sequence
            }
        }
    }
}
