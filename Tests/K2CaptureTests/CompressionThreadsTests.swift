import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

/// `CaptureWriter.Options.compressionThreads`: frames compressed on worker threads give the
/// file that compressing on the appending thread gives, byte for byte.
@Suite struct CompressionThreadsTests {
    let dir = TemporaryDirectory()

    /// Sample traffic (plus one record larger than a block, and a `flush` in the middle) written
    /// with `threads` compression threads.
    func write(threads: Int, name: String) throws -> (bytes: Data, index: CaptureIndex, records: [OwnedRecord]) {
        let path = dir.file(name)
        let traffic = SampleTraffic()
        var records = traffic.records(count: 6_000)
        let large = [UInt8](repeating: UInt8(ascii: "x"), count: 100_000)
        records.insert(OwnedRecord(kind: .recv, timestamp: records[3_000].timestamp, connection: 0, payload: large), at: 3_000)
        let writer = try CaptureWriter(
            path: path, header: CaptureHeader(createdNanos: traffic.startNanos, host: "test", metadata: []),
            options: .init(blockSize: 16 * 1024, flushInterval: .max, compressionThreads: threads))
        for (position, record) in records.enumerated() {
            try writer.append(record)
            if position == 4_000 { try writer.flush() }
        }
        try writer.close()
        return (try Data(contentsOf: URL(fileURLWithPath: path)), writer.index, records)
    }

    @Test(arguments: [1, 2, 3])
    func threadsWriteTheSameBytes(_ threads: Int) throws {
        let plain = try write(threads: 0, name: "plain-\(threads).k2cap")
        let threaded = try write(threads: threads, name: "threaded-\(threads).k2cap")
        #expect(plain.index.entries.count > 20)
        #expect(threaded.index.entries == plain.index.entries)
        #expect(threaded.bytes.count == plain.bytes.count)
        #expect(threaded.bytes == plain.bytes)
        let reader = try CaptureReader(path: dir.file("threaded-\(threads).k2cap"))
        var read: [OwnedRecord] = []
        while let record = try reader.next() { read.append(record.owned()) }
        #expect(read == threaded.records)
        #expect(reader.damage == nil)
    }
}
