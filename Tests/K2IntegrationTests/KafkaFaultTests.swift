import Foundation
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// Issue 17, Kafka items: a broker gone for good does not hold `finish` for message.timeout.ms,
/// and `kafka://user:password@host` means SASL, not a host called `user:password@host`.
@Suite(.serialized)
struct KafkaFaultTests {
    /// The broker goes down before anything is delivered and stays down; messages would time
    /// out only after the default message.timeout.ms (30 s). `finish` purges them after a
    /// second without a report and a metadata request no broker answers: a few seconds, every
    /// message failed with a reason that says so.
    @Test func brokerDownForGoodFinishesWithinSeconds() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 2))
        let records = SampleTraffic(seed: 21).records(count: 2_000)
        let sink = try KafkaSink(uri: "kafka://\(broker.bootstrap)")
        try sink.open()
        broker.setBrokerDown(1)
        try SinkDriver.sendAll(sink, records: records)
        let t0 = Date()
        try sink.finish(timeoutNanos: 30_000_000_000)
        let took = Date().timeIntervalSince(t0)
        let c = sink.counts
        print(
            "kafka broker down for good: finish took \(String(format: "%.2f", took)) s; sent \(c.sent), delivered \(c.delivered), failed \(c.failed): \(c.failureReasons)"
        )
        #expect(took < 6, "finish took \(took) s")
        #expect(c.delivered + c.failed == c.sent)
        #expect(c.inFlight == 0)
        #expect(c.failed > 0)
        #expect(c.failureReasons.keys.contains { $0.contains("no Kafka broker") }, "\(c.failureReasons)")
    }

    /// The broker answers Produce with OUT_OF_ORDER_SEQUENCE_NUMBER (45): the idempotent
    /// producer's sequence is broken, the broker is there. The replay stops naming that cause,
    /// not "the broker went away".
    @Test func idempotenceSequenceErrorIsNamedAsSuch() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 1))
        let records = SampleTraffic(seed: 23).records(count: 20_000)
        let sink = try KafkaSink(uri: "kafka://\(broker.bootstrap)", properties: [KafkaSink.KeyValue("message.timeout.ms", "5000")])
        try sink.open()
        try SinkDriver.sendAll(sink, records: Array(records.prefix(200)))
        broker.failNextRequests(apiKey: 0, errorCodes: Array(repeating: 45, count: 50))
        var stopped: String?
        do {
            let clock = SystemClock()
            let t0 = clock.monotonicNanos()
            while stopped == nil, clock.monotonicNanos() - t0 < 20_000_000_000 {
                try SinkDriver.sendAll(sink, records: Array(records.prefix(2_000)))
                usleep(10_000)
            }
        } catch {
            stopped = "\(error)"
        }
        broker.clearRequestErrors(apiKey: 0)
        try sink.finish(timeoutNanos: 10_000_000_000)
        let c = sink.counts
        print("idempotence: stopped with \(stopped ?? "nothing"); sent \(c.sent), delivered \(c.delivered), failed \(c.failed): \(c.failureReasons)")
        let message = try #require(stopped, "the replay did not stop: \(c.failureReasons)")
        #expect(!message.contains("went away"), "\(message)")
        #expect(message.lowercased().contains("sequence"), "\(message)")
        #expect(c.delivered + c.failed == c.sent)
    }

    @Test func userinfoMeansSASL() throws {
        let sink = try KafkaSink(uri: "kafka://alice:p%40ss-w0rd@127.0.0.1:9092,127.0.0.1:9093?topic=t")
        #expect(sink.options.bootstrap == "127.0.0.1:9092,127.0.0.1:9093")
        #expect(sink.uri == "kafka://alice:***@127.0.0.1:9092,127.0.0.1:9093?topic=t")
        let props = sink.options.properties.map { "\($0.key)=\($0.value)" }
        #expect(props == ["security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN", "sasl.username=alice", "sasl.password=p@ss-w0rd"])
        // -X comes after, so it overrides (SASL over TLS, another mechanism).
        let tls = try KafkaSink(
            uri: "kafka://alice:pw12@127.0.0.1:9092",
            properties: [KafkaSink.KeyValue("security.protocol", "SASL_SSL"), KafkaSink.KeyValue("sasl.mechanism", "SCRAM-SHA-256")])
        #expect(tls.options.properties.suffix(2).map(\.value) == ["SASL_SSL", "SCRAM-SHA-256"])
    }
}
