import K2Core
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The buffers one frame is read and decompressed into. A reader owns one pair, two when it
/// reads ahead, more while consumers hold blocks (`CaptureBlock`); exactly one thread writes a
/// pair at a time (handed over under a lock), and only while nobody holds its block.
final class FrameBuffers: @unchecked Sendable {
    // unchecked: raw buffers used by one thread at a time, handed over under the prefetcher's lock;
    // `holds` is atomic.
    /// 1 (the reader's pool) + the consumers' holds on `block` (see `CaptureBlock`).
    let holds = Atomic<Int>(1)
    /// The reader's count of held blocks, which a block's first hold and last release change.
    let held: HeldBlocks
    /// Compressed bytes as read from the file.
    var file: UnsafeMutableRawBufferPointer
    /// The decompressed block.
    var block: UnsafeMutableRawBufferPointer
    /// Bytes of `block` in use.
    var used = 0
    /// The block's records are in receive-time order (found while validating them).
    var inOrder = true
    let decompressor = ZstdDecompressor()

    init(held: HeldBlocks, fileBytes: Int = 512 * 1024, blockBytes: Int = (1 << 20) + 128 * 1024) {
        self.held = held
        file = .allocate(byteCount: fileBytes, alignment: 16)
        block = .allocate(byteCount: blockBytes, alignment: 16)
    }

    /// Small buffers that grow on first use (the spare pair of a reader that may never read ahead).
    static func empty(held: HeldBlocks) -> FrameBuffers { FrameBuffers(held: held, fileBytes: 16, blockBytes: 16) }

    deinit {
        file.deallocate()
        block.deallocate()
    }

    func ensureFile(_ n: Int) {
        if file.count < n {
            file.deallocate()
            file = .allocate(byteCount: max(n, file.count * 2), alignment: 16)
        }
    }

    func ensureBlock(_ n: Int) {
        if block.count < n {
            block.deallocate()
            block = .allocate(byteCount: n, alignment: 16)
        }
    }
}

/// An open capture file's frames: reads one (`pread`, so several threads may read at once),
/// decompresses it into given buffers and validates the block.
struct FrameFile: Sendable {
    let fd: Int32
    let path: String
    let fileSize: Int64

    func corrupt(_ o: Int64, _ what: String) -> CaptureError {
        CaptureError(
            .corrupt, path: path, offset: o, what: what,
            remedy: "the file is damaged here; run `k2 capture verify` and salvage the frames before it with `k2 capture slice --to`")
    }

    private func read(_ offset: Int64, _ count: Int, into buffers: FrameBuffers) throws(CaptureError) -> Int {
        buffers.ensureFile(count)
        var got = 0
        while got < count {
            let readCount = pread(fd, buffers.file.baseAddress! + got, count - got, off_t(offset + Int64(got)))
            if readCount < 0 {
                if errno == EINTR { continue }
                throw CaptureError.io(path, "read the capture", errno: errno)
            }
            if readCount == 0 { break }
            got += readCount
        }
        return got
    }

    /// Reads and decompresses the frame at `o` into `buffers`, validating the block.
    func load(at o: Int64, knownSize: Int?, into buffers: FrameBuffers) throws(CaptureError) -> CaptureReader.FrameResult {
        switch try extent(at: o, knownSize: knownSize, into: buffers) {
        case let .other(result): return result
        case let .frame(size): return try decode(at: o, size: size, in: buffers)
        }
    }

    /// Where the frame at `o` ends, read from the file or `knownSize`.
    enum Extent {
        /// A complete zstd frame of `size` bytes, read into `buffers.file`.
        case frame(size: Int)
        /// A skippable frame or a torn tail: nothing to decompress.
        case other(CaptureReader.FrameResult)
    }

    /// Reads the frame at `o` into `buffers.file` and finds its size (from its zstd block
    /// headers when `knownSize` is nil). Throws when the bytes there are not a zstd frame at all;
    /// whatever goes wrong later (`decode`) leaves the frame's extent known, so a reader can
    /// skip a damaged frame.
    func extent(at o: Int64, knownSize: Int?, into buffers: FrameBuffers) throws(CaptureError) -> Extent {
        let remaining = fileSize - o
        if remaining < 8 { return .other(.torn("\(remaining) bytes after the last complete frame")) }
        var want = knownSize ?? Int(min(remaining, 512 * 1024))
        var got = try read(o, want, into: buffers)
        if got < 8 { return .other(.torn("\(got) bytes after the last complete frame")) }
        let magic = UnsafeRawBufferPointer(buffers.file).le(UInt32.self, 0)
        if magic & ZstdFrames.skippableMask == ZstdFrames.skippableStart {
            let size = 8 + Int(UnsafeRawBufferPointer(buffers.file).le(UInt32.self, 4))
            if Int64(size) > remaining { return .other(.torn("skippable frame of \(size) bytes cut short")) }
            return .other(.skippable(size: size, isIndex: magic == Layout.indexFrameMagic))
        }
        if let knownSize {
            // The index gives the extent: a frame whose first bytes are damaged is still skippable.
            if got < knownSize { return .other(.torn("frame of \(knownSize) bytes cut short at \(got)")) }
            return .frame(size: knownSize)
        }
        guard magic == ZstdFrames.frameMagic else { throw corrupt(o, "expected a zstd frame, found other bytes") }
        var size: Int
        while true {
            switch ZstdFrames.compressedSize(UnsafeRawBufferPointer(rebasing: buffers.file[0..<got])) {
            case let .success(frameSize):
                size = frameSize
            case let .failure(failure) where failure.isSourceTooShort:
                if Int64(got) >= remaining { return .other(.torn("frame cut short after \(got) bytes")) }
                want = Int(min(remaining, Int64(want) * 2))
                got = try read(o, want, into: buffers)
                continue
            case let .failure(failure):
                throw corrupt(o, "zstd frame does not parse (\(failure.message))")
            }
            break
        }
        return .frame(size: size)
    }

