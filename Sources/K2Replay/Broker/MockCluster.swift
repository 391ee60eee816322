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
        guard let h = rd_kafka_new(RD_KAFKA_PRODUCER, conf.take(), &err, err.count) else {
            throw ReplayError(.io, place: "k2 broker", what: "cannot create the librdkafka handle: \(cText(err))")
        }
        guard let m = rd_kafka_mock_cluster_new(h, Int32(brokers)) else {
            rd_kafka_destroy(h)
            throw ReplayError(.io, place: "k2 broker", what: "librdkafka could not start its mock cluster",
                            remedy: "check that 127.0.0.1 accepts listening sockets")
        }
        rk = h
        mcluster = m
        brokerCount = brokers
        bootstraps = String(cString: rd_kafka_mock_cluster_bootstraps(m))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(mcluster)
        rd_kafka_destroy(rk)
    }

    func createTopic(_ name: String, partitions: Int, replication: Int) throws {
        let e = rd_kafka_mock_topic_create(mcluster, name, Int32(partitions), Int32(replication))
        if e != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw ReplayError(.io, place: "k2 broker", what: "cannot create topic '\(name)': \(kafkaErrorString(e))")
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
}
