#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum IndexAppender {
    static func truncateAndAppend(path: String, at end: Int64, entries: [CaptureIndex.Entry]) throws(CaptureError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw CaptureError.io(path, "open the capture for writing", errno: errno) }
        defer { close(fd) }
        if ftruncate(fd, off_t(end)) != 0 { throw CaptureError.io(path, "truncate the capture", errno: errno) }
        let frame = Layout.encodeIndex(entries)
        let written = frame.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(end)) }
        if written != frame.count { throw CaptureError.io(path, "write the seek index", errno: errno) }
    }
}
