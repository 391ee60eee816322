import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a capture stops being readable.
public struct CaptureDamage: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The file ends inside a frame: the writer was killed or the copy was cut short.
        /// Everything before `offset` is intact.
        case tornTail = "torn-tail"
        /// A frame fails its checksum or does not decode.
        case corrupt
    }
    public let kind: Kind
    public let offset: Int64
    public let detail: String

    public var description: String {
        switch kind {
        case .tornTail: return "torn tail at byte \(offset): \(detail); every frame before it is intact"
        case .corrupt: return "damaged frame at byte \(offset): \(detail)"
        }
    }
}

/// A complete frame that fails its checksum or does not decode, which a reader with
/// `skipsDamagedFrames` passed over (or, without it, threw for and will pass over if called again).
package struct SkippedFrame: Sendable, Equatable {
    package let damage: CaptureDamage
    /// The frame's compressed size: the next frame starts this many bytes after `damage.offset`.
    package let size: Int
    /// Records the frame held, from the seek index; nil when it was found by scanning a file
    /// without one (its block does not decode, so its records cannot be counted).
    package let records: Int?

    /// "damaged frame at byte N: …; skipped (K records lost)".
    package var description: String {
        "\(damage); skipped (" + (records.map { "\($0) records lost" } ?? "its records are lost; without a seek index they cannot be counted") + ")"
    }
}

/// Reads a `.k2cap` file frame by frame with `pread` into reused buffers, so memory stays
/// flat whatever the file size, and hands out records as views into the decompressed block.
///
/// `next()` allocates nothing per record. A torn tail ends iteration quietly and is reported in
/// `damage`; a damaged frame elsewhere throws `CaptureError(.corrupt)` with its offset (the
/// next call goes on with the frame after it), or is passed over with `skipsDamagedFrames`;
/// either way iteration lists it in `skippedFrames`.
public final class CaptureReader {
    public let path: String
    public let header: CaptureHeader
    public let fileSize: Int64
    /// Offset of the first frame after the header.
    package let dataStart: Int64
    /// Set when iteration met a torn tail.
    public private(set) var damage: CaptureDamage?
    /// Pass over a complete frame that fails its checksum or does not decode (its extent comes
    /// from the index or its zstd header) instead of throwing: `k2 replay --allow-torn`. Off by
    /// default. A frame whose size cannot be found (not a zstd frame at all, no index) still throws.
    package var skipsDamagedFrames = false
    /// The damaged frames met so far by iteration and, with `skipsDamagedFrames`, by index
    /// scans; once per meeting (a frame read in several rounds is listed once per round).
    package private(set) var skippedFrames: [SkippedFrame] = []

    private let fd: Int32
    private let file: FrameFile
    /// The buffers of the frame `next()` returns records from.
    private var slot: FrameBuffers
    /// The other pair of buffers when reading ahead; nil while the prefetcher fills it.
    private var spare: FrameBuffers?
    /// Buffers whose block a consumer still holds (`CaptureBlock`): not written until released,
    /// then reused. The pool grows only while every block is held, and consumers may hold at
    /// most `maxHeldBlocks`.
    private var parked: [FrameBuffers] = []
    /// The count of held blocks and its cap, shared with the buffers.
    private let held = HeldBlocks(limit: CaptureReader.defaultMaxHeldBlocks)
    /// Buffer pairs made so far (the pool never shrinks while the reader lives).
    package private(set) var pooledBuffers = 2
    /// `slot`'s decompressed block (cached view: `next()` reads only this).
    private var block: UnsafeRawBufferPointer
    private var prefetcher: FramePrefetcher?
    private var cachedIndex: CaptureIndex?

    /// Decompress the next frame of a planned read (`restrict(to:)`) on a second thread while
    /// records of the current one are handed out, so that a paced reader never stalls for the
    /// 1–4 ms a 1 MiB block takes to decompress. Off by default (one thread, as before).
    public var readAhead = false {
        didSet { if !readAhead { stopPrefetching() } }
    }

    /// Hand out each frame's records in receive-time order (stable: equal times keep their file
    /// order) when the frame holds them out of order; off by default (file order). A window of
    /// one frame (≤ ~1 MiB): frames whose time ranges overlap need `CaptureIndex.timeOrderedChains()`
    /// and a merge. Costs one walk over a frame's record headers, an ordering only when unsorted.
    package var sortsWithinFrames = false
    /// Offsets of the current frame's records in receive-time order, used while `ordered`.
    private var order: [Int] = []
    private var orderPosition = 0
    private var ordered = false

