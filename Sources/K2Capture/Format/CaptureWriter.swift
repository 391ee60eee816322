import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a `.k2cap` file: a header frame, then records in independent zstd frames of about
/// `blockSize` bytes (content checksum on), then the seek index on `close()`.
///
/// Crash safety: a frame is finished when the block is full, when `flushInterval` has passed
/// since the block's first record (checked on every append and by `flushIfDue()`, which a
/// recorder calls from its timer), and on `close()`. Each finished frame goes to the kernel in
/// one `write(2)`, so after `kill -9` everything but the open block is readable.
///
/// Not thread-safe: one writer per thread or task. Appending allocates nothing.
public final class CaptureWriter {
    public struct Options: Sendable {
        /// zstd level; 3 compresses ~8:1 at ~300 MB/s on market data.
        public var level: Int32 = 3
        /// Target uncompressed size of one frame.
        public var blockSize: Int = 1 << 20
        /// Longest time a record may wait in memory before its frame is written, in ns.
        public var flushInterval: Int64 = 1_000_000_000
        /// `fsync` after each frame (survives power loss, not just process death); slower.
        public var fsyncEachFrame: Bool = false
        public var clock: any NanoClock = SystemClock()
        /// Threads that compress finished blocks while `append` fills the next one; 0 compresses
        /// on the appending thread. The file is byte for byte the same either way. With threads,
        /// up to `compressionThreads + 1` finished blocks wait in memory before they are written
        /// (`flush`, `flushIfDue` and `close` write them all): for files that are written as fast
        /// as possible and need no crash safety (`k2 sim generate`), not for recorders.
        public var compressionThreads: Int = 0

        public init(
            level: Int32 = 3, blockSize: Int = 1 << 20, flushInterval: Int64 = 1_000_000_000,
            fsyncEachFrame: Bool = false, clock: any NanoClock = SystemClock(), compressionThreads: Int = 0
        ) {
            self.level = level
            self.blockSize = blockSize
            self.flushInterval = flushInterval
            self.fsyncEachFrame = fsyncEachFrame
            self.clock = clock
            self.compressionThreads = compressionThreads
        }
    }

    public let path: String
    public let header: CaptureHeader
    public let options: Options

    public private(set) var recordsWritten: Int64 = 0
    /// Bytes written to the file so far (header and finished frames).
    public private(set) var fileBytes: Int64 = 0
    /// Uncompressed bytes of the records appended so far.
    public private(set) var rawBytes: Int64 = 0
    public var framesWritten: Int { entries.count }

    private var fd: Int32
    private var block: UnsafeMutableRawBufferPointer
    private var used = Layout.blockHeaderSize
    private var count = 0
    private var minTs = Int64.max
    private var maxTs = Int64.min
    private var blockStarted: Int64 = 0
    private var out: UnsafeMutableRawBufferPointer
    private let compressor: ZstdCompressor
    /// Worker threads compressing finished blocks (`Options.compressionThreads`), or nil.
    private let compressors: FrameCompressors?
    /// `options.clock` and whether frames are cut by time (`flushInterval` < `.max`): read on
    /// every append, kept apart so that an append neither copies `options` nor reads the clock
    /// when frames are cut by size only.
    private let clock: any NanoClock
    private let timedFlush: Bool
    private var entries: [CaptureIndex.Entry] = []
    private var closed = false

