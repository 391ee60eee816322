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

        public init(
            level: Int32 = 3, blockSize: Int = 1 << 20, flushInterval: Int64 = 1_000_000_000,
            fsyncEachFrame: Bool = false, clock: any NanoClock = SystemClock()
        ) {
            self.level = level
            self.blockSize = blockSize
            self.flushInterval = flushInterval
            self.fsyncEachFrame = fsyncEachFrame
            self.clock = clock
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
        let headerBytes = Layout.encodeHeader(header)
        do {
            try withBytes(headerBytes) { (b) throws(CaptureError) in try writeAll(b) }
        } catch {
            Glibc.close(fd)
            fd = -1
            throw error
        }
    }

    deinit {
        if !closed { try? close() }
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
        if count == 0 { blockStarted = options.clock.monotonicNanos() }
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
        } else if options.clock.monotonicNanos() - blockStarted >= options.flushInterval {
            try finishFrame()
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
        if count > 0, options.clock.monotonicNanos() - blockStarted >= options.flushInterval {
            try finishFrame()
        }
    }

    /// Finishes the open frame now.
    public func flush() throws(CaptureError) {
        if count > 0 { try finishFrame() }
    }

    /// Finishes the open frame, writes the seek index and closes the file.
    public func close() throws(CaptureError) {
        guard !closed else { return }
        closed = true
        defer {
            Glibc.close(fd)
            fd = -1
        }
        if count > 0 { try finishFrame() }
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
