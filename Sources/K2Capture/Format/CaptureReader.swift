#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import K2Core

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

/// Reads a `.k2cap` file frame by frame with `pread` into reused buffers, so memory stays
/// flat whatever the file size, and hands out records as views into the decompressed block.
///
/// `next()` allocates nothing per record. A torn tail ends iteration quietly and is reported in
/// `damage`; a damaged frame elsewhere throws `CaptureError(.corrupt)` with its offset.
public final class CaptureReader {
    public let path: String
    public let header: CaptureHeader
    public let fileSize: Int64
    /// Offset of the first frame after the header.
    public let dataStart: Int64
    /// Set when iteration met a torn tail.
    public private(set) var damage: CaptureDamage?

    private let fd: Int32
    private var fileBuf: UnsafeMutableRawBufferPointer
    private var blockBuf: UnsafeMutableRawBufferPointer
    private let decompressor = ZstdDecompressor()
    private var cachedIndex: CaptureIndex?

    // Cursor state.
    private var scanOffset: Int64
    private var plan: [CaptureIndex.Entry]?
    private var planPosition = 0
    private var blockUsed = 0
    private var blockPos = 0
    private var blockRemaining = 0
    private var finished = false
    /// Offset of the frame whose records `next()` is returning.
    public private(set) var currentFrameOffset: Int64 = -1
    /// Data frames this reader has decompressed so far (iteration and index scans): how a
    /// test sees that a slice read only the frames it needed.
    public private(set) var framesDecoded = 0