    /// Decompresses the `size`-byte frame at `o` (in `buffers.file`) into `buffers.block` and
    /// validates the block.
    private func decode(at o: Int64, size: Int, in buffers: FrameBuffers) throws(CaptureError) -> CaptureReader.FrameResult {
        guard UnsafeRawBufferPointer(buffers.file).le(UInt32.self, 0) == ZstdFrames.frameMagic else {
            throw corrupt(o, "expected a zstd frame, found other bytes")
        }
        let src = UnsafeRawBufferPointer(rebasing: buffers.file[0..<size])
        guard let content = ZstdFrames.contentSize(src) else { throw corrupt(o, "zstd frame without a content size (not written by k2)") }
        guard content >= Layout.blockHeaderSize, content <= Layout.maxBlock,
            content / Layout.maxExpansion <= size
        else {
            throw corrupt(o, "frame claims a block of \(content) bytes, impossible for a \(size)-byte frame")
        }
        buffers.ensureBlock(content)
        switch buffers.decompressor.decompress(src, into: buffers.block) {
        case let .success(decompressed) where decompressed == content:
            buffers.used = decompressed
        case .success: throw corrupt(o, "block decompressed to the wrong size")
        case let .failure(failure): throw corrupt(o, "zstd: \(failure.message)")
        }
        let block = UnsafeRawBufferPointer(buffers.block)
        let used = buffers.used
        guard block.le(UInt32.self, 0) == Layout.blockMagic else { throw corrupt(o, "block lacks the K2B1 magic") }
        let count = Int(block.le(UInt32.self, 4))
        // Validate record bounds once so that next() can trust them.
        var position = Layout.blockHeaderSize
        var previous = Int64.min
        var inOrder = true
        for _ in 0..<count {
            guard position + Layout.recordHeaderSize <= used else { throw corrupt(o, "record header runs past the block") }
            let timestamp = block.le(Int64.self, position + 8)
            if timestamp < previous { inOrder = false }
            previous = timestamp
            let len = Layout.recordHeaderSize + Int(block.le(UInt16.self, position + 4)) + Int(block.le(UInt32.self, position))
            guard position + len <= used else { throw corrupt(o, "record runs past the block") }
            position += len
        }
        guard position == used else { throw corrupt(o, "block has \(used - position) bytes after its last record") }
        buffers.inOrder = inOrder
        return .data(size: size, count: count, first: block.le(Int64.self, 8), last: block.le(Int64.self, 16))
    }
}

/// Decompresses one frame ahead on its own thread: the reader requests the frame after the
/// current one, handing over its spare buffers, and takes them back filled when it gets there.
/// At most one frame is in flight.
final class FramePrefetcher: @unchecked Sendable {
    // unchecked: job, result and state are only touched with `cond` locked.
    private let file: FrameFile
    private let cond = Condition()
    private var thread: JoinableThread?
    // Guarded by `cond`.
    private var job: (entry: CaptureIndex.Entry, buffers: FrameBuffers)?
    private var working: Int64?
    private var done: (offset: Int64, buffers: FrameBuffers, result: Result<CaptureReader.FrameResult, CaptureError>)?
    private var closing = false

    init(file: FrameFile) {
        self.file = file
    }

    /// Queues `entry` to be decompressed into `buffers`; false (buffers not taken) when no
    /// thread can be started.
    func request(_ entry: CaptureIndex.Entry, into buffers: FrameBuffers) -> Bool {
        if thread == nil {
            thread = JoinableThread.start { [self] in work() }
            if thread == nil { return false }
        }
        cond.withLock {
            job = (entry, buffers)
            cond.broadcast()
        }
        return true
    }

    /// The frame at `offset` with its buffers, waiting while it is being decompressed; nil when
    /// that frame was not requested (the caller then reads it itself).
    func take(offset: Int64) -> (buffers: FrameBuffers, result: Result<CaptureReader.FrameResult, CaptureError>)? {
        cond.lock()
        defer { cond.unlock() }
        while job?.entry.offset == offset || working == offset { cond.wait() }
        guard let finished = done, finished.offset == offset else { return nil }
        done = nil
        return (finished.buffers, finished.result)
    }

    /// Drops what is queued or done (waiting for a frame in flight) and returns the buffers.
    func cancel() -> FrameBuffers? {
        cond.lock()
        defer { cond.unlock() }
        if let pending = job {
            job = nil
            return pending.buffers
        }
        while working != nil { cond.wait() }
        if let finished = done {
            done = nil
            return finished.buffers
        }
        return nil
    }

    /// Stops the thread (after the frame in flight) and waits for it.
    func close() {
        cond.withLock {
            closing = true
            cond.broadcast()
        }
        thread?.join()
    }

    private func work() {
        cond.lock()
        while true {
            while job == nil && !closing { cond.wait() }
            if closing { break }
            let current = job!
            job = nil
            working = current.entry.offset
            cond.unlock()
            let result: Result<CaptureReader.FrameResult, CaptureError>
            do throws(CaptureError) {
                result = .success(try file.load(at: current.entry.offset, knownSize: current.entry.compressedSize, into: current.buffers))
            } catch {
                result = .failure(error)
            }
            cond.lock()
            working = nil
            done = (current.entry.offset, current.buffers, result)
            cond.broadcast()
        }
        cond.unlock()
    }
}
