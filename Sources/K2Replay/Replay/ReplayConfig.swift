import K2Capture
import K2Core

/// Everything a replay needs besides its sinks. Defaults replay `recv` records once at 1x.
/// The records come from capture `files`, or from a `source` (e.g. K2Sim's generator).
package struct ReplayConfig: Sendable {
    /// Capture files; several are merged by receive time. Ignored when `source` is set.
    package var files: [String]
    /// Records from this source instead of `files` (nil: read `files`). Default nil.
    package var source: ReplaySourceFactory?
    /// Speed multiplier, `max`, or a fixed rate. Default 1x.
    package var pace: Pace = .speed(1)
    /// How many times to play the capture (≥ 1); round k shifts capture times by k × span.
    package var loops: Int = 1
    /// Record filter (time window, connections, streams, symbols; `--kind` too).
    package var filter: RecordFilter = RecordFilter()
    /// Record kinds replayed (`--kinds`). Default: only `recv` (what the exchange sent).
    package var kinds: Set<RecordKind> = [.recv]
    /// Keep only messages whose shard (hash of symbol, else connection) is `shard.index` of `shard.count`.
    package var shard: Shard?
    /// How long `finish` may take per sink to deliver what is in flight. Default 30 s.
    package var finishTimeoutNanos: Int64 = 30_000_000_000
    /// Sleep until this long before a message is due, then spin. Default 80 µs.
    var spinNanos: Int64 = 80_000
    /// Run the sending thread under `SCHED_FIFO` with this priority (1–99) while paced (not at
    /// `max`), so that waking up for a message does not wait for other processes' time slices.
    /// Needs CAP_SYS_NICE (root); refused otherwise (exit 2). Default nil: normal scheduling.
    package var realtimePriority: Int32?
    /// Decompress the next block of each capture on a second thread while the current one is
    /// replayed, so a paced send never waits 1–4 ms for a 1 MiB block. Default on; off only to
    /// measure what it buys (`k2 replay --no-read-ahead`, scripts/bench-replay.sh).
    package var readAhead: Bool = true
    /// Most stretches of one capture whose times overlap (`CaptureIndex.timeOrderedChains`) that
    /// the engine merges into receive-time order, holding one frame of each; a capture needing
    /// more (records grouped by connection over many connections) is refused with the
    /// `k2 capture sort` command that fixes it. Default 16 (≤ ~36 MiB of frame buffers).
    package var maxOverlappingChains: Int = 16
    /// Replay the complete frames of a capture with a torn tail (the writer was killed, the copy
    /// was cut short). Default false: such a capture is refused before anything is sent
    /// (`ReplayError.damagedInput`, exit 1) — a replay of 41 % of a file must not look complete.
    /// With true, the summary carries the damage (`ReplaySummary.inputDamage`).
    /// A damaged frame mid-file (fails its checksum or does not decode) stops the replay there
    /// (outcome `damagedInput`, exit 1; found before anything is sent in a file without an
    /// index); with true, the readers skip it and replay every intact frame before and after it,
    /// the summary lists it (`skippedFrames`, `recordsSkipped`) and the outcome is still
    /// `damagedInput` (exit 1): records were lost.
    package var allowTorn: Bool = false
    /// How often the progress callback runs. Default 500 ms.
    var progressIntervalNanos: Int64 = 500_000_000
    /// Length of each lateness interval in the `.hlog`. Default 1 s.
    package var histogramIntervalNanos: Int64 = 1_000_000_000
    /// Lateness p99 above which a window counts as behind its schedule (harness-bound, see
    /// `HarnessLoad`). Default nil: one mean gap between messages, at least 1 ms.
    package var latenessBudgetNanos: Int64?
    /// After a stop (Ctrl-C, sink failure), read the rest of the captures to count what was never sent. Default on.
    package var countUnsentOnStop: Bool = true

    package init(files: [String]) {
        self.files = files
    }

    /// Replays what `source` makes instead of capture files.
    package init(source: ReplaySourceFactory) {
        files = []
        self.source = source
    }

    /// What the summary names as the input: the capture paths, or the source's name.
    var inputNames: [String] { source.map { [$0.name] } ?? files }
}

/// `--shard i/N`: a deterministic split of the messages over N replayers.
package struct Shard: Sendable, Equatable, CustomStringConvertible {
    package let index: Int
    package let count: Int

    package init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `i/N` with 0 ≤ i < N.
    package init(parsing text: String) throws(ReplayError) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let shardIndex = Int(parts[0]), let shardCount = Int(parts[1]), shardCount >= 1, shardIndex >= 0,
            shardIndex < shardCount
        else {
            throw ReplayError(
                .invalidArgument, what: "--shard '\(text)' is not i/N with 0 ≤ i < N",
                remedy: "write e.g. --shard 0/4 … --shard 3/4")
        }
        self.init(index: shardIndex, count: shardCount)
    }

    package var description: String { "\(index)/\(count)" }

    /// Whether this shard keeps a message: FNV-1a of the lower-cased symbol, else of the connection id.
    @inline(__always)
    package func keeps(symbol: UnsafeRawBufferPointer?, connection: UInt32) -> Bool {
        Int(Self.hash(symbol: symbol, connection: connection) % UInt64(count)) == index
    }

    @inline(__always)
    package static func hash(symbol: UnsafeRawBufferPointer?, connection: UInt32) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        if let symbol, !symbol.isEmpty {
            for var byte in symbol {
                if byte >= 65, byte <= 90 { byte += 32 }
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
        } else {
            var remaining = connection
            for _ in 0..<4 {
                hash = (hash ^ UInt64(remaining & 0xFF)) &* 0x0000_0100_0000_01b3
                remaining >>= 8
            }
        }
        return hash
    }
}

/// A progress snapshot, handed to the progress callback about twice a second.
package struct ReplayProgress: Sendable {
    package var messages: UInt64
    package var bytes: UInt64
    /// Messages per second since the previous snapshot.
    package var rate: Double
    /// How far the engine is behind the schedule now (ns; 0 when on time or at `max`).
    package var lagNanos: Int64
    /// Estimated time to the end (ns), if known.
    package var etaNanos: Int64?
    /// Fraction of the capture time replayed (0…1), if known.
    package var fraction: Double?
    package var elapsedNanos: Int64
    /// The last closed interval's harness load and label (`HarnessLoad`), nil before the first.
    package var harness: HarnessLoad? = nil
}