    public init(path: String, header: CaptureHeader, options: Options = Options()) throws(CaptureError) {
        self.path = path
        self.header = header
        self.options = options
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw CaptureError.io(path, "create the capture", errno: errno) }
        let cap = max(options.blockSize, 4096) + 64 * 1024
        block = .allocate(byteCount: cap, alignment: 16)
        out = .allocate(byteCount: ZstdCompressor.bound(cap), alignment: 16)
        compressor = ZstdCompressor(level: options.level)
        clock = options.clock
        timedFlush = options.flushInterval < .max
        compressors =
            options.compressionThreads > 0
            ? FrameCompressors(threads: options.compressionThreads, level: options.level, blockCapacity: cap) : nil
        let headerBytes = Layout.encodeHeader(header)
        do {
            try withBytes(headerBytes) { (b) throws(CaptureError) in try writeAll(b) }
        } catch {
            Glibc.close(fd)
            fd = -1
            compressors?.stop()
            throw error
        }
    }

    deinit {
        if !closed { try? close() }
        compressors?.stop()
        block.deallocate()
        out.deallocate()
    }

    /// Appends one record. `aux` is the URL for `connect` and `http` records, empty otherwise.
    public func append(
        kind: RecordKind, timestamp: Int64, connection: UInt32, isBinary: Bool,
        aux: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer
    ) throws(CaptureError) {
        guard !closed else {
            throw CaptureError(.invalidArgument, path: path, what: "append after close", remedy: "this is a bug in the caller")
        }
        guard payload.count <= Layout.maxPayload else {
            throw CaptureError(
                .invalidArgument, path: path, what: "payload of \(payload.count) bytes is larger than the format's 256 MiB per record",
                remedy: "split the payload; the capture so far stays readable")
        }
        guard aux.count <= Layout.maxAux else {
            throw CaptureError(
                .invalidArgument, path: path, what: "URL of \(aux.count) bytes is longer than the format's 65535", remedy: "shorten the URL")
        }
        let size = Layout.recordHeaderSize + aux.count + payload.count
        if used + size > block.count {
            if count > 0 { try finishFrame() }
            if Layout.blockHeaderSize + size > block.count { grow(to: Layout.blockHeaderSize + size) }
        }
        if count == 0 && timedFlush { blockStarted = clock.monotonicNanos() }
        let recordStart = used
        block.storeLE(UInt32(payload.count), recordStart)
        block.storeLE(UInt16(aux.count), recordStart + 4)
        block.storeBytes(of: kind.rawValue, toByteOffset: recordStart + 6, as: UInt8.self)
        block.storeBytes(of: isBinary ? 1 : 0, toByteOffset: recordStart + 7, as: UInt8.self)
        block.storeLE(timestamp, recordStart + 8)
        block.storeLE(connection, recordStart + 16)
        var position = recordStart + Layout.recordHeaderSize
        if let auxBase = aux.baseAddress, aux.count > 0 {
            (block.baseAddress! + position).copyMemory(from: auxBase, byteCount: aux.count)
            position += aux.count
        }
        if let payloadBase = payload.baseAddress, payload.count > 0 {
            (block.baseAddress! + position).copyMemory(from: payloadBase, byteCount: payload.count)
        }
        used += size
        count += 1
        if timestamp < minTs { minTs = timestamp }
        if timestamp > maxTs { maxTs = timestamp }
        recordsWritten += 1
        rawBytes += Int64(size)
        if used >= options.blockSize {
            try finishFrame()
        } else if timedFlush && clock.monotonicNanos() - blockStarted >= options.flushInterval {
            try finishFrame()
            try writeCompressedFrames(leavingAtMost: 0)
        }
    }

    /// Appends a record view (from a reader) unchanged.
    public func append(_ r: CaptureRecord) throws(CaptureError) {
        try append(
            kind: r.kind, timestamp: r.timestamp, connection: r.connection, isBinary: r.isBinary,
            aux: r.aux, payload: r.payload)
    }

    public func append(_ r: OwnedRecord) throws(CaptureError) {
        try withBytes(r.url) { (u) throws(CaptureError) in
            try withBytes(r.payload) { (p) throws(CaptureError) in
                try append(kind: r.kind, timestamp: r.timestamp, connection: r.connection, isBinary: r.isBinary, aux: u, payload: p)
            }
        }
    }

    /// Convenience for text payloads (tests, markers).
    public func append(kind: RecordKind, timestamp: Int64, connection: UInt32, url: String = "", text: String) throws(CaptureError) {
        try append(OwnedRecord(kind: kind, timestamp: timestamp, connection: connection, url: Array(url.utf8), payload: Array(text.utf8)))
    }

    /// Finishes the open frame if its first record has waited `flushInterval` or longer.
    /// Call it from a timer when records may stop arriving.
    public func flushIfDue() throws(CaptureError) {
        if count > 0, timedFlush, clock.monotonicNanos() - blockStarted >= options.flushInterval {
            try finishFrame()
        }
        try writeCompressedFrames(leavingAtMost: 0)
    }

    /// Finishes the open frame now.
    public func flush() throws(CaptureError) {
        if count > 0 { try finishFrame() }
        try writeCompressedFrames(leavingAtMost: 0)
    }

    /// Finishes the open frame, writes the seek index and closes the file.
    public func close() throws(CaptureError) {
        guard !closed else { return }
        closed = true
        defer {
            Glibc.close(fd)
            fd = -1
            compressors?.stop()
        }
        if count > 0 { try finishFrame() }
        try writeCompressedFrames(leavingAtMost: 0)
        let idx = Layout.encodeIndex(entries)
        try withBytes(idx) { (b) throws(CaptureError) in try writeAll(b) }
        if options.fsyncEachFrame { fsync(fd) }
    }

    /// The index of the frames written so far.
    public var index: CaptureIndex { CaptureIndex(entries: entries, storedInFile: closed) }

    private func grow(to size: Int) {
        let nb = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        nb.baseAddress!.copyMemory(from: block.baseAddress!, byteCount: used)
        block.deallocate()
        block = nb
        out.deallocate()
        out = .allocate(byteCount: ZstdCompressor.bound(size), alignment: 16)
    }

    private func finishFrame() throws(CaptureError) {
        block.storeLE(Layout.blockMagic, 0)
        block.storeLE(UInt32(count), 4)
        block.storeLE(minTs, 8)
        block.storeLE(maxTs, 16)
        if let compressors {
            // Room for this block: write what is done, wait for the oldest if all are busy.
            try writeCompressedFrames(leavingAtMost: compressors.capacity - 1)
            compressors.submit(&block, used: used, recordCount: count, firstTimestamp: minTs, lastTimestamp: maxTs)
            used = Layout.blockHeaderSize
            count = 0
            minTs = .max
            maxTs = .min
            return
        }
        let src = UnsafeRawBufferPointer(rebasing: block[0..<used])
        let compressedSize: Int
        switch compressor.compress(src, into: out) {
        case let .success(size): compressedSize = size
        case let .failure(failure):
            throw CaptureError(.io, path: path, what: "zstd compression failed: \(failure.message)", remedy: "report this as a bug")
        }
        let offset = fileBytes
        try writeAll(UnsafeRawBufferPointer(rebasing: out[0..<compressedSize]))
        if options.fsyncEachFrame { fsync(fd) }
        entries.append(
            CaptureIndex.Entry(
                offset: offset, compressedSize: compressedSize, uncompressedSize: used,
                recordCount: count, firstTimestamp: minTs, lastTimestamp: maxTs))
        used = Layout.blockHeaderSize
        count = 0
        minTs = .max
        maxTs = .min
    }

    /// With compression threads: writes the frames they finished, in order, waiting for the
    /// oldest while more than `remaining` blocks are in flight. Nothing to do without threads.
    private func writeCompressedFrames(leavingAtMost remaining: Int) throws(CaptureError) {
        guard let compressors else { return }
        try compressors.collect(leavingAtMost: remaining) { (frame) throws(CaptureError) in
            let compressed: UnsafeRawBufferPointer
            switch frame.compressed {
            case let .success(bytes): compressed = bytes
            case let .failure(failure):
                throw CaptureError(.io, path: path, what: "zstd compression failed: \(failure.message)", remedy: "report this as a bug")
            }
            let offset = fileBytes
            try writeAll(compressed)
            if options.fsyncEachFrame { fsync(fd) }
            entries.append(
                CaptureIndex.Entry(
                    offset: offset, compressedSize: compressed.count, uncompressedSize: frame.uncompressedSize,
                    recordCount: frame.recordCount, firstTimestamp: frame.firstTimestamp, lastTimestamp: frame.lastTimestamp))
        }
    }

    private func writeAll(_ b: UnsafeRawBufferPointer) throws(CaptureError) {
        var off = 0
        while off < b.count {
            let written = write(fd, b.baseAddress! + off, b.count - off)
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                // Leave the file ending on a frame boundary where we can, so it stays readable.
                if off > 0 { _ = ftruncate(fd, off_t(fileBytes)) }
                throw CaptureError.io(path, "write the capture", errno: code)
            }
            off += written
        }
        fileBytes += Int64(b.count)
    }
}
