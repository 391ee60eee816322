import Synchronization

/// The decompressed block a `CaptureRecord` from `CaptureReader.next()` points into, for a
/// consumer that hands the payload to another thread without copying it (the Kafka sink gives
/// librdkafka a pointer into the block).
///
/// `hold()` adds one to the block's count and returns a token; until `release(_:)` is called
/// with that token the block's bytes stay valid and unchanged: the reader does not decompress
/// into a held block, it takes another from its pool (or a new one) and comes back to the held
/// one once every hold is released. Blocks are recycled, not freed. Holds are atomic: `hold`
/// and `release` may run on different threads. Every hold must be released exactly once.
public struct CaptureBlock {
    let buffers: Unmanaged<FrameBuffers>

    init(_ buffers: FrameBuffers) {
        self.buffers = Unmanaged.passUnretained(buffers)
    }

    /// Adds a hold; returns the token to give to `release`.
    @inline(__always)
    public func hold() -> UnsafeMutableRawPointer {
        _ = buffers._withUnsafeGuaranteedRef { $0.holds.add(1, ordering: .relaxed) }
        return buffers.toOpaque()
    }

    /// Releases the hold `token` stands for (any thread).
    @inline(__always)
    public static func release(_ token: UnsafeMutableRawPointer) {
        Unmanaged<FrameBuffers>.fromOpaque(token).releaseHold()
    }
}

extension Unmanaged where Instance == FrameBuffers {
    /// Drops one hold; the last one of a block its reader has let go of (`retire`) frees it.
    @inline(__always)
    func releaseHold() {
        let left = _withUnsafeGuaranteedRef { $0.holds.subtract(1, ordering: .acquiringAndReleasing).newValue }
        if left == 0 { release() }
    }
}

extension FrameBuffers {
    /// Nobody but the reader's pool holds the block: it may be decompressed into.
    @inline(__always)
    var isFree: Bool { holds.load(ordering: .acquiring) == 1 }

    /// The reader lets go of these buffers (it goes away): freed now if nobody holds the block,
    /// else by the last `CaptureBlock.release`.
    func retire() {
        let me = Unmanaged.passRetained(self)
        me.releaseHold()
    }
}
