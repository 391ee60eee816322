import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

@testable import K2Replay

/// The kafka:// sink gives librdkafka the payload inside the capture reader's block (no copy)
/// and holds the block until the message's delivery report: what lands on the broker must be
/// the capture's bytes even though the reader recycles its blocks, and every hold must be
/// released on every path (delivered, failed, purged, refused by `produce`).
@Suite(.serialized)
struct KafkaZeroCopyTests {
    let dir = TemporaryDirectory()

    /// Every payload of a topic, read back with kcat (one per line; k2's payloads are JSON lines).
    static func kcatPayloads(_ bootstrap: String, topic: String) throws -> [String] {
        let out = try Shell.run("kcat -C -b \(bootstrap) -t \(topic) -o beginning -e -q -f '%s\\n'")
        return out.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// A replay from a capture of many small blocks (so the reader must recycle blocks while
    /// messages are in flight): the payloads on the broker equal the capture's, every message
    /// went out (most without a copy), and no block is held after `finish`.
    @Test func payloadsLandIntactAndEveryHoldIsReleased() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 2))
        let path = dir.file("zero-copy.k2cap")
        let records = try SampleTraffic(seed: 21).write(to: path, count: 12_000, options: .init(blockSize: 16 * 1024))
        let sink = try KafkaSink(uri: "kafka://\(broker.bootstrap)?topic=k2.zc.{type}")
        var config = ReplayConfig(files: [path])
        config.pace = .max
        let summary = try ReplayEngine(config: config, sinks: [sink]).run()
        let sent = records.filter { $0.kind == .recv }
        #expect(summary.outcome == .completed)
        let c = sink.counts
        #expect(c.sent == UInt64(sent.count))
        #expect(c.delivered == c.sent, "failures: \(c.failureReasons)")
        // Past the cap of held blocks (`CaptureReader.maxHeldBlocks`) the sink copies instead of
        // waiting, so when delivery reports lag (a loaded machine: 10,842 of 12,000 went without
        // a copy in one CI run) some payloads are copied.
        #expect(
            sink.payloadsNotCopied > 0 && sink.payloadsNotCopied <= sent.count,
            "\(sink.payloadsNotCopied) of \(sent.count) without a copy")
        #expect(sink.payloadHolds == 0)

        var landed: [String] = []
        for topic in ["k2.zc.trades", "k2.zc.orderbook"] { landed += try Self.kcatPayloads(broker.bootstrap, topic: topic) }
        let expected = sent.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(landed.count == expected.count)
        #expect(landed.sorted() == expected.sorted(), "payloads on the broker differ from the capture's")
    }

    /// The broker goes down after `open`: every message fails (timed out, then the rest purged
    /// at `finish`), each counted once, and every block hold is released — the reader's pool
    /// drains to zero held blocks.
    @Test func brokerDownEveryMessageFailsAndThePoolDrains() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 2))
        let path = dir.file("down.k2cap")
        try SampleTraffic(seed: 22).write(to: path, count: 4_000, options: .init(blockSize: 8 * 1024))
        let sink = try KafkaSink(
            uri: "kafka://\(broker.bootstrap)",
            properties: [KafkaSink.KeyValue("message.timeout.ms", "1000")])
        try sink.open()
        broker.setBrokerDown(1)
        let reader = try CaptureReader(path: path)
        let clock = SystemClock()
        var sequence: UInt64 = 0
        var stoppedBySink = false
        while let record = try reader.next() {
            guard record.kind == .recv else { continue }
            let now = clock.monotonicNanos()
            let message = ReplayMessage(
                record: record, fields: PayloadFields.extract(record.payload), sequence: sequence,
                captureNanos: record.timestamp, intendedNanos: now, actualNanos: now, exchange: "binance")
            sequence += 1
            do { try sink.send(message) } catch { stoppedBySink = true; break }
            // Slow enough that the first messages time out while the rest is still being sent.
            if sequence % 50 == 0 { usleep(50_000) }
        }
        try sink.finish(timeoutNanos: 10_000_000_000)
        let c = sink.counts
        #expect(stoppedBySink, "the sink never reported the broker gone")
        #expect(c.sent == sequence)
        #expect(c.delivered == 0)
        #expect(c.failed == c.sent)
        #expect(c.inFlight == 0)
        #expect(sink.payloadsNotCopied > 0 && sink.payloadsNotCopied <= Int(sequence))
        #expect(sink.payloadHolds == 0)
        #expect(reader.heldBlocks == 0)
    }

    /// `--speed max` into a broker that is gone: librdkafka queues every message (its queue holds
    /// 100,000) and none is delivered, so without a cap every block stays held — one 8 KiB frame
    /// of ~50 messages each here, one 1 MiB block per ~5,000 messages in a real capture (the
    /// unbounded pool that once asked for 43 GB). With the cap the reader's pool peaks at
    /// `maxHeldBlocks` held blocks, the messages past it are copied, and the pool drains to 0.
    @Test func maxRateIntoAnAbsentBrokerKeepsThePoolUnderTheCap() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 2))
        let path = dir.file("absent.k2cap")
        let records = try SampleTraffic(seed: 23).write(to: path, count: 12_000, options: .init(blockSize: 8 * 1024))
        let sink = try KafkaSink(
            uri: "kafka://\(broker.bootstrap)",
            properties: [KafkaSink.KeyValue("message.timeout.ms", "5000")])
        try sink.open()
        broker.setBrokerDown(1)
        let reader = try CaptureReader(path: path)
        let frames = try reader.index().entries.count
        let clock = SystemClock()
        var sequence: UInt64 = 0
        while let record = try reader.next() {
            guard record.kind == .recv else { continue }
            let now = clock.monotonicNanos()
            let message = ReplayMessage(
                record: record, fields: PayloadFields.extract(record.payload), sequence: sequence,
                captureNanos: record.timestamp, intendedNanos: now, actualNanos: now, exchange: "binance")
            sequence += 1
            do { try sink.send(message) } catch { break }
        }
        let peakHeld = reader.heldBlocksHighWater
        let pool = reader.pooledBuffers
        try sink.finish(timeoutNanos: 10_000_000_000)
        let c = sink.counts
        #expect(frames > 4 * CaptureReader.defaultMaxHeldBlocks)
        #expect(sequence > UInt64(records.count / 2), "sent only \(sequence)")
        #expect(c.delivered == 0)
        #expect(c.failed == c.sent)
        #expect(peakHeld == CaptureReader.defaultMaxHeldBlocks)
        #expect(pool <= CaptureReader.defaultMaxHeldBlocks + 2, "pool grew to \(pool) buffer pairs for \(frames) frames")
        #expect(sink.payloadsNotCopied > 0 && sink.payloadsNotCopied < Int(sequence) / 2)
        #expect(sink.payloadHolds == 0)
        #expect(reader.heldBlocks == 0)
    }

    /// Messages librdkafka refuses in `produce` (too large for `message.max.bytes`): counted
    /// failed at once, their holds released at once (no delivery report will come); the others
    /// are delivered.
    @Test func refusedByProduceReleasesTheHold() throws {
        let broker = try EmbeddedBroker(.init(brokers: 1, partitions: 2))
        let path = dir.file("refused.k2cap")
        let writer = try CaptureWriter(
            path: path,
            header: CaptureHeader(
                createdNanos: 1_700_000_000_000_000_000, host: "test",
                metadata: [("exchange", .string("binance"))]),
            options: .init(blockSize: 8 * 1024))
        let padding = String(repeating: "x", count: 3000)
        var big = 0
        for i in 0..<600 {
            let pad = i % 10 == 3 ? padding : ""
            if !pad.isEmpty { big += 1 }
            try writer.append(
                OwnedRecord(
                    kind: .recv, timestamp: 1_700_000_000_000_000_000 + Int64(i) * 1000, connection: 1,
                    text: #"{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":\#(i),"pad":"\#(pad)"}}"#))
        }
        try writer.close()
        let sink = try KafkaSink(
            uri: "kafka://\(broker.bootstrap)?topic=k2.refused",
            properties: [KafkaSink.KeyValue("message.max.bytes", "2000")])
        var config = ReplayConfig(files: [path])
        config.pace = .max
        _ = try ReplayEngine(config: config, sinks: [sink]).run()
        let c = sink.counts
        #expect(c.sent == 600)
        #expect(c.failed == UInt64(big), "failures: \(c.failureReasons)")
        #expect(c.delivered == UInt64(600 - big))
        #expect(sink.payloadsNotCopied == 600)
        #expect(sink.payloadHolds == 0)
    }
}
