import NIOCore

/// Server-side WebSocket frames encoded once and written many times, for benchmark sources that
/// must outrun the client: `append` frames each payload (unmasked, as a server sends it) into
/// one buffer; `WebSocketConnection.write(_:_:)` writes a run of frames as a zero-copy slice of
/// it — one socket write for thousands of frames, no per-frame work at all.
public final class EncodedFrames: @unchecked Sendable {
    // unchecked: built by one thread, then only read (written as slices on the loop).
    private var buffer: ByteBuffer
    /// Frame i occupies bytes starts[i] ..< starts[i + 1]; its payload begins at payloadStarts[i].
    private var starts: [Int] = [0]
    private var payloadStarts: [Int] = []

    public init(capacity: Int = 1 << 20) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// Frames held.
    public var count: Int { payloadStarts.count }
    /// Encoded bytes held (headers included).
    public var byteCount: Int { buffer.writerIndex }

    /// Encodes one complete text (or binary) frame.
    public func append(_ payload: UnsafeRawBufferPointer, binary: Bool = false) {
        let len = payload.count
        buffer.writeInteger(UInt8(0x80 | (binary ? 0x2 : 0x1)))
        if len < 126 {
            buffer.writeInteger(UInt8(len))
        } else if len <= 0xFFFF {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(len))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(len))
        }
        payloadStarts.append(buffer.writerIndex)
        buffer.writeBytes(payload)
        starts.append(buffer.writerIndex)
    }

    /// The end of the longest run of frames from `from` that fits in `maxBytes` (at least one frame).
    public func runEnd(from: Int, maxBytes: Int) -> Int {
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
    public func withPayload<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
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
    public func write(_ frames: EncodedFrames, _ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let slice = frames.slice(range)
        if channel.eventLoop.inEventLoop {
            handler?.writeEncoded(slice)
        } else {
            channel.eventLoop.execute { [self] in self.handler?.writeEncoded(slice) }
        }
    }
}
