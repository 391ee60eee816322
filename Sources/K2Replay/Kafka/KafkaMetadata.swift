import CRdKafka
import Foundation
import K2Core

/// Metadata and watermark queries, usable from any client handle.
enum KafkaMetadata {
    /// The cluster's brokers (`id@host:port`). Turns a failure into one actionable line and
    /// recognises the ApiVersions v3 incompatibility of librdkafka 2.0.x.
    static func brokers(
        _ rk: OpaquePointer, timeoutMillis: Int32, place: String,
        diagnostics: KafkaProducer.CallbackBox?
    ) throws -> [String] {
        var md: UnsafePointer<rd_kafka_metadata_t>?
        let err = rd_kafka_metadata(rk, 0, nil, &md, timeoutMillis)
        defer { if let md { rd_kafka_metadata_destroy(md) } }
        let log = diagnostics.map { d in d.lock.withLock { d.logLines } } ?? []
        if let line = log.first(where: { $0.contains("underflow") && $0.contains("ApiVersion") }) {
            throw ReplayError(
                .unreachable, place: place,
                what: "the broker's ApiVersions v3 reply cannot be read by librdkafka \(versionString) (\(line))",
                remedy:
                    "a known librdkafka 2.0.x bug with brokers that send tagged fields (e.g. Tansu); use a broker such as Redpanda/Kafka, or a librdkafka ≥ 2.1 build"
            )
        }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md, md.pointee.broker_cnt > 0 else {
            let detail = log.last.map { " (\($0))" } ?? ""
            throw ReplayError(
                .unreachable, place: place,
                what: "no Kafka broker answered within \(timeoutMillis) ms: \(kafkaErrorString(err))\(detail)",
                remedy: "check host:port in the URI and that the broker runs (start one with `k2 broker`)")
        }
        var out: [String] = []
        for i in 0..<Int(md.pointee.broker_cnt) {
            let broker = md.pointee.brokers[i]
            out.append("\(broker.id)@\(String(cString: broker.host)):\(broker.port)")
        }
        return out
    }

    /// Partition count of `topic`, or nil if it does not exist.
    static func partitions(_ rk: OpaquePointer, topic: String, timeoutMillis: Int32) -> Int? {
        guard let rkt = rd_kafka_topic_new(rk, topic, nil) else { return nil }
        defer { rd_kafka_topic_destroy(rkt) }
        var md: UnsafePointer<rd_kafka_metadata_t>?
        let err = rd_kafka_metadata(rk, 0, rkt, &md, timeoutMillis)
        defer { if let md { rd_kafka_metadata_destroy(md) } }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md, md.pointee.topic_cnt > 0 else { return nil }
        let topicMetadata = md.pointee.topics[0]
        guard topicMetadata.err == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return Int(topicMetadata.partition_cnt)
    }

    /// (low, high) watermark of one partition.
    static func watermarks(_ rk: OpaquePointer, topic: String, partition: Int32, timeoutMillis: Int32) -> (Int64, Int64)? {
        var lo: Int64 = 0, hi: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, timeoutMillis)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? (lo, hi) : nil
    }

    static var versionString: String { String(cString: rd_kafka_version_str()) }
}

/// A small independent Kafka client: metadata, watermarks and reading messages back.
/// Public, C-free: used by tests and benchmarks to check what a broker holds.
package final class KafkaInspector: @unchecked Sendable {
    // unchecked: a librdkafka handle (thread-safe C API), immutable after init.
    private let rk: OpaquePointer
    package let bootstrap: String

    /// One consumed message.
    package struct Record: Sendable {
        package var partition: Int32
        package var offset: Int64
        package var key: [UInt8]
        package var value: [UInt8]
        package var headers: [String: [UInt8]]
    }

    package init(bootstrap: String, properties: [(String, String)] = []) throws {
        self.bootstrap = bootstrap
        let conf = try KafkaConf(
            [
                ("bootstrap.servers", bootstrap), ("group.id", "k2-inspector"),
                ("enable.auto.commit", "false"), ("log_level", "0"),
            ] + properties,
            place: "kafka://" + bootstrap)
        var err = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf.take(), &err, err.count) else {
            throw ReplayError(.io, place: "kafka://" + bootstrap, what: "cannot create a Kafka client: \(cText(err))")
        }
        rk = handle
    }

    deinit {
        rd_kafka_consumer_close(rk)
        rd_kafka_destroy(rk)
    }

    package func brokers(timeoutMillis: Int32 = 5000) throws -> [String] {
        try KafkaMetadata.brokers(rk, timeoutMillis: timeoutMillis, place: "kafka://" + bootstrap, diagnostics: nil)
    }

    /// Number of partitions of `topic`, nil if it does not exist.
    package func partitions(of topic: String, timeoutMillis: Int32 = 5000) -> Int? {
        KafkaMetadata.partitions(rk, topic: topic, timeoutMillis: timeoutMillis)
    }

    /// Sum of the high watermarks of all partitions: how many messages the topic ever took
    /// (the count to check against; see the mock broker's retention trap in docs/sinks.md).
    package func highWatermarkSum(topic: String, timeoutMillis: Int32 = 5000) -> Int64? {
        watermarks(topic: topic, timeoutMillis: timeoutMillis)?.reduce(0) { $0 + $1.high }
    }

    /// The low and high watermark of each partition of `topic` (index = partition), nil when
    /// the topic or a partition cannot be read. A low watermark above 0 means the broker
    /// deleted the partition's oldest messages (retention).
    package func watermarks(topic: String, timeoutMillis: Int32 = 5000) -> [(low: Int64, high: Int64)]? {
        guard let partitionCount = partitions(of: topic, timeoutMillis: timeoutMillis) else { return nil }
        var out: [(low: Int64, high: Int64)] = []
        for partition in 0..<Int32(partitionCount) {
            guard let (low, high) = KafkaMetadata.watermarks(rk, topic: topic, partition: partition, timeoutMillis: timeoutMillis) else { return nil }
            out.append((low, high))
        }
        return out
    }

    /// Reads up to `max` messages of one partition from `offset`, waiting at most `timeoutMillis` in total.
    package func read(topic: String, partition: Int32, from offset: Int64 = 0, max: Int, timeoutMillis: Int = 5000) -> [Record] {
        guard let list = rd_kafka_topic_partition_list_new(1) else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let tp = rd_kafka_topic_partition_list_add(list, topic, partition)
        tp?.pointee.offset = offset
        guard rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [] }
        defer { _ = rd_kafka_assign(rk, nil) }
        var out: [Record] = []
        let deadline = SystemClock().monotonicNanos() + Int64(timeoutMillis) * 1_000_000
        while out.count < max, SystemClock().monotonicNanos() < deadline {
            guard let message = rd_kafka_consumer_poll(rk, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }
            guard message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            var record = Record(partition: message.pointee.partition, offset: message.pointee.offset, key: [], value: [], headers: [:])
            if let keyBytes = message.pointee.key { record.key = [UInt8](UnsafeRawBufferPointer(start: keyBytes, count: message.pointee.key_len)) }
            if let payload = message.pointee.payload { record.value = [UInt8](UnsafeRawBufferPointer(start: payload, count: message.pointee.len)) }
            var hdrs: OpaquePointer?
            if rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs {
                var idx = 0
                var name: UnsafePointer<CChar>?
                var val: UnsafeRawPointer?
                var size = 0
                while rd_kafka_header_get_all(hdrs, idx, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                    if let name {
                        record.headers[String(cString: name)] = val.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                    }
                    idx += 1
                }
            }
            out.append(record)
        }
        return out
    }
}
