import Synchronization

/// The decompressed block a `CaptureRecord` from `CaptureReader.next()` points into, for a
/// consumer that hands the payload to another thread without copying it (the Kafka sink gives
/// librdkafka a pointer into the block). Opt-in: a consumer that never calls `hold()` costs
/// the reader nothing, and its records stay views valid until the next one.
///
/// `hold()` adds one to the block's count and returns a token; until `release(_:)` is called
/// with that token the block's bytes stay valid and unchanged: the reader does not decompress
/// into a held block, it takes another from its pool (or a new one) and comes back to the held
/// one once every hold is released. Blocks are recycled, not freed.
///
/// **Bounded.** A reader lets consumers hold at most `CaptureReader.maxHeldBlocks` blocks at
/// once. `hold()` on a block nobody holds yet, while that many are held, returns nil: the
/// consumer copies the payload instead (it never waits — the holds are released by delivery
/// reports that may be served on the very thread that is reading). So the pool never exceeds
/// `maxHeldBlocks` + 2 buffer pairs, whatever the consumer does: a broker that is slow or gone,
/// or one stuck partition pinning one message in every block.
///
/// Holds are atomic: `hold` runs on the reading thread, `release` on any thread. Every hold
/// must be released exactly once.
package struct CaptureBlock {
    let buffers: Unmanaged<FrameBuffers>

    init(_ buffers: FrameBuffers) {
        self.buffers = Unmanaged.passUnretained(buffers)
    }

    /// Adds a hold and returns the token to give to `release`; nil when this block is not held
    /// yet and the reader's cap on held blocks is reached (copy the bytes instead).
    /// Call it on the thread that reads, while the record is current.
    @inline(__always)
    package func hold() -> UnsafeMutableRawPointer? {
        let taken = buffers._withUnsafeGuaranteedRef { buffers -> Bool in
            // Only the reading thread adds holds, so a count of 1 (the pool's own) here means
            // no consumer holds the block and none can release it concurrently.
            let before = buffers.holds.add(1, ordering: .acquiringAndReleasing).oldValue
            if before > 1 { return true }
            if buffers.held.pin() { return true }
            buffers.holds.subtract(1, ordering: .relaxed)
            return false
        }
        return taken ? buffers.toOpaque() : nil
    }

    /// Releases the hold `token` stands for (any thread); `count` holds on the same block at
    /// once (one atomic operation for a run of delivery reports from one block).
    @inline(__always)
    package static func release(_ token: UnsafeMutableRawPointer, count: Int = 1) {
        Unmanaged<FrameBuffers>.fromOpaque(token).releaseHold(count)
    }
}

/// A reader's count of the blocks consumers hold, against its cap; shared by the reader's
/// buffers (which may outlive it while held).
final class HeldBlocks: Sendable {
    /// Blocks with at least one consumer hold.
    let count = Atomic<Int>(0)
    /// The most blocks held at once since the reader opened.
    let highWater = Atomic<Int>(0)
    /// The cap (`CaptureReader.maxHeldBlocks`).
    let limit: Atomic<Int>

    init(limit: Int) {
        self.limit = Atomic(limit)
    }

    /// Counts one more held block, unless that would pass the cap (then false, count unchanged).
    @inline(__always)
    func pin() -> Bool {
        let now = count.add(1, ordering: .relaxed).newValue
        if now > limit.load(ordering: .relaxed) {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        // Only the reading thread pins, so this max needs no compare-exchange loop.
        if now > highWater.load(ordering: .relaxed) { highWater.store(now, ordering: .relaxed) }
        return true
    }
}

extension Unmanaged where Instance == FrameBuffers {
    /// Drops one hold: at one left the block is free again (uncounted from the held blocks);
    /// at none — the reader let go of it (`retire`) — it is freed.
    @inline(__always)
    func releaseHold(_ count: Int = 1) {
        let left = _withUnsafeGuaranteedRef { buffers in
            let left = buffers.holds.subtract(count, ordering: .acquiringAndReleasing).newValue
            if left == 1 { buffers.held.count.subtract(1, ordering: .relaxed) }
            return left
        }
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
