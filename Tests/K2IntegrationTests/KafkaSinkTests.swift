import Foundation
import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

/// The kafka:// sink against the embedded broker over TCP, checked with independent clients
/// (kcat high watermarks, a separate consumer).
@Suite(.serialized)
struct KafkaSinkTests {
    /// Sum of high watermarks over all partitions, read with `kcat -Q` (not by consuming:
    /// the mock broker's retention trap would hide old messages).
    static func kcatHighWatermarks(_ bootstrap: String, topic: String, partitions: Int) throws -> Int {
        let spec = (0..<partitions).map { "-t \(topic):\($0):-1" }.joined(separator: " ")
        let out = try Shell.run("kcat -b \(bootstrap) -Q \(spec) -m 10")
        // kcat prints one line per partition: `<topic> [<p>] offset <n>`.
        return out.split(separator: "\n").compactMap { line -> Int? in
            guard let r = line.range(of: "offset ") else { return nil }
            return Int(line[r.upperBound...].trimmingCharacters(in: .whitespaces))
        }.reduce(0, +)
    }

    @Test func replayLandsEveryMessageWithKeyAndHeaders() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 4))
        let records = SampleTraffic(seed: 7).records(count: 20_000)
        let trades = SinkDriver.count(records, containing: "\"e\":\"trade\"")
        let depth = SinkDriver.count(records, containing: "\"e\":\"depthUpdate\"")
        let sink = try KafkaSink(uri: "kafka://\(broker.bootstrap)")
        let sent = try SinkDriver.run(sink, records: records)
        let c = sink.counts
        #expect(c.sent == UInt64(sent))
        #expect(c.delivered == UInt64(sent), "failures: \(c.failureReasons)")
        #expect(c.failed == 0)
        #expect(c.inFlight == 0)
        #expect(try Self.kcatHighWatermarks(broker.bootstrap, topic: "market.crypto.trades.binance", partitions: 4) == trades)
        #expect(try Self.kcatHighWatermarks(broker.bootstrap, topic: "market.crypto.orderbook.binance", partitions: 4) == depth)
        #expect(sink.stats.latencyFromIntended.totalCount == UInt64(sent))

        // Key = symbol, headers = receive and intended times, payload byte-exact.
        let inspector = try KafkaInspector(bootstrap: broker.bootstrap)
        var seen = 0
        for p in Int32(0)..<4 {
            for r in inspector.read(topic: "market.crypto.trades.binance", partition: p, max: 5, timeoutMillis: 3000) {
                let text = String(decoding: r.value, as: UTF8.self)
                let key = String(decoding: r.key, as: UTF8.self)
                #expect(text.contains("\"s\":\"\(key)\""))
                let recv = r.headers["k2-receive-ns"].map { String(decoding: $0, as: UTF8.self) }
                #expect(records.contains { $0.payload == r.value && "\($0.timestamp)" == recv })
                let intended = r.headers["k2-intended-ns"].flatMap { Int64(String(decoding: $0, as: UTF8.self)) } ?? 0
                #expect(intended > 1_600_000_000_000_000_000)
                let id = r.headers["k2-id"].flatMap { bytes in bytes.withUnsafeBytes { MessageID.parse($0) } }
                #expect(id?.run == sink.runID && (id?.sequence ?? .max) < UInt64(sent))
                seen += 1
            }
        }
        #expect(seen > 0)
    }

    /// The ledger's read-back: a consumer started before the replay reads every acknowledged
    /// `k2-id` back once, in order within each key; a second producer's ids (the freshness
    /// probes') are tallied apart, a third producer's counted as others.
    @Test func readBackByIDFindsEveryAcknowledgedMessageOnce() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 4, topics: ["ledger.test"]))
        let records = SampleTraffic(seed: 11).records(count: 20_000)
        let sink = try KafkaSink(uri: "kafka://\(broker.bootstrap)?topic=ledger.test")
        let probes = try KafkaSink(uri: "kafka://\(broker.bootstrap)?topic=ledger.test")
        let other = try KafkaSink(uri: "kafka://\(broker.bootstrap)?topic=ledger.test")
        let reader = try TopicIDReader(bootstrap: broker.bootstrap, topic: "ledger.test", run: sink.runID, probeRun: probes.runID)
        try reader.start()
        let sent = try SinkDriver.run(sink, records: records)
        let probesSent = try SinkDriver.run(probes, records: SampleTraffic(seed: 12).records(count: 300))
        let othersSent = try SinkDriver.run(other, records: SampleTraffic(seed: 13).records(count: 100))
        let tally = reader.stop(waitNanos: 15_000_000_000)
        #expect(tally.complete)
        #expect(sink.counts.delivered == UInt64(sent))
        #expect(sink.acknowledgedIDs.count == sent && tally.read.count == sent)
        #expect(sink.acknowledgedIDs.subtracting(tally.read, first: 5).count == 0)
        #expect(tally.duplicates == 0 && tally.reordered == 0 && tally.others == othersSent)
        #expect(tally.probesRead.count == probesSent && tally.probeDuplicates == 0)
        #expect(probes.acknowledgedIDs.subtracting(tally.probesRead, first: 5).count == 0)
        #expect(try Self.kcatHighWatermarks(broker.bootstrap, topic: "ledger.test", partitions: 4) == sent + probesSent + othersSent)
        // The send timeline: every id has a send time, never later than the next id's.
        let first = try #require(sink.sendNanos(sequence: 0))
        let last = try #require(sink.sendNanos(sequence: UInt64(sent - 1)))
        #expect(first <= last && sink.sendNanos(sequence: UInt64(sent / 2)).map { $0 >= first && $0 <= last } == true)
    }

    @Test func topicTemplateWithStreamAndType() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 2, topics: []))
        let records = SampleTraffic(seed: 3, symbols: ["BTCUSDT"]).records(count: 400)
        let sink = try KafkaSink(uri: "kafka://\(broker.bootstrap)?topic=k2.{exchange}.{stream}.{type}")
        let sent = try SinkDriver.run(sink, records: records)
        #expect(sink.counts.delivered == UInt64(sent))
        let inspector = try KafkaInspector(bootstrap: broker.bootstrap)
        let trades = SinkDriver.count(records, containing: "\"e\":\"trade\"")
        #expect(inspector.highWatermarkSum(topic: "k2.binance.btcusdt_trade.trades") == Int64(trades))
        #expect(inspector.highWatermarkSum(topic: "k2.binance.btcusdt_depth_100ms.orderbook") == Int64(sent - trades))
    }

    @Test func unreachableBrokerIsOneActionableError() throws {
        let port = FreePort.next()
        var options = try KafkaSink(uri: "kafka://127.0.0.1:\(port)").options
        options.connectTimeoutMillis = 1500
        let sink = try KafkaSink(uri: "kafka://127.0.0.1:\(port)", options: options)
        do {
            try sink.open()
            Issue.record("open() succeeded against a closed port")
        } catch let e as ReplayError {
            #expect(e.code == .unreachable)
            #expect(!e.description.contains("\n"))
            #expect(e.description.contains("k2 broker"))
        }
    }

    @Test func badPropertyNamesTheProperty() throws {
        #expect {
            _ = try KafkaSink(uri: "kafka://127.0.0.1:9092", properties: [KafkaSink.KeyValue("no.such.property", "1")])
        } throws: { e in
            "\(e)".contains("bad -X property 'no.such.property=1': ")
        }
        #expect(throws: ReplayError.self) { _ = try KafkaSink.KeyValue.parse("novalue") }
        #expect(throws: ReplayError.self) { _ = try KafkaSink(uri: "kafka://127.0.0.1:9092?topic={bogus}") }
    }

    /// The broker goes away mid-run: messages queued after that fail after message.timeout.ms,
    /// and delivered + failed accounts for every message sent.
    @Test func brokerDownMidRunAccountsForEveryMessage() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 2))
        let records = SampleTraffic(seed: 11).records(count: 6_000)
        let sink = try KafkaSink(
            uri: "kafka://\(broker.bootstrap)",
            properties: [KafkaSink.KeyValue("message.timeout.ms", "2000")])
        try sink.open()
        let half = records.count / 2
        try SinkDriver.sendAll(sink, records: Array(records.prefix(half)))
        // Let the first half land, then take the broker down.
        let t0 = Date()
        while sink.counts.inFlight > 0, Date().timeIntervalSince(t0) < 10 { usleep(10_000) }
        let deliveredBefore = sink.counts.delivered
        broker.setBrokerDown(1)
        try SinkDriver.sendAll(sink, records: Array(records.suffix(from: half)))
        try sink.finish(timeoutNanos: 15_000_000_000)
        let c = sink.counts
        #expect(c.sent == UInt64(records.filter { $0.kind == .recv }.count))
        #expect(c.delivered + c.failed == c.sent)
        #expect(c.inFlight == 0)
        #expect(c.failed > 0)
        #expect(c.delivered >= deliveredBefore)
        #expect(!c.failureReasons.isEmpty)
    }

    /// At `--speed max` the sending thread serves the delivery reports (so librdkafka frees each
    /// message on the thread that allocated it); paced, the poll thread steps in after 0.3 ms.
    /// Either way every report is served exactly once and shows up in the sink's details.
    @Test func paceDecidesWhoServesDeliveryReports() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 2))
        let records = SampleTraffic(seed: 5).records(count: 5_000)
        for pace in [Pace.max, .speed(1)] {
            let sink = try KafkaSink(uri: "kafka://\(broker.bootstrap)")
            #expect(sink.deliveryStandAsideNanos == nil)
            try sink.open()
            sink.willStart(pace: pace)
            #expect(sink.deliveryStandAsideNanos == (pace == .max ? 20_000_000 : 300_000))
            try SinkDriver.sendAll(sink, records: records)
            try sink.finish(timeoutNanos: 30_000_000_000)
            let c = sink.counts
            #expect(c.delivered == c.sent && c.sent > 0)
            let details = Dictionary(uniqueKeysWithValues: sink.stats.details.map { ($0.0, $0.1) })
            let onSender = details["delivery_reports_on_sending_thread"]?.numberText.flatMap { UInt64($0) } ?? 0
            let onPoller = details["delivery_reports_on_poll_thread"]?.numberText.flatMap { UInt64($0) } ?? 0
            #expect(onSender + onPoller == c.sent, "\(pace): \(onSender) + \(onPoller) reports for \(c.sent) messages")
        }
    }
}
