import K2Core

/// An in-process Kafka-protocol broker: librdkafka's mock cluster listening on 127.0.0.1.
/// Other processes (kcat, ClickHouse's Kafka engine, `k2 replay`) reach it over TCP at
/// `bootstrap`.
///
/// Retention trap: each mock partition keeps only its last ~5 MiB or 100,000 message sets and
/// deletes older data, so a big replay cannot be read back whole afterwards. The high
/// watermarks still count every message ever appended: verify counts with
/// `KafkaInspector.highWatermarkSum` (or `kcat -Q`), consume while producing, or spread
/// over more partitions.
package final class EmbeddedBroker: @unchecked Sendable {
    // unchecked: immutable after start; librdkafka's mock cluster is thread-safe.
    /// Settings of the embedded broker.
    package struct Configuration: Sendable {
        /// Number of brokers in the cluster (ids 1…N).
        package var brokers: Int
        /// Partitions of the topics created up front.
        package var partitions: Int
        /// Topics created up front with `partitions` partitions. Other topics are auto-created on
        /// first use with librdkafka's mock default (4 partitions).
        package var topics: [String]

        package init(brokers: Int = 1, partitions: Int = 4, topics: [String] = EmbeddedBroker.standardTopics) {
            self.brokers = brokers
            self.partitions = partitions
            self.topics = topics
        }
    }

    /// The topics the default kafka sink template produces for the three venues:
    /// `market.crypto.{trades,orderbook,ticker}.{binance,kraken,coinbase}`.
    package static let standardTopics: [String] = {
        var out: [String] = []
        for type in ["trades", "orderbook", "ticker"] {
            for ex in ["binance", "kraken", "coinbase"] { out.append("market.crypto.\(type).\(ex)") }
        }
        return out
    }()

    private let cluster: MockCluster
    package let configuration: Configuration
    /// `host:port[,host:port…]` — give it to any Kafka client as bootstrap servers.
    package var bootstrap: String { cluster.bootstraps }

    /// Starts the cluster; it runs until this object is released or `stop()` is called.
    package init(_ configuration: Configuration = .init()) throws {
        guard configuration.brokers >= 1, configuration.brokers <= 16 else {
            throw ReplayError(.invalidArgument, place: "k2 broker", what: "--brokers must be 1…16, got \(configuration.brokers)")
        }
        guard configuration.partitions >= 1, configuration.partitions <= 1024 else {
            throw ReplayError(.invalidArgument, place: "k2 broker", what: "--partitions must be 1…1024, got \(configuration.partitions)")
        }
        self.configuration = configuration
        cluster = try MockCluster(brokers: configuration.brokers)
        for topic in configuration.topics {
            try cluster.createTopic(topic, partitions: configuration.partitions, replication: min(configuration.brokers, 3))
        }
    }

    func createTopic(_ name: String, partitions: Int) throws {
        try cluster.createTopic(name, partitions: partitions, replication: min(configuration.brokers, 3))
    }

    // Fault injection (reproducible broker incidents).

    /// Broker `id` (1-based) goes away: its connections drop and new ones are refused.
    package func setBrokerDown(_ id: Int = 1) { cluster.setDown(broker: Int32(id)) }
    /// Broker `id` comes back.
    package func setBrokerUp(_ id: Int = 1) { cluster.setUp(broker: Int32(id)) }
    /// Adds round-trip delay to broker `id`'s responses.
    package func setRoundTrip(_ id: Int = 1, millis: Int) { cluster.setRTT(broker: Int32(id), millis: Int32(millis)) }
    /// The next requests of `apiKey` (0 Produce, 3 Metadata, 18 ApiVersions) fail with these Kafka error codes.
    package func failNextRequests(apiKey: Int16, errorCodes: [Int32]) { cluster.pushRequestErrors(apiKey: apiKey, errors: errorCodes) }
    package func clearRequestErrors(apiKey: Int16) { cluster.clearRequestErrors(apiKey: apiKey) }
    /// Moves the leadership of `topic`'s `partition` to broker `id`; throws when the cluster refuses
    /// (no such topic, partition or broker).
    package func moveLeader(topic: String, partition: Int, to id: Int) throws {
        let code = cluster.setLeader(topic: topic, partition: Int32(partition), broker: Int32(id))
        if code != 0 {
            throw ReplayError(
                .invalidArgument, place: "k2 broker",
                what: "cannot move the leader of \(topic)/\(partition) to broker \(id): \(KafkaNames.errorName(code))",
                remedy: "name an existing topic, partition and broker (1…\(configuration.brokers))")
        }
    }
    /// Every request about `topic` fails with Kafka error `code` until it is set back to 0.
    package func setTopicError(topic: String, code: Int32) { cluster.setTopicError(topic: topic, code: code) }
}
