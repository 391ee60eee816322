import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

/// `CaptureBlock`: a consumer holds the block a record points into, and the reader neither
/// overwrites nor frees it until every hold is released; released blocks are reused; holds past
/// the reader's cap are refused, so the pool stays bounded whatever the consumer does.
@Suite struct CaptureBlockTests {
    let dir = TemporaryDirectory()

    /// A capture of many small frames (a read crosses dozens of frame boundaries).
    func capture(_ name: String, count: Int = 6000) throws -> (String, [OwnedRecord]) {
        let path = dir.file(name)
        let all = try SampleTraffic().write(to: path, count: count, options: .init(blockSize: 8 * 1024))
        return (path, all)
    }

    /// Holds every record's block while reading the whole capture (with and without read-ahead,
    /// plain scan and planned read), then checks every held payload still has its bytes.
    @Test(arguments: [false, true])
    func heldPayloadsStayIntactUntilReleased(readAhead: Bool) throws {
        let (path, all) = try capture("held-\(readAhead).k2cap")
        let reader = try CaptureReader(path: path)
        reader.maxHeldBlocks = 1000
        reader.readAhead = readAhead
        if readAhead { reader.restrict(to: try reader.index().entries) }
        var held: [(token: UnsafeMutableRawPointer, payload: UnsafeRawBufferPointer)] = []
        while let record = try reader.next() {
            let block = try #require(record.block)
            held.append((try #require(block.hold()), record.payload))
        }
        #expect(held.count == all.count)
        // Every data block is held (one per frame); at most the current and spare pair are free.
        let frames = try reader.index().entries.count
        #expect(frames > 40)
        #expect(reader.heldBlocks == frames)
        #expect(reader.pooledBuffers <= frames + 2)
        for (i, h) in held.enumerated() where Array(h.payload) != all[i].payload {
            Issue.record("record \(i): payload changed while held")
            break
        }
        for h in held { CaptureBlock.release(h.token) }
        #expect(reader.heldBlocks == 0)
        // Released blocks are reused: a second pass with no holds grows the pool no further.
        let pool = reader.pooledBuffers
        if readAhead { reader.restrict(to: try reader.index().entries) } else { reader.rewind() }
        var again: [OwnedRecord] = []
        while let record = try reader.next() { again.append(record.owned()) }
        #expect(again == all)
        #expect(reader.pooledBuffers == pool)
    }

    /// A bounded number of holds in flight (as librdkafka's queue bounds its messages): the
    /// pool stays small, and records read later are intact.
    @Test func boundedHoldsKeepThePoolSmall() throws {
        let (path, all) = try capture("bounded.k2cap")
        let reader = try CaptureReader(path: path)
        var window: [(token: UnsafeMutableRawPointer, payload: UnsafeRawBufferPointer, index: Int)] = []
        var index = 0
        var mismatches = 0
        while let record = try reader.next() {
            let block = try #require(record.block)
            window.append((try #require(block.hold()), record.payload, index))
            index += 1
            if window.count > 300 {
                let oldest = window.removeFirst()
                if Array(oldest.payload) != all[oldest.index].payload { mismatches += 1 }
                CaptureBlock.release(oldest.token)
            }
        }
        #expect(mismatches == 0)
        // ~50 records per 8 KiB frame: 300 held records span about 7 blocks.
        #expect(reader.pooledBuffers < 20, "pool grew to \(reader.pooledBuffers)")
        for h in window { CaptureBlock.release(h.token) }
        #expect(reader.heldBlocks == 0)
    }

    /// A consumer that holds every record and never lets go (a broker that is gone, a partition
    /// that never delivers): past `maxHeldBlocks` blocks, `hold()` on a new block returns nil
    /// (the consumer copies), so the pool stops at the cap + 2 pairs instead of one pair per frame
    /// (it used to grow without bound: 43 GB in a test before the cap). The blocks held keep
    /// their bytes; holds on a block already held still succeed.
    @Test(arguments: [false, true])
    func holdsPastTheCapAreRefusedAndThePoolStaysBounded(readAhead: Bool) throws {
        let (path, all) = try capture("capped-\(readAhead).k2cap")
        let reader = try CaptureReader(path: path)
        reader.maxHeldBlocks = 8
        reader.readAhead = readAhead
        if readAhead { reader.restrict(to: try reader.index().entries) }
        var held: [(token: UnsafeMutableRawPointer, payload: UnsafeRawBufferPointer, index: Int)] = []
        var refused = 0
        var index = 0
        while let record = try reader.next() {
            if let token = try #require(record.block).hold() {
                held.append((token, record.payload, index))
            } else {
                refused += 1
            }
            index += 1
        }
        let frames = try reader.index().entries.count
        #expect(frames > 40)
        #expect(reader.heldBlocks == 8)
        #expect(reader.heldBlocksHighWater == 8)
        #expect(reader.pooledBuffers <= 8 + 2, "pool grew to \(reader.pooledBuffers) for \(frames) frames")
        // Every record of the first eight blocks was held (later holds on a held block succeed),
        // every later one refused.
        #expect(held.count + refused == all.count)
        #expect(held.map(\.index) == Array(0..<held.count))
        #expect(refused > all.count / 2)
        for h in held where Array(h.payload) != all[h.index].payload {
            Issue.record("record \(h.index): payload changed while held")
            break
        }
        for h in held { CaptureBlock.release(h.token) }
        #expect(reader.heldBlocks == 0)
        // Released blocks count again: a new hold succeeds.
        if readAhead { reader.restrict(to: try reader.index().entries) } else { reader.rewind() }
        let first = try #require(try reader.next())
        let firstBlock = try #require(first.block)
        let token = try #require(firstBlock.hold())
        #expect(reader.heldBlocks == 1)
        CaptureBlock.release(token)
        #expect(reader.heldBlocks == 0)
    }

    /// A hold released after the reader is gone: the block outlived the reader with its bytes,
    /// and the last release frees it (no crash; the address sanitizer would see a use-after-free).
    @Test func aBlockHeldPastItsReaderStaysValid() throws {
        let (path, all) = try capture("outlive.k2cap", count: 200)
        var token: UnsafeMutableRawPointer?
        var payload: UnsafeRawBufferPointer?
        do {
            let reader = try CaptureReader(path: path)
            let record = try #require(try reader.next())
            token = try #require(record.block).hold()
            #expect(token != nil)
            payload = record.payload
        }
        #expect(Array(try #require(payload)) == all[0].payload)
        CaptureBlock.release(try #require(token))
    }
}
