/// A k-way merge of several captures by receive time, yielding `CaptureRecord` views without
/// copying: each reader keeps its own decompressed block, the merge holds every reader's head
/// record and hands out the smallest, advancing only that reader on the following call.
///
/// Order: by receive time; for equal times the record of the earlier input (in the order the
/// readers were given) comes first, and records of one input keep their file order. So the
/// merge is stable, and merging a single capture yields it unchanged.
///
/// `next()` allocates nothing per record. The returned view is valid until the next call.
package final class MergedReader {
    /// The inputs, in priority order for equal receive times.
    package let readers: [CaptureReader]
    /// Index (into `readers`) of the input the last record returned by `next()` came from.
    package private(set) var currentSource = -1
    /// Records returned so far, per input.
    package private(set) var recordsPerSource: [Int]

    /// Each input's head record, valid while that reader has not moved on.
    private var heads: [CaptureRecord?]
    /// Min-heap of input indices ordered by (head timestamp, input index).
    private var heap: [Int] = []
    private var started = false
    /// Readers whose first record has been taken (a reader that throws is asked again on the next call).
    private var primed = 0
    /// The input whose head was handed out last and must advance on the next call.
    private var pending = -1
    /// Readers that read parts of one file (the chains of `CaptureIndex.timeOrderedChains`)
    /// share a group number; equal times within a group go to the record earlier in the file
    /// (its frame's offset), so merging a file's chains gives the stable receive-time order.
    /// Nil: every reader is its own input (ties by input order).
    package var fileGroups: [Int]?

    package init(readers: [CaptureReader]) {
        self.readers = readers
        heads = Array(repeating: nil, count: readers.count)
        recordsPerSource = Array(repeating: 0, count: readers.count)
        heap.reserveCapacity(readers.count)
    }

    /// Opens every path as a `CaptureReader`.
    package convenience init(paths: [String]) throws(CaptureError) {
        var rs: [CaptureReader] = []
        for path in paths { rs.append(try CaptureReader(path: path)) }
        self.init(readers: rs)
    }

    /// The reader the last record came from (for its path, header or damage).
    var currentReader: CaptureReader? { currentSource >= 0 ? readers[currentSource] : nil }

    /// The next record of the merge, or nil when every input is exhausted.
    /// Throws the first damaged frame an input meets; torn tails end that input quietly (see each reader's `damage`).
    /// After a throw the next call goes on (the reader that threw reads the frame after the damaged one).
    package func next() throws(CaptureError) -> CaptureRecord? {
        if !started {
            while primed < readers.count {
                let readerIndex = primed
                let record = try readers[readerIndex].next()
                primed += 1
                if let record {
                    heads[readerIndex] = record
                    heap.append(readerIndex)
                    siftUp(heap.count - 1)
                }
            }
            started = true
        } else if pending >= 0 {
            let source = pending
            let advanced = try readers[source].next()
            pending = -1
            if let record = advanced {
                heads[source] = record
                siftDown(0)  // source is still at the top; its key only grew
            } else {
                heads[source] = nil
                let last = heap.removeLast()
                if !heap.isEmpty {
                    heap[0] = last
                    siftDown(0)
                }
            }
        }
        guard let top = heap.first, let record = heads[top] else {
            currentSource = -1
            return nil
        }
        pending = top
        currentSource = top
        recordsPerSource[top] += 1
        return record
    }

    /// Calls `body` with every record and its input index; stops early when it returns false.
    package func forEach(_ body: (CaptureRecord, Int) throws -> Bool) throws {
        while let record = try next() {
            if try !body(record, currentSource) { return }
        }
    }

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        let ta = heads[a]!.timestamp, tb = heads[b]!.timestamp
        if ta != tb { return ta < tb }
        if let groups = fileGroups, groups[a] == groups[b] {
            return readers[a].currentFrameOffset < readers[b].currentFrameOffset
        }
        return a < b
    }

    private func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(heap[child], heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func siftDown(_ start: Int) {
        var parent = start
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            var smallest = left
            if left + 1 < count, less(heap[left + 1], heap[left]) { smallest = left + 1 }
            guard less(heap[smallest], heap[parent]) else { return }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