    public init(path: String) throws(CaptureError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CaptureError.io(path, "open the capture", errno: errno) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errno
            Glibc.close(fd)
            throw CaptureError.io(path, "stat the capture", errno: e)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(fd)
            throw CaptureError.io(path, "read the capture", errno: EISDIR)
        }
        fileSize = Int64(st.st_size)
        fileBuf = .allocate(byteCount: 512 * 1024, alignment: 16)
        blockBuf = .allocate(byteCount: (1 << 20) + 128 * 1024, alignment: 16)
        do {
            let (h, end) = try Self.readHeader(fd: fd, path: path, fileSize: fileSize)
            header = h
            dataStart = end
            scanOffset = end
        } catch {
            Glibc.close(fd)
            fileBuf.deallocate()
            blockBuf.deallocate()
            throw error
        }
    }

    deinit {
        Glibc.close(fd)
        fileBuf.deallocate()
        blockBuf.deallocate()
    }

    // MARK: header

    private static func readHeader(fd: Int32, path: String, fileSize: Int64) throws(CaptureError) -> (CaptureHeader, Int64) {
        func notCapture(_ what: String) -> CaptureError {
            CaptureError(.notACapture, path: path, offset: 0, what: what,
                         remedy: "give a .k2cap file written by k2 (convert other formats with `k2 capture import`)")
        }
        guard fileSize >= 8 else {
            if fileSize == 0 { throw notCapture("the file is empty, not a capture") }
            throw CaptureError(.truncated, path: path, offset: fileSize, what: "file ends inside the capture header (\(fileSize) bytes)",
                               remedy: "the file was cut short; recover it from its source")
        }
        var head = [UInt8](repeating: 0, count: 8)
        guard pread(fd, &head, 8, 0) == 8 else { throw CaptureError.io(path, "read the capture header", errno: errno) }
        let (magic, size) = head.withUnsafeBytes { ($0.le(UInt32.self, 0), Int($0.le(UInt32.self, 4))) }
        if magic != Layout.headerFrameMagic {
            if magic == ZstdFrames.frameMagic {
                throw notCapture("a zstd file but not a k2 capture (no k2 header frame)")
            }
            throw notCapture("not a k2 capture (first bytes are not a k2 header frame)")
        }
        guard size >= 24, size <= 16 << 20 else { throw notCapture("k2 header frame has an impossible size (\(size) bytes)") }
        guard Int64(8 + size) <= fileSize else {
            throw CaptureError(.truncated, path: path, offset: fileSize, what: "file ends inside the capture header",
                               remedy: "the file was cut short; recover it from its source")
        }
        var content = [UInt8](repeating: 0, count: size)
        guard pread(fd, &content, size, 8) == size else { throw CaptureError.io(path, "read the capture header", errno: errno) }
        return try withBytes(content) { (c) throws(CaptureError) -> (CaptureHeader, Int64) in
            guard Array(c[0..<8]) == Layout.headerMagic else { throw notCapture("k2 header frame lacks the K2CAPHDR magic") }
            let major = c.le(UInt16.self, 8)
            let minor = c.le(UInt16.self, 10)
            if major > CaptureHeader.currentMajor {
                throw CaptureError(.unsupportedVersion, path: path, offset: 8,
                                   what: "capture format \(major).\(minor) is newer than this k2 reads (\(CaptureHeader.currentMajor).x)",
                                   remedy: "upgrade k2 to a release that reads format \(major).x")
            }
            if major == 0 {
                throw CaptureError(.unsupportedVersion, path: path, offset: 8, what: "capture format 0.\(minor) is not a released version",
                                   remedy: "re-create the capture with a released k2")
            }
            let len = Int(c.le(UInt32.self, 16))
            let crc = c.le(UInt32.self, 20)
            guard 24 + len <= c.count else {
                throw CaptureError(.corrupt, path: path, offset: 24, what: "header metadata length \(len) exceeds the header frame",
                                   remedy: "the header is damaged; run `k2 capture verify`")
            }
            let json = UnsafeRawBufferPointer(rebasing: c[24..<(24 + len)])
            guard CRC32.checksum(json) == crc else {
                throw CaptureError(.corrupt, path: path, offset: 32, what: "header checksum mismatch",
                                   remedy: "the header is damaged; the records may still be salvaged with `zstd -d`")
            }
            let value: JSONValue
            do throws(JSONParseError) { value = try JSONParser.parse(json) } catch {
                throw CaptureError(.corrupt, path: path, offset: 32 + Int64(error.offset), what: "header metadata is not valid JSON",
                                   remedy: "the header is damaged")
            }
            var h = CaptureHeader(toolVersion: value["tool_version"]?.stringValue ?? "unknown",
                                  createdNanos: value["created_ns"]?.int64Value ?? 0,
                                  host: value["host"]?.stringValue ?? "",
                                  metadata: { if case let .object(p)? = value["metadata"] { return p }; return [] }())
            h.major = major
            h.minor = minor
            return (h, Int64(8 + size))
        }
    }

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
    public private(set) var storedIndexOffset: Int64?

    private func loadStoredIndex() -> [CaptureIndex.Entry]? {
        let t = Layout.indexTrailerSize
        guard fileSize >= dataStart + Int64(8 + 16 + t) else { return nil }
        var trailer = [UInt8](repeating: 0, count: t)
        guard pread(fd, &trailer, t, off_t(fileSize - Int64(t))) == t else { return nil }
        let ok = trailer.withUnsafeBytes { Array($0[12..<16]) == Layout.indexTrailerMagic }
        guard ok else { return nil }
        let total = Int(trailer.withUnsafeBytes { $0.le(UInt32.self, 8) })
        guard total >= 8 + 16 + t, Int64(total) <= fileSize - dataStart else { return nil }
        var frame = [UInt8](repeating: 0, count: total)
        let start = fileSize - Int64(total)
        guard pread(fd, &frame, total, off_t(start)) == total else { return nil }
        guard let entries = frame.withUnsafeBytes({ Layout.decodeIndex($0) }) else { return nil }
        // The entries must tile the data region exactly.
        var expect = dataStart
        for e in entries {
            guard e.offset == expect, e.compressedSize > 0 else { return nil }
            expect += Int64(e.compressedSize)
        }
        guard expect == start else { return nil }
        storedIndexOffset = start
        return entries
    }

    /// Walks every frame from the start, decompressing each, and returns their index entries.
    /// Stops at a torn tail (recorded in `damage`); throws on a damaged frame.
    public func scanFrames() throws(CaptureError) -> [CaptureIndex.Entry] {
        var entries: [CaptureIndex.Entry] = []
        var o = dataStart
        while o < fileSize {
            switch try loadFrame(at: o, knownSize: nil) {
            case let .data(size, count, first, last):
                entries.append(.init(offset: o, compressedSize: size, uncompressedSize: blockUsed, recordCount: count,
                                     firstTimestamp: first, lastTimestamp: last))
                o += Int64(size)
            case let .skippable(size, isIndex):
                if isIndex && o + Int64(size) == fileSize { storedIndexOffset = o }
                o += Int64(size)
            case let .torn(detail):
                damage = CaptureDamage(kind: .tornTail, offset: o, detail: detail)
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

    private func ensureFileBuf(_ n: Int) {
        if fileBuf.count < n {
            fileBuf.deallocate()
            fileBuf = .allocate(byteCount: max(n, fileBuf.count * 2), alignment: 16)
        }
    }

    private func readAt(_ offset: Int64, _ count: Int) throws(CaptureError) -> Int {
        ensureFileBuf(count)
        var got = 0
        while got < count {
            let n = pread(fd, fileBuf.baseAddress! + got, count - got, off_t(offset + Int64(got)))
            if n < 0 {
                if errno == EINTR { continue }
                throw CaptureError.io(path, "read the capture", errno: errno)
            }
            if n == 0 { break }
            got += n
        }
        return got
    }

    private func corrupt(_ o: Int64, _ what: String) -> CaptureError {
        CaptureError(.corrupt, path: path, offset: o, what: what,
                     remedy: "the file is damaged here; run `k2 capture verify` and salvage the frames before it with `k2 capture slice --to`")
    }

    /// Reads and decompresses the frame at `o` into `blockBuf`, validating the block.
    func loadFrame(at o: Int64, knownSize: Int?) throws(CaptureError) -> FrameResult {
        let remaining = fileSize - o
        if remaining < 8 { return .torn("\(remaining) bytes after the last complete frame") }
        var want = knownSize ?? Int(min(remaining, 512 * 1024))
        var got = try readAt(o, want)
        if got < 8 { return .torn("\(got) bytes after the last complete frame") }
        let magic = UnsafeRawBufferPointer(fileBuf).le(UInt32.self, 0)
        if magic & ZstdFrames.skippableMask == ZstdFrames.skippableStart {
            let size = 8 + Int(UnsafeRawBufferPointer(fileBuf).le(UInt32.self, 4))
            if Int64(size) > remaining { return .torn("skippable frame of \(size) bytes cut short") }
            return .skippable(size: size, isIndex: magic == Layout.indexFrameMagic)
        }
        guard magic == ZstdFrames.frameMagic else { throw corrupt(o, "expected a zstd frame, found other bytes") }
        var size: Int
        if let knownSize {
            size = knownSize
            if got < size { return .torn("frame of \(size) bytes cut short at \(got)") }
        } else {
            while true {
                switch ZstdFrames.compressedSize(UnsafeRawBufferPointer(rebasing: fileBuf[0..<got])) {
                case let .success(s):
                    size = s
                case let .failure(f) where f.isSourceTooShort:
                    if Int64(got) >= remaining { return .torn("frame cut short after \(got) bytes") }
                    want = Int(min(remaining, Int64(want) * 2))
                    got = try readAt(o, want)
                    continue
                case let .failure(f):
                    throw corrupt(o, "zstd frame does not parse (\(f.message))")
                }
                break
            }
        }
        let src = UnsafeRawBufferPointer(rebasing: fileBuf[0..<size])
        guard let content = ZstdFrames.contentSize(src) else { throw corrupt(o, "zstd frame without a content size (not written by k2)") }
        guard content >= Layout.blockHeaderSize, content <= Layout.maxBlock,
              content / Layout.maxExpansion <= size else {
            throw corrupt(o, "frame claims a block of \(content) bytes, impossible for a \(size)-byte frame")
        }
        if blockBuf.count < content {
            blockBuf.deallocate()
            blockBuf = .allocate(byteCount: content, alignment: 16)
        }
        switch decompressor.decompress(src, into: blockBuf) {
        case let .success(n) where n == content:
            blockUsed = n
            framesDecoded += 1
        case .success: throw corrupt(o, "block decompressed to the wrong size")
        case let .failure(f): throw corrupt(o, "zstd: \(f.message)")
        }
        let b = UnsafeRawBufferPointer(blockBuf)
        guard b.le(UInt32.self, 0) == Layout.blockMagic else { throw corrupt(o, "block lacks the K2B1 magic") }
        let count = Int(b.le(UInt32.self, 4))
        // Validate record bounds once so that next() can trust them.
        var p = Layout.blockHeaderSize
        for _ in 0..<count {
            guard p + Layout.recordHeaderSize <= blockUsed else { throw corrupt(o, "record header runs past the block") }
            let len = Layout.recordHeaderSize + Int(b.le(UInt16.self, p + 4)) + Int(b.le(UInt32.self, p))
            guard p + len <= blockUsed else { throw corrupt(o, "record runs past the block") }
            p += len
        }
        guard p == blockUsed else { throw corrupt(o, "block has \(blockUsed - p) bytes after its last record") }
        return .data(size: size, count: count, first: b.le(Int64.self, 8), last: b.le(Int64.self, 16))
    }

    // MARK: cursor

    /// Restarts iteration at the first frame.
    public func rewind() {
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
        let b = UnsafeRawBufferPointer(blockBuf)
        let p = blockPos
        let plen = Int(b.le(UInt32.self, p))
        let alen = Int(b.le(UInt16.self, p + 4))
        let kind = RecordKind(rawValue: b[p + 6])
        let flags = b[p + 7]
        let ts = b.le(Int64.self, p + 8)
        let conn = b.le(UInt32.self, p + 16)
        let a = p + Layout.recordHeaderSize
        blockPos = a + alen + plen
        blockRemaining -= 1
        return CaptureRecord(kind: kind, timestamp: ts, connection: conn, isBinary: flags & 1 != 0,
                             aux: UnsafeRawBufferPointer(rebasing: b[a..<(a + alen)]),
                             payload: UnsafeRawBufferPointer(rebasing: b[(a + alen)..<(a + alen + plen)]))
    }

    private func advanceFrame() throws(CaptureError) -> Bool {
        if let plan {
            guard planPosition < plan.count else { finished = true; return false }
            let e = plan[planPosition]
            planPosition += 1
            switch try loadFrame(at: e.offset, knownSize: e.compressedSize) {
            case let .data(_, count, _, _):
                currentFrameOffset = e.offset
                blockPos = Layout.blockHeaderSize
                blockRemaining = count
                return true
            case .skippable:
                throw corrupt(e.offset, "index points at a skippable frame")
            case let .torn(detail):
                damage = CaptureDamage(kind: .tornTail, offset: e.offset, detail: detail)
                finished = true
                return false
            }
        }
        while scanOffset < fileSize {
            let o = scanOffset
            switch try loadFrame(at: o, knownSize: nil) {
            case let .data(size, count, _, _):
                scanOffset += Int64(size)
                currentFrameOffset = o
                blockPos = Layout.blockHeaderSize
                blockRemaining = count
                return true
            case let .skippable(size, _):
                scanOffset += Int64(size)
            case let .torn(detail):
                damage = CaptureDamage(kind: .tornTail, offset: o, detail: detail)
                finished = true
                return false
            }
        }
        finished = true
        return false
    }

    /// Calls `body` for every record (views valid inside the call); stops early when it returns false.
    public func forEach(_ body: (CaptureRecord) throws -> Bool) throws {
        while let r = try next() {
            if try !body(r) { return }
        }
    }
}
