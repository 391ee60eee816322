import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and checking a capture's header (magic, version, metadata) when it is opened.
extension CaptureReader {

    static func readHeader(fd: Int32, path: String, fileSize: Int64) throws(CaptureError) -> (CaptureHeader, Int64) {
        func notCapture(_ what: String) -> CaptureError {
            CaptureError(
                .notACapture, path: path, offset: 0, what: what,
                remedy: "give a .k2cap file written by k2 (convert other formats with `k2 capture import`)")
        }
        guard fileSize >= 8 else {
            if fileSize == 0 { throw notCapture("the file is empty, not a capture") }
            throw CaptureError(
                .truncated, path: path, offset: fileSize, what: "file ends inside the capture header (\(fileSize) bytes)",
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
            throw CaptureError(
                .truncated, path: path, offset: fileSize, what: "file ends inside the capture header",
                remedy: "the file was cut short; recover it from its source")
        }
        var content = [UInt8](repeating: 0, count: size)
        guard pread(fd, &content, size, 8) == size else { throw CaptureError.io(path, "read the capture header", errno: errno) }
        return try withBytes(content) { (c) throws(CaptureError) -> (CaptureHeader, Int64) in
            guard Array(c[0..<8]) == Layout.headerMagic else { throw notCapture("k2 header frame lacks the K2CAPHDR magic") }
            let major = c.le(UInt16.self, 8)
            let minor = c.le(UInt16.self, 10)
            if major > CaptureHeader.currentMajor {
                throw CaptureError(
                    .unsupportedVersion, path: path, offset: 8,
                    what: "capture format \(major).\(minor) is newer than this k2 reads (\(CaptureHeader.currentMajor).x)",
                    remedy: "upgrade k2 to a release that reads format \(major).x")
            }
            if major == 0 {
                throw CaptureError(
                    .unsupportedVersion, path: path, offset: 8, what: "capture format 0.\(minor) is not a released version",
                    remedy: "re-create the capture with a released k2")
            }
            let len = Int(c.le(UInt32.self, 16))
            let crc = c.le(UInt32.self, 20)
            guard 24 + len <= c.count else {
                throw CaptureError(
                    .corrupt, path: path, offset: 24, what: "header metadata length \(len) exceeds the header frame",
                    remedy: "the header is damaged; run `k2 capture verify`")
            }
            let json = UnsafeRawBufferPointer(rebasing: c[24..<(24 + len)])
            guard CRC32.checksum(json) == crc else {
                throw CaptureError(
                    .corrupt, path: path, offset: 32, what: "header checksum mismatch",
                    remedy: "the header is damaged; the records may still be salvaged with `zstd -d`")
            }
            let value: JSONValue
            do throws(CoreError) { value = try JSONParser.parse(json) } catch {
                throw CaptureError(
                    .corrupt, path: path, offset: 32 + Int64(error.offset), what: "header metadata is not valid JSON",
                    remedy: "the header is damaged")
            }
            var header = CaptureHeader(
                toolVersion: value["tool_version"]?.stringValue ?? "unknown",
                createdNanos: value["created_ns"]?.int64Value ?? 0,
                host: value["host"]?.stringValue ?? "",
                metadata: {
                    if case let .object(pairs)? = value["metadata"] { return pairs }; return []
                }())
            header.major = major
            header.minor = minor
            return (header, Int64(8 + size))
        }
    }
}