    // Cursor state.
    private var scanOffset: Int64
    private var plan: [CaptureIndex.Entry]?
    private var planPosition = 0
    private var blockPos = 0
    private var blockRemaining = 0
    private var finished = false
    /// Offset of the frame whose records `next()` is returning.
    package private(set) var currentFrameOffset: Int64 = -1
    /// Data frames this reader has decompressed so far (iteration and index scans): how a
    /// test sees that a slice read only the frames it needed.
    package private(set) var framesDecoded = 0

    public init(path: String) throws(CaptureError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CaptureError.io(path, "open the capture", errno: errno) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let code = errno
            Glibc.close(fd)
            throw CaptureError.io(path, "stat the capture", errno: code)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(fd)
            throw CaptureError.io(path, "read the capture", errno: EISDIR)
        }
        fileSize = Int64(st.st_size)
        file = FrameFile(fd: fd, path: path, fileSize: fileSize)
        slot = FrameBuffers(held: held)
        spare = FrameBuffers.empty(held: held)
        block = UnsafeRawBufferPointer(slot.block)
        do {
            let (parsedHeader, end) = try Self.readHeader(fd: fd, path: path, fileSize: fileSize)
            header = parsedHeader
            dataStart = end
            scanOffset = end
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    deinit {
        prefetcher?.close()
        // A block still held outlives the reader; the last release frees it.
        slot.retire()
        spare?.retire()
        for buffers in parked { buffers.retire() }
        Glibc.close(fd)
    }

    /// `buffers` when nobody holds its block, else a free pair from the pool (or a new one,
    /// sized on first use), parking `buffers` until its holds are released. At most
    /// `maxHeldBlocks` pairs are held, so the pool stays within `maxHeldBlocks` + 2 pairs.
    private func writable(_ buffers: FrameBuffers) -> FrameBuffers {
        if buffers.isFree { return buffers }
        parked.append(buffers)
        if let free = parked.firstIndex(where: { $0.isFree }) { return parked.remove(at: free) }
        pooledBuffers += 1
        return FrameBuffers.empty(held: held)
    }

    /// The default of `maxHeldBlocks`: 32 blocks of ≤ 1.1 MiB. librdkafka's default queue
    /// (100,000 messages, delivered in order) spans about 20 blocks of ~200-byte messages.
    package static let defaultMaxHeldBlocks = 32

    /// The most blocks consumers may hold at once (`CaptureBlock.hold()` returns nil past it);
    /// set before reading. Memory for held blocks stays under this many × ~1.6 MiB.
    package var maxHeldBlocks: Int {
        get { held.limit.load(ordering: .relaxed) }
        set { held.limit.store(max(0, newValue), ordering: .relaxed) }
    }

    /// Blocks of this reader that consumers hold now (0 once every `CaptureBlock` hold is released).
    package var heldBlocks: Int { held.count.load(ordering: .relaxed) }

    /// The most blocks consumers held at once (≤ `maxHeldBlocks`).
    package var heldBlocksHighWater: Int { held.highWater.load(ordering: .relaxed) }

    // MARK: index

    /// The seek index: read from the end of the file, or rebuilt by scanning every frame when
    /// it is missing or does not check out. Cached.
    public func index() throws(CaptureError) -> CaptureIndex {
        if let cachedIndex { return cachedIndex }
        let idx: CaptureIndex
        if let stored = loadStoredIndex() {
            idx = CaptureIndex(entries: stored, storedInFile: true)
        } else if currentFrameOffset >= 0 {
            // Iteration has started: scan with a second reader so this one's block stays valid.
            let other = try CaptureReader(path: path)
            idx = CaptureIndex(entries: try other.scanFrames(), storedInFile: false)
            if damage == nil { damage = other.damage }
        } else {
            idx = CaptureIndex(entries: try scanFrames(), storedInFile: false)
        }
        cachedIndex = idx
        return idx
    }

    /// Offset of the stored index frame, if the file ends with a valid one.
    package private(set) var storedIndexOffset: Int64?

    private func loadStoredIndex() -> [CaptureIndex.Entry]? {
        let trailerSize = Layout.indexTrailerSize
        guard fileSize >= dataStart + Int64(8 + 16 + trailerSize) else { return nil }
        var trailer = [UInt8](repeating: 0, count: trailerSize)
        guard pread(fd, &trailer, trailerSize, off_t(fileSize - Int64(trailerSize))) == trailerSize else { return nil }
        let ok = trailer.withUnsafeBytes { Array($0[12..<16]) == Layout.indexTrailerMagic }
        guard ok else { return nil }
        let total = Int(trailer.withUnsafeBytes { $0.le(UInt32.self, 8) })
        guard total >= 8 + 16 + trailerSize, Int64(total) <= fileSize - dataStart else { return nil }
        var frame = [UInt8](repeating: 0, count: total)
        let start = fileSize - Int64(total)
        guard pread(fd, &frame, total, off_t(start)) == total else { return nil }
        guard let entries = frame.withUnsafeBytes({ Layout.decodeIndex($0) }) else { return nil }
        // The entries must tile the data region exactly.
        var expect = dataStart
        for entry in entries {
            guard entry.offset == expect, entry.compressedSize > 0 else { return nil }
            expect += Int64(entry.compressedSize)
        }
        guard expect == start else { return nil }
        storedIndexOffset = start
        return entries
    }

    /// Walks every frame from the start, decompressing each, and returns their index entries.
    /// Stops at a torn tail (recorded in `damage`); throws on a damaged frame.
    public func scanFrames() throws(CaptureError) -> [CaptureIndex.Entry] {
        var entries: [CaptureIndex.Entry] = []
        var offset = dataStart
        while offset < fileSize {
            let loaded: FrameResult
            do throws(CaptureError) {
                loaded = try loadFrame(at: offset, knownSize: nil)
            } catch {
                guard skipsDamagedFrames, let size = skippableSize(error, at: offset) else { throw error }
                offset += Int64(size)
                continue
            }
            switch loaded {
            case let .data(size, count, first, last):
                entries.append(
                    .init(
                        offset: offset, compressedSize: size, uncompressedSize: slot.used, recordCount: count,
                        firstTimestamp: first, lastTimestamp: last))
                offset += Int64(size)
            case let .skippable(size, isIndex):
                if isIndex && offset + Int64(size) == fileSize { storedIndexOffset = offset }
                offset += Int64(size)
            case let .torn(detail):
                damage = CaptureDamage(kind: .tornTail, offset: offset, detail: detail)
                return entries
            }
        }
        return entries
    }

    // MARK: frames

    enum FrameResult {
        case data(size: Int, count: Int, first: Int64, last: Int64)
        case skippable(size: Int, isIndex: Bool)
        case torn(String)
    }

    /// For a damaged frame at `offset` (`error`) whose extent can be found (`knownSize`, else its
    /// zstd header): records it in `skippedFrames` and returns its size; nil when the error is
    /// not a damaged frame or the frame's end cannot be found.
    private func skippableSize(_ error: CaptureError, at offset: Int64, knownSize: Int? = nil, records: Int? = nil) -> Int? {
        guard error.code == .corrupt, error.offset == offset else { return nil }
        let size: Int
        if let knownSize {
            size = knownSize
        } else {
            slot = writable(slot)
            guard case let .frame(found)? = try? file.extent(at: offset, knownSize: nil, into: slot) else { return nil }
            size = found
        }
        skippedFrames.append(
            SkippedFrame(damage: CaptureDamage(kind: .corrupt, offset: offset, detail: error.what), size: size, records: records))
        return size
    }

    /// Reads and decompresses the frame at `o` into the current buffers, validating the block.
    func loadFrame(at o: Int64, knownSize: Int?) throws(CaptureError) -> FrameResult {
        slot = writable(slot)
        let result = try file.load(at: o, knownSize: knownSize, into: slot)
        block = UnsafeRawBufferPointer(slot.block)
        if case .data = result { framesDecoded += 1 }
        return result
    }

    // MARK: cursor

    /// Restarts iteration at the first frame.
    public func rewind() {
        stopPrefetching()
        scanOffset = dataStart
        plan = nil
        planPosition = 0
        blockRemaining = 0
        finished = false
    }

    /// Iterates only over the given frames (from `index()`), in the order given: how a slice
    /// reads only what it needs.
    public func restrict(to frames: [CaptureIndex.Entry]) {
        rewind()
        plan = frames
    }

    /// The next record, or nil at the end (or at a torn tail, see `damage`).
    /// The record is a view valid until the next call.
    @inline(__always)
    public func next() throws(CaptureError) -> CaptureRecord? {
        while blockRemaining == 0 {
            if finished { return nil }
            if try !advanceFrame() { return nil }
        }
        let blockBytes = block
        let recordStart: Int
        if ordered {
            recordStart = order[orderPosition]
            orderPosition += 1
        } else {
            recordStart = blockPos
        }
        let plen = Int(blockBytes.le(UInt32.self, recordStart))
        let alen = Int(blockBytes.le(UInt16.self, recordStart + 4))
        let kind = RecordKind(rawValue: blockBytes[recordStart + 6])
        let flags = blockBytes[recordStart + 7]
        let ts = blockBytes.le(Int64.self, recordStart + 8)
        let conn = blockBytes.le(UInt32.self, recordStart + 16)
        let auxStart = recordStart + Layout.recordHeaderSize
        blockPos = auxStart + alen + plen
        blockRemaining -= 1
        return CaptureRecord(
            kind: kind, timestamp: ts, connection: conn, isBinary: flags & 1 != 0,
            aux: UnsafeRawBufferPointer(rebasing: blockBytes[auxStart..<(auxStart + alen)]),
            payload: UnsafeRawBufferPointer(rebasing: blockBytes[(auxStart + alen)..<(auxStart + alen + plen)]),
            block: CaptureBlock(slot))
    }

    private func advanceFrame() throws(CaptureError) -> Bool {
        if let plan {
            guard planPosition < plan.count else { finished = true; return false }
            let entry = plan[planPosition]
            planPosition += 1
            var loaded: FrameResult?
            var failure: CaptureError?
            if let ahead = prefetcher?.take(offset: entry.offset) {
                // The frame was decompressed while the previous one was read: swap buffers.
                spare = slot
                slot = ahead.buffers
                block = UnsafeRawBufferPointer(slot.block)
                switch ahead.result {
                case let .success(result): loaded = result
                case let .failure(error): failure = error
                }
                if case .data? = loaded { framesDecoded += 1 }
            } else {
                stopPrefetching()
                do throws(CaptureError) { loaded = try loadFrame(at: entry.offset, knownSize: entry.compressedSize) } catch { failure = error }
            }
            if readAhead, planPosition < plan.count { prefetch(plan[planPosition]) }
            if let failure {
                // Nothing of the frame is handed out; the next call reads the frame after it.
                blockRemaining = 0
                let skipped = skippableSize(failure, at: entry.offset, knownSize: entry.compressedSize, records: entry.recordCount)
                guard skipsDamagedFrames, skipped != nil else { throw failure }
                return true
            }
            switch loaded! {
            case let .data(_, count, _, _):
                currentFrameOffset = entry.offset
                blockPos = Layout.blockHeaderSize
                blockRemaining = count
                orderFrame(count)
                return true
            case .skippable:
                throw file.corrupt(entry.offset, "index points at a skippable frame")
            case let .torn(detail):
                damage = CaptureDamage(kind: .tornTail, offset: entry.offset, detail: detail)
                finished = true
                return false
            }
        }
        while scanOffset < fileSize {
            let offset = scanOffset
            let loaded: FrameResult
            do throws(CaptureError) {
                loaded = try loadFrame(at: offset, knownSize: nil)
            } catch {
                blockRemaining = 0
                guard let size = skippableSize(error, at: offset) else { throw error }
                scanOffset += Int64(size)
                if !skipsDamagedFrames { throw error }
                continue
            }
            switch loaded {
            case let .data(size, count, _, _):
                scanOffset += Int64(size)
                currentFrameOffset = offset
                blockPos = Layout.blockHeaderSize
                blockRemaining = count
                orderFrame(count)
                return true
            case let .skippable(size, _):
                scanOffset += Int64(size)
            case let .torn(detail):
                damage = CaptureDamage(kind: .tornTail, offset: offset, detail: detail)
                finished = true
                return false
            }
        }
        finished = true
        return false
    }

    /// With `sortsWithinFrames`, when the new frame's records are not in receive-time order
    /// (found while the frame was validated, on the read-ahead thread when there is one), orders
    /// its record offsets by (receive time, offset): a stable sort. Nothing for a frame in order.
    private func orderFrame(_ count: Int) {
        ordered = false
        guard sortsWithinFrames, count > 1, !slot.inOrder else { return }
        let blockBytes = block
        var position = Layout.blockHeaderSize
        order.removeAll(keepingCapacity: true)
        for _ in 0..<count {
            order.append(position)
            position += Layout.recordHeaderSize + Int(blockBytes.le(UInt16.self, position + 4)) + Int(blockBytes.le(UInt32.self, position))
        }
        order.sort { left, right in
            let lt = blockBytes.le(Int64.self, left + 8), rt = blockBytes.le(Int64.self, right + 8)
            return lt < rt || (lt == rt && left < right)
        }
        orderPosition = 0
        ordered = true
    }

    /// Hands the spare buffers to the prefetcher to decompress `e` (the frame after the current one).
    private func prefetch(_ e: CaptureIndex.Entry) {
        guard let free = spare.map({ writable($0) }) else { return }
        spare = free
        let buffers = free
        if prefetcher == nil { prefetcher = FramePrefetcher(file: file) }
        guard let prefetcher, prefetcher.request(e, into: buffers) else { return }
        spare = nil
    }

    /// Waits for a frame in flight and takes its buffers back (rewind, restrict, readAhead off).
    private func stopPrefetching() {
        if let back = prefetcher?.cancel() { spare = back }
    }

    /// Calls `body` for every record (views valid inside the call); stops early when it returns false.
    public func forEach(_ body: (CaptureRecord) throws -> Bool) throws {
        while let record = try next() {
            if try !body(record) { return }
        }
    }
}
