import K2Core

/// Compresses a `CaptureWriter`'s finished blocks on worker threads while the writer fills the
/// next one (`CaptureWriter.Options.compressionThreads`). Each worker has its own zstd context
/// with the writer's settings, and every block is still one `ZSTD_compress2` call, so the
/// frames are byte for byte those of compressing on the writer's thread. The writer takes the
/// compressed frames back in submission order (`collect`) and writes them itself.
///
/// At most `capacity` blocks are in flight (queued, being compressed or compressed but not yet
/// collected); their buffers are reused, so a run allocates per frame only while it starts.
final class FrameCompressors: @unchecked Sendable {
    // unchecked: every field but the workers' own compressors is read and written with
    // `condition` locked; a job's buffers belong to the writer until `submit` and after
    // `collect` hands it back, to one worker while it compresses it (state `.compressing`).

    /// What the writer gets back for one block: the compressed frame (valid during `collect`'s
    /// body) and the block's figures for the seek index.
    struct Frame {
        var compressed: Result<UnsafeRawBufferPointer, ZstdFailure>
        var uncompressedSize: Int
        var recordCount: Int
        var firstTimestamp: Int64
        var lastTimestamp: Int64
    }

    private enum State { case queued, compressing, done }

    private final class Job {
        var block: UnsafeMutableRawBufferPointer
        var out: UnsafeMutableRawBufferPointer
        var used = 0
        var recordCount = 0
        var firstTimestamp: Int64 = 0
        var lastTimestamp: Int64 = 0
        var state = State.queued
        var compressedSize: Result<Int, ZstdFailure> = .success(0)

        init(blockCapacity: Int) {
            block = .allocate(byteCount: blockCapacity, alignment: 16)
            out = .allocate(byteCount: ZstdCompressor.bound(blockCapacity), alignment: 16)
        }

        deinit {
            block.deallocate()
            out.deallocate()
        }
    }

    /// Blocks in flight at most: one per worker and one more, so that a worker finding its
    /// block done can start the next while the writer collects.
    let capacity: Int
    private let blockCapacity: Int
    private let condition = Condition()
    /// Submitted and not yet collected, oldest first.
    private var inFlight: [Job] = []
    private var idle: [Job] = []
    private var stopping = false
    private var workers: [JoinableThread] = []

    /// Starts `threads` workers compressing at `level` (content checksum on, as the writer's).
    /// Fewer start when the system refuses threads; none → nil (compress on the writer's thread).
    init?(threads: Int, level: Int32, blockCapacity: Int) {
        capacity = threads + 1
        self.blockCapacity = blockCapacity
        for _ in 0..<threads {
            guard let worker = JoinableThread.start({ [self] in work(level: level) }) else { break }
            workers.append(worker)
        }
        if workers.isEmpty { return nil }
    }

    /// Stops the workers (blocks not yet compressed stay so) and waits for them. The owner
    /// calls it (the workers hold the pool until then).
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        for worker in workers { worker.join() }
        workers = []
    }

    /// Hands `block` (its first `used` bytes, block header included) over for compression and
    /// puts an empty block of at least the writer's starting size in its place. The caller
    /// first collects down to `capacity` - 1 blocks in flight.
    func submit(
        _ block: inout UnsafeMutableRawBufferPointer, used: Int, recordCount: Int, firstTimestamp: Int64, lastTimestamp: Int64
    ) {
        condition.withLock {
            let job = idle.popLast() ?? Job(blockCapacity: blockCapacity)
            swap(&job.block, &block)
            job.used = used
            job.recordCount = recordCount
            job.firstTimestamp = firstTimestamp
            job.lastTimestamp = lastTimestamp
            job.state = .queued
            inFlight.append(job)
            condition.broadcast()
        }
    }

    /// Hands the compressed frames to `body` oldest first: every one already done, and waits
    /// for the oldest while more than `remaining` are in flight (0: all of them).
    func collect(
        leavingAtMost remaining: Int, _ body: (Frame) throws(CaptureError) -> Void
    ) throws(CaptureError) {
        while true {
            condition.lock()
            guard let job = inFlight.first else {
                condition.unlock()
                return
            }
            if job.state != .done && inFlight.count <= remaining {
                condition.unlock()
                return
            }
            while job.state != .done { condition.wait() }
            inFlight.removeFirst()
            condition.unlock()
            let frame = Frame(
                compressed: job.compressedSize.map { UnsafeRawBufferPointer(rebasing: job.out[0..<$0]) },
                uncompressedSize: job.used, recordCount: job.recordCount,
                firstTimestamp: job.firstTimestamp, lastTimestamp: job.lastTimestamp)
            defer { condition.withLock { idle.append(job) } }
            try body(frame)
        }
    }

    /// A worker: compresses the oldest queued block until `stop`.
    private func work(level: Int32) {
        let compressor = ZstdCompressor(level: level)
        condition.lock()
        while !stopping {
            guard let job = inFlight.first(where: { $0.state == .queued }) else {
                condition.wait()
                continue
            }
            job.state = .compressing
            condition.unlock()
            let bound = ZstdCompressor.bound(job.used)
            if job.out.count < bound {
                job.out.deallocate()
                job.out = .allocate(byteCount: bound, alignment: 16)
            }
            let result = compressor.compress(UnsafeRawBufferPointer(rebasing: job.block[0..<job.used]), into: job.out)
            condition.lock()
            job.compressedSize = result
            job.state = .done
            condition.broadcast()
        }
        condition.unlock()
    }
}
