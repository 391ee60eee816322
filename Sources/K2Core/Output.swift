#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered writer to a file descriptor (stdout by default) that never allocates per write:
/// bytes collect in one buffer and leave in large `write(2)` calls.
package final class FDOutput {
    package let fd: Int32
    private var buffer: [UInt8] = []
    private let capacity: Int
    package private(set) var failed = false

    package init(fd: Int32 = 1, capacity: Int = 256 * 1024) {
        self.fd = fd
        self.capacity = capacity
        buffer.reserveCapacity(capacity + 4096)
    }

    deinit { flush() }

    @inline(__always)
    package func write(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { flush() }
    }

    @inline(__always)
    package func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { flush() }
    }

    package func write(_ text: String) {
        var utf8Text = text
        utf8Text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    /// Appends into the internal buffer through `body` (for JSON writers that append to `[UInt8]`).
    @inline(__always)
    package func append(_ body: (inout [UInt8]) -> Void) {
        body(&buffer)
        if buffer.count >= capacity { flush() }
    }

    package func flush() {
        guard !buffer.isEmpty else { return }
        var off = 0
        buffer.withUnsafeBytes { raw in
            while off < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                if written < 0 {
                    if errno == EINTR { continue }
                    failed = true  // EPIPE (reader went away) or disk full: stop writing quietly
                    return
                }
                off += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Standard error, unbuffered, for one-line messages. Every line goes through `Secrets.mask`.
package enum StdErr {
    package static func print(_ line: String) {
        var terminated = Secrets.mask(line) + "\n"
        terminated.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
    }
}
