/// The seek index: one entry per data frame. Kept in a skippable frame at the end of the file
/// and rebuilt by scanning when missing (a writer that was killed never wrote it).
public struct CaptureIndex: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// Byte offset of the frame in the file.
        public var offset: Int64
        /// Size of the compressed frame in bytes.
        public var compressedSize: Int
        /// Size of the block once decompressed.
        public var uncompressedSize: Int
        public var recordCount: Int
        /// Smallest and largest receive time in the frame (equal to first and last for a
        /// capture in time order, which is what the writer's callers produce).
        public var firstTimestamp: Int64
        public var lastTimestamp: Int64
    }

    public var entries: [Entry]
    /// True when the index was read from the file, false when rebuilt by scanning.
    public var storedInFile: Bool

    public init(entries: [Entry], storedInFile: Bool) {
        self.entries = entries
        self.storedInFile = storedInFile
    }

    public var recordCount: Int { entries.reduce(0) { $0 + $1.recordCount } }
    public var compressedBytes: Int64 { entries.reduce(0) { $0 + Int64($1.compressedSize) } }
    public var uncompressedBytes: Int64 { entries.reduce(0) { $0 + Int64($1.uncompressedSize) } }
    public var firstTimestamp: Int64? { entries.map(\.firstTimestamp).min() }
    public var lastTimestamp: Int64? { entries.map(\.lastTimestamp).max() }

    /// The frames that may hold records with receive times in `from...to`.
    public func frames(overlapping from: Int64, _ to: Int64) -> [Int] {
        entries.indices.filter { entries[$0].lastTimestamp >= from && entries[$0].firstTimestamp <= to }
    }

    /// The frames split into chains that are each in receive-time order frame after frame (a
    /// frame joins the first chain whose last frame ends no later than it starts; in file order).
    /// A capture written in time order is one chain; one grouped by connection is about one
    /// chain per connection. Reading each chain with `CaptureReader.sortsWithinFrames` and merging
    /// the chains by time (`MergedReader`) yields every record in receive-time order, holding one
    /// frame per chain: the number of chains is the window a reader needs.
    public func timeOrderedChains(of frames: [Entry]? = nil) -> [[Entry]] {
        var chains: [[Entry]] = []
        var ends: [Int64] = []
        for entry in frames ?? entries {
            if let chain = ends.firstIndex(where: { $0 <= entry.firstTimestamp }) {
                chains[chain].append(entry)
                ends[chain] = entry.lastTimestamp
            } else {
                chains.append([entry])
                ends.append(entry.lastTimestamp)
            }
        }
        return chains
    }
}
