import CRdKafka
import K2Core

/// librdkafka's in-process mock Kafka cluster (rdkafka_mock.h). The ONLY user of mock-only
/// APIs in k2: the embedded broker (`k2 broker`, tests, the README's main job). Sinks and
/// clients treat it as just another bootstrap address.
final class MockCluster: @unchecked Sendable {
    // unchecked: librdkafka handles (thread-safe C API), immutable after init.
    private let rk: OpaquePointer
    private let mcluster: OpaquePointer
    let bootstraps: String
    let brokerCount: Int

    init(brokers: Int) throws {
        let conf = try KafkaConf([("log_level", "0")], place: "k2 broker")
        var err = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf.take(), &err, err.count) else {
            throw ReplayError(.io, place: "k2 broker", what: "cannot create the librdkafka handle: \(cText(err))")
        }
        guard let cluster = rd_kafka_mock_cluster_new(handle, Int32(brokers)) else {
            rd_kafka_destroy(handle)
            throw ReplayError(
                .io, place: "k2 broker", what: "librdkafka could not start its mock cluster",
                remedy: "check that 127.0.0.1 accepts listening sockets")
        }
        rk = handle
        mcluster = cluster
        brokerCount = brokers
        bootstraps = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(mcluster)
        rd_kafka_destroy(rk)
    }

    func createTopic(_ name: String, partitions: Int, replication: Int) throws {
        let status = rd_kafka_mock_topic_create(mcluster, name, Int32(partitions), Int32(replication))
        if status != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw ReplayError(.io, place: "k2 broker", what: "cannot create topic '\(name)': \(kafkaErrorString(status))")
        }
    }

    /// Broker `id` (1-based) stops answering: connections close, new ones are refused.
    func setDown(broker id: Int32) { _ = rd_kafka_mock_broker_set_down(mcluster, id) }
    func setUp(broker id: Int32) { _ = rd_kafka_mock_broker_set_up(mcluster, id) }
    /// Adds `millis` of round-trip delay to broker `id`'s responses.
    func setRTT(broker id: Int32, millis: Int32) { _ = rd_kafka_mock_broker_set_rtt(mcluster, id, millis) }
    /// The next `errors.count` requests with `apiKey` (0 = Produce, 3 = Metadata …) fail with these codes.
    func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        let codes = errors.map { rd_kafka_resp_err_t($0) }
        codes.withUnsafeBufferPointer { rd_kafka_mock_push_request_errors_array(mcluster, apiKey, codes.count, $0.baseAddress) }
    }
    func clearRequestErrors(apiKey: Int16) { rd_kafka_mock_clear_request_errors(mcluster, apiKey) }
    /// Moves the leadership of `topic`'s `partition` to broker `id`.
    func setLeader(topic: String, partition: Int32, broker id: Int32) -> Int32 {
        Int32(truncatingIfNeeded: rd_kafka_mock_partition_set_leader(mcluster, topic, partition, id).rawValue)
    }
    /// Every request about `topic` fails with `code` (0 clears it).
    func setTopicError(topic: String, code: Int32) { rd_kafka_mock_topic_set_error(mcluster, topic, rd_kafka_resp_err_t(code)) }
}

/// Kafka API keys and error codes by name, for fault schedules and `k2 broker --control-port`.
package enum KafkaNames {
    /// The API keys a fault can target (Kafka protocol numbering).
    package static let apiKeys: [(name: String, key: Int16)] = [
        ("Produce", 0), ("Fetch", 1), ("ListOffsets", 2), ("Metadata", 3), ("OffsetCommit", 8), ("OffsetFetch", 9),
        ("FindCoordinator", 10), ("JoinGroup", 11), ("Heartbeat", 12), ("LeaveGroup", 13), ("SyncGroup", 14),
        ("ApiVersions", 18), ("InitProducerId", 22),
    ]

    /// The key of API `text` (a name above, any case, or a number 0…100); nil otherwise.
    package static func apiKey(_ text: String) -> Int16? {
        if let number = Int16(text), (0...100).contains(number) { return number }
        return apiKeys.first { $0.name.lowercased() == text.lowercased() }?.key
    }

    package static func apiName(_ key: Int16) -> String { apiKeys.first { $0.key == key }?.name ?? "API \(key)" }

    /// The code of error `name` (librdkafka's name, any case, with or without `ERR_`; the
    /// protocol's newer `NOT_LEADER_OR_FOLLOWER` is accepted for code 6), or of a number; nil when unknown.
    package static func errorCode(_ name: String) -> Int32? {
        if let number = Int32(name) { return number }
        var key = name.uppercased()
        if key.hasPrefix("ERR_") { key.removeFirst(4) }
        if key == "NOT_LEADER_OR_FOLLOWER" { return 6 }
        var descs: UnsafePointer<rd_kafka_err_desc>?
        var count = 0
        rd_kafka_get_err_descs(&descs, &count)
        guard let descs else { return nil }
        for index in 0..<count {
            guard let cName = descs[index].name, String(cString: cName) == key else { continue }
            return Int32(truncatingIfNeeded: descs[index].code.rawValue)
        }
        return nil
    }

    /// librdkafka's name of error `code` (e.g. `NOT_LEADER_FOR_PARTITION`).
    package static func errorName(_ code: Int32) -> String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(code))) }
}
