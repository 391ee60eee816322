import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a text file line by line, plain or compressed with gzip or zstd (detected from the
/// first bytes, whatever the name), handing out each line as a view without its `\n`.
/// Memory stays bounded by the longest line, and lines are at most `maxLineBytes` long: a
/// longer one (a file that is not a recording, a blob without newlines) stops the read with
/// its line number instead of growing the buffer (and the parser's copy of it) without end.
final class LineReader {

    enum Compression: String, Sendable { case plain, gzip, zstd }

    let path: String
    private(set) var compression: Compression = .plain
    /// 1-based number of the line last returned.
    private(set) var lineNumber = 0
    let maxLineBytes: Int

    private let fd: Int32
    private var data: UnsafeMutableRawBufferPointer
    private var start = 0, end = 0, scanned = 0
    private var eof = false
    // Compressed input.
    private var raw: UnsafeMutableRawBufferPointer
    private var rawStart = 0, rawEnd = 0, rawEOF = false
    private var rawConsumed: Int64 = 0
    private var zstd: ZstdStreamDecompressor?
    private var gz: UnsafeMutablePointer<z_stream>?
    private var gzEnded = false
    private var zstdFrameOpen = false

    init(path: String, maxLineBytes: Int = CaptureImporter.defaultMaxLineBytes) throws(CaptureError) {
        self.path = path
        self.maxLineBytes = maxLineBytes
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CaptureError.io(path, "open the input", errno: errno) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(fd)
            throw CaptureError.io(path, "read the input", errno: EISDIR)
        }
        data = .allocate(byteCount: 1 << 20, alignment: 16)
        raw = .allocate(byteCount: 256 * 1024, alignment: 16)
        var magic = [UInt8](repeating: 0, count: 4)
        let magicCount = pread(fd, &magic, 4, 0)
        if magicCount >= 2, magic[0] == 0x1F, magic[1] == 0x8B {
            compression = .gzip
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            // 15 + 32: a zlib or gzip header, detected.
            if inflateInit2_(stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) != Z_OK {
                stream.deallocate()
                // deinit frees the buffers and closes `fd`: every property is set by now.
                throw CaptureError(.io, path: path, what: "cannot start gzip decompression", remedy: "report this as a bug")
            }
            gz = stream
        } else if magicCount == 4, magic == [0x28, 0xB5, 0x2F, 0xFD] {
            compression = .zstd
            zstd = ZstdStreamDecompressor()
        }
    }

    private func cleanupBuffers() {
        Glibc.close(fd)
        data.deallocate()
        raw.deallocate()
    }

    deinit {
        if let gz {
            inflateEnd(gz)
            gz.deallocate()
        }
        cleanupBuffers()
    }

    /// The next line without its newline (a last line without one is returned too), or nil at
    /// the end. The view is valid until the next call.
    func next() throws(CaptureError) -> UnsafeRawBufferPointer? {
        while true {
            if scanned < end, let base = data.baseAddress,
                let hit = memchr(base + scanned, 10, end - scanned)
            {
                let nl = base.distance(to: hit)
                if nl - start > maxLineBytes { throw tooLong() }
                let line = UnsafeRawBufferPointer(start: base + start, count: nl - start)
                start = nl + 1
                scanned = start
                lineNumber += 1
                return line
            }
            scanned = end
            if eof {
                guard start < end else { return nil }
                if end - start > maxLineBytes { throw tooLong() }
                let line = UnsafeRawBufferPointer(start: data.baseAddress! + start, count: end - start)
                start = end
                lineNumber += 1
                return line
            }
            try fill()
        }
    }

    private func tooLong() -> CaptureError {
        CaptureError(
            .importFormat, path: path, line: lineNumber + 1,
            what: "line is longer than \(maxLineBytes) bytes (the --max-line limit), not a record",
            remedy: "check the file and --format; for records this long raise --max-line")
    }

    /// Moves the unfinished line to the front (growing the buffer if it fills it) and reads more.
    private func fill() throws(CaptureError) {
        if start > 0 {
            let remaining = end - start
            if remaining > 0 { memmove(data.baseAddress!, data.baseAddress! + start, remaining) }
            end = remaining
            scanned -= start
            start = 0
        }
        if end == data.count {
            if end >= maxLineBytes { throw tooLong() }
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: min(data.count * 2, max(maxLineBytes, data.count + 1)), alignment: 16)
            bigger.baseAddress!.copyMemory(from: data.baseAddress!, byteCount: end)
            data.deallocate()
            data = bigger
        }
        let room = UnsafeMutableRawBufferPointer(rebasing: data[end...])
        let got: Int
        switch compression {
        case .plain: got = try readRaw(into: room)
        case .zstd: got = try inflateZstd(into: room)
        case .gzip: got = try inflateGzip(into: room)
        }
        if got == 0 { eof = true }
        end += got
    }

    private func readRaw(into dst: UnsafeMutableRawBufferPointer) throws(CaptureError) -> Int {
        while true {
            let readCount = read(fd, dst.baseAddress, dst.count)
            if readCount < 0 {
                if errno == EINTR { continue }
                throw CaptureError.io(path, "read the input", errno: errno)
            }
            return readCount
        }
    }

    /// Refills the compressed-input buffer when it is empty; false at the end of the file.
    private func refillRaw() throws(CaptureError) -> Bool {
        if rawStart < rawEnd { return true }
        if rawEOF { return false }
        let readCount = try readRaw(into: raw)
        rawStart = 0
        rawEnd = readCount
        if readCount == 0 { rawEOF = true }
        return readCount > 0
    }

    private func inflateZstd(into dst: UnsafeMutableRawBufferPointer) throws(CaptureError) -> Int {
        while true {
            guard try refillRaw() else {
                if zstdFrameOpen {
                    throw CaptureError(
                        .truncated, path: path, offset: rawConsumed, what: "the zstd data ends inside a frame",
                        remedy: "the file was cut short; recover it from its source")
                }
                return 0
            }
            let src = UnsafeRawBufferPointer(rebasing: raw[rawStart..<rawEnd])
            switch zstd!.decompress(src, into: dst) {
            case let .success((consumed, produced, ended)):
                rawStart += consumed
                rawConsumed += Int64(consumed)
                zstdFrameOpen = !ended
                if produced > 0 { return produced }
            case let .failure(failure):
                throw CaptureError(
                    .corrupt, path: path, offset: rawConsumed, what: "the zstd data is damaged (\(failure.message))",
                    remedy: "check the file with `zstd -t`")
            }
        }
    }

    private func inflateGzip(into dst: UnsafeMutableRawBufferPointer) throws(CaptureError) -> Int {
        let stream = gz!
        while true {
            guard try refillRaw() else {
                if !gzEnded {
                    throw CaptureError(
                        .truncated, path: path, offset: rawConsumed, what: "the gzip data ends before its trailer",
                        remedy: "the file was cut short; recover it from its source")
                }
                return 0
            }
            if gzEnded {
                // Another gzip member follows (concatenated files).
                inflateReset(stream)
                gzEnded = false
            }
            let avail = rawEnd - rawStart
            stream.pointee.next_in = (raw.baseAddress! + rawStart).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_in = uInt(avail)
            stream.pointee.next_out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(dst.count)
            let status = inflate(stream, Z_NO_FLUSH)
            let consumed = avail - Int(stream.pointee.avail_in)
            let produced = dst.count - Int(stream.pointee.avail_out)
            rawStart += consumed
            rawConsumed += Int64(consumed)
            if status == Z_STREAM_END {
                gzEnded = true
            } else if status != Z_OK && status != Z_BUF_ERROR {
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                throw CaptureError(
                    .corrupt, path: path, offset: rawConsumed, what: "the gzip data is damaged (\(msg))",
                    remedy: "check the file with `gzip -t`")
            }
            if produced > 0 { return produced }
        }
    }
}
