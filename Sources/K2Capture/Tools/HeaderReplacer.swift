#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gives a closed capture another header: the frames are copied byte for byte (nothing is
/// decompressed) and the index's offsets move by the header's change in size. For writers that
/// learn header metadata only after their first record (an import whose input names things
/// after its first line).
enum HeaderReplacer {
    static func replace(path: String, header: CaptureHeader) throws(CaptureError) {
        let reader = try CaptureReader(path: path)
        let index = try reader.index()
        guard index.storedInFile, let dataEnd = reader.storedIndexOffset else {
            throw CaptureError(
                .invalidArgument, path: path, what: "cannot replace the header of a capture without a stored index",
                remedy: "this is a bug in the caller: close the writer first")
        }
        let headerBytes = Layout.encodeHeader(header)
        let shift = Int64(headerBytes.count) - reader.dataStart
        let entries = index.entries.map { entry in
            var moved = entry
            moved.offset += shift
            return moved
        }
        let temp = path + ".header.tmp"
        let input = open(path, O_RDONLY | O_CLOEXEC)
        if input < 0 { throw CaptureError.io(path, "open the capture", errno: errno) }
        defer { close(input) }
        let output = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if output < 0 { throw CaptureError.io(temp, "create the capture", errno: errno) }
        func fail(_ action: String) -> CaptureError {
            let error = CaptureError.io(temp, action, errno: errno)
            close(output)
            unlink(temp)
            return error
        }
        func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
            var done = 0
            while done < bytes.count {
                let written = write(output, bytes.baseAddress! + done, bytes.count - done)
                if written < 0 { if errno == EINTR { continue }; return false }
                done += written
            }
            return true
        }
        guard headerBytes.withUnsafeBytes({ writeAll($0) }) else { throw fail("write the capture") }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = reader.dataStart
        while offset < dataEnd {
            let want = Int(min(Int64(buffer.count), dataEnd - offset))
            let got = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress, want, off_t(offset)) }
            if got <= 0 { throw fail("copy the frames") }
            guard buffer.withUnsafeBytes({ writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }) else { throw fail("write the capture") }
            offset += Int64(got)
        }
        guard Layout.encodeIndex(entries).withUnsafeBytes({ writeAll($0) }) else { throw fail("write the seek index") }
        if close(output) != 0 { unlink(temp); throw CaptureError.io(temp, "close the capture", errno: errno) }
        if rename(temp, path) != 0 {
            let code = errno
            unlink(temp)
            throw CaptureError.io(path, "replace the capture", errno: code)
        }
    }
}
