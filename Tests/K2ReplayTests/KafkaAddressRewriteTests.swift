import Testing

@testable import K2Replay

/// Metadata and FindCoordinator responses built byte by byte, as the Kafka protocol lays them
/// out, rewritten to the proxies' addresses (`k2 broker --host`).
@Suite struct KafkaAddressRewriteTests {
    typealias Address = KafkaAddressRewrite.Address
    let map: [Address: Address] = [
        Address(host: "127.0.0.1", port: 40001): Address(host: "10.77.0.1", port: 9092),
        Address(host: "127.0.0.1", port: 40002): Address(host: "10.77.0.1", port: 35555),
    ]

    static func bytes(_ build: (inout [UInt8]) -> Void) -> [UInt8] {
        var out: [UInt8] = []
        build(&out)
        return out
    }

    static func int16(_ value: Int16, _ out: inout [UInt8]) { KafkaAddressRewrite.Writer.int16(value, to: &out) }
    static func int32(_ value: Int32, _ out: inout [UInt8]) { KafkaAddressRewrite.Writer.int32(value, to: &out) }
    static func string(_ value: String, _ out: inout [UInt8]) { KafkaAddressRewrite.Writer.string(value, to: &out) }

    /// Metadata v2: correlation id, brokers [node_id, host, port, rack], cluster_id, controller_id, topics.
    static func metadataV2(_ brokers: [(Int32, String, Int32)]) -> [UInt8] {
        bytes { out in
            int32(7, &out)  // correlation id
            int32(Int32(brokers.count), &out)
            for (node, host, port) in brokers {
                int32(node, &out)
                string(host, &out)
                int32(port, &out)
                int16(-1, &out)  // rack: null
            }
            string("mockCluster", &out)  // cluster_id
            int32(1, &out)  // controller_id
            int32(1, &out)  // one topic
            int16(0, &out)
            string("market.crypto.trades.binance", &out)
            out.append(0)  // is_internal
            int32(0, &out)  // no partitions
        }
    }

    @Test func metadataV2BrokersGetTheProxyAddressesAndTheRestIsKept() throws {
        let frame = Self.metadataV2([(1, "127.0.0.1", 40001), (2, "127.0.0.1", 40002)])
        let out = try #require(KafkaAddressRewrite.rewrite(response: frame, apiKey: 3, version: 2, map: map))
        #expect(out == Self.metadataV2([(1, "10.77.0.1", 9092), (2, "10.77.0.1", 35555)]))
    }

    @Test func metadataV0HasNoRack() throws {
        func v0(_ host: String, _ port: Int32) -> [UInt8] {
            Self.bytes { out in
                Self.int32(9, &out)
                Self.int32(1, &out)
                Self.int32(1, &out)
                Self.string(host, &out)
                Self.int32(port, &out)
                Self.int32(0, &out)  // no topics
            }
        }
        let out = try #require(KafkaAddressRewrite.rewrite(response: v0("127.0.0.1", 40001), apiKey: 3, version: 0, map: map))
        #expect(out == v0("10.77.0.1", 9092))
    }

    @Test func findCoordinatorV1AndV0() throws {
        func v1(_ host: String, _ port: Int32) -> [UInt8] {
            Self.bytes { out in
                Self.int32(11, &out)  // correlation id
                Self.int32(0, &out)  // throttle_time_ms
                Self.int16(0, &out)  // error_code
                Self.string("ok", &out)  // error_message
                Self.int32(2, &out)  // node_id
                Self.string(host, &out)
                Self.int32(port, &out)
            }
        }
        #expect(KafkaAddressRewrite.rewrite(response: v1("127.0.0.1", 40002), apiKey: 10, version: 1, map: map) == v1("10.77.0.1", 35555))
        func v0(_ host: String, _ port: Int32) -> [UInt8] {
            Self.bytes { out in
                Self.int32(12, &out)
                Self.int16(0, &out)
                Self.int32(1, &out)
                Self.string(host, &out)
                Self.int32(port, &out)
            }
        }
        #expect(KafkaAddressRewrite.rewrite(response: v0("127.0.0.1", 40001), apiKey: 10, version: 0, map: map) == v0("10.77.0.1", 9092))
    }

    @Test func otherResponsesUnknownAddressesAndTruncatedFramesStayAsTheyAre() {
        let frame = Self.metadataV2([(1, "127.0.0.1", 40001)])
        #expect(KafkaAddressRewrite.rewrite(response: frame, apiKey: 0, version: 2, map: map) == nil)  // Produce
        #expect(KafkaAddressRewrite.rewrite(response: frame, apiKey: 3, version: 9, map: map) == nil)  // flexible
        #expect(KafkaAddressRewrite.rewrite(response: Self.metadataV2([(1, "127.0.0.1", 1)]), apiKey: 3, version: 2, map: map) == nil)
        for cut in [0, 5, 12, 20] {
            #expect(KafkaAddressRewrite.rewrite(response: Array(frame.prefix(cut)), apiKey: 3, version: 2, map: map) == nil)
        }
    }
}
