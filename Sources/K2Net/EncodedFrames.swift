import NIOCore

/// Server-side WebSocket frames encoded once and written many times, for benchmark sources that
/// must outrun the client: `append` frames each payload (unmasked, as a server sends it) into
/// one buffer; `WebSocketConnection.write(_:_:)` writes a run of frames as a zero-copy slice of
/// it — one socket write for thousands of frames, no per-frame work at all.
package final class EncodedFrames: @unchecked Sendable {
    // unchecked: built by one thread, then only read (written as slices on the loop).
    // The same reason makes the stored state `@exclusivity(unchecked)`: no access can overlap
    // another, and the dynamic checks cost ~3 % of `k2 sim exchange --rate max`'s loop thread.
    @exclusivity(unchecked) private var buffer: ByteBuffer
    /// Frame i occupies bytes starts[i] ..< starts[i + 1]; its payload begins at payloadStarts[i].
    @exclusivity(unchecked) private var starts: [Int] = [0]
    @exclusivity(unchecked) private var payloadStarts: [Int] = []

    /// `capacity` bytes and `frames` frames held before anything grows.
    package init(capacity: Int = 1 << 20, frames: Int = 0) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
        starts.reserveCapacity(frames + 1)
        payloadStarts.reserveCapacity(frames)
    }

    /// Frames held.
    package var count: Int { payloadStarts.count }
    /// Encoded bytes held (headers included).
    package var byteCount: Int { buffer.writerIndex }

    /// Encodes one complete text (or binary) frame: header and payload in one write.
    package func append(_ payload: UnsafeRawBufferPointer, binary: Bool = false) {
        let len = payload.count
        let headerBytes = len < 126 ? 2 : len <= 0xFFFF ? 4 : 10
        let start = buffer.writerIndex
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: headerBytes + len) { out in
            out[0] = 0x80 | (binary ? 0x2 : 0x1)
            switch headerBytes {
            case 2:
                out[1] = UInt8(len)
            case 4:
                out[1] = 126
                out.storeBytes(of: UInt16(len).bigEndian, toByteOffset: 2, as: UInt16.self)
            default:
                out[1] = 127
                out.storeBytes(of: UInt64(len).bigEndian, toByteOffset: 2, as: UInt64.self)
            }
            if let source = payload.baseAddress, len > 0 { (out.baseAddress! + headerBytes).copyMemory(from: source, byteCount: len) }
            return headerBytes + len
        }
        payloadStarts.append(start + headerBytes)
        starts.append(start + headerBytes + len)
    }

    /// The end of the longest run of frames from `from` that fits in `maxBytes` (at least one frame).
    package func runEnd(from: Int, maxBytes: Int) -> Int {
        precondition(from < count, "runEnd from \(from) of \(count) frames")
        let limit = starts[from] + maxBytes
        var lo = from + 1, hi = count
        // The largest end in lo...hi with starts[end] <= limit (starts is increasing).
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= limit { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Calls `body` with frame `i`'s payload.
    package func withPayload<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[payloadStarts[i]..<starts[i + 1]]))
        }
    }

    /// Frames `range` as one buffer sharing this one's storage.
    func slice(_ range: Range<Int>) -> ByteBuffer {
        buffer.getSlice(at: starts[range.lowerBound], length: starts[range.upperBound] - starts[range.lowerBound])!
    }
}

extension WebSocketConnection {
    /// Writes frames `range` of `frames` after anything queued, and flushes: one write, no copy.
    /// On the connection's loop (elsewhere it hops there).
    package func write(_ frames: EncodedFrames, _ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let slice = frames.slice(range)
        if channel.eventLoop.inEventLoop {
            handler?.writeEncoded(slice)
        } else {
            channel.eventLoop.execute { [self] in self.handler?.writeEncoded(slice) }
        }
    }
}
