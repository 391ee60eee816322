import K2Capture
import K2Core

/// A profile's generated records as a `ReplaySource`: `k2 sim run` and K2Bench profile workloads
/// replay the generator directly, without a capture file. The records, their timestamps and
/// bytes are those `CaptureGenerator.write` puts into a capture (one `GeneratedRecords` makes
/// both), so replaying this source and replaying the written capture send the same messages.
///
/// - `keep`: also write the records into this capture as they are replayed (the first round
///   only; later `--loop` rounds are the same records). Closed at the end of the first round, or
///   by `closeKept()` (call it after an interrupted run).
/// - `until`: end each round at the first record received at or after this time (ns), so a
///   `--to` window does not generate the rest of the profile.
///
/// Used by the engine's one sending thread (it is created on another and handed over, hence
/// `@unchecked Sendable`); not for concurrent use.
package final class GeneratedReplaySource: ReplaySource, @unchecked Sendable {
    // unchecked: created on one thread, then used by the engine's sending thread only.
    package let records: GeneratedRecords
    package let span: Int64
    package let singleExchange: String?
    private let venueNames: [String]
    private var kept: CaptureWriter?
    private let until: Int64
    private var fresh = true
    /// Rounds started (1 after the first `rewind`).
    package private(set) var rounds = 0

    package init(generator: CaptureGenerator, keep path: String? = nil, until: Int64? = nil, commandLine: String = "") throws(CaptureError) {
        records = GeneratedRecords(generator)
        venueNames = generator.profile.venues.map(\.rawValue)
        singleExchange = venueNames.count == 1 ? venueNames[0] : nil
        // As a capture's span: last − first receive time, plus one mean gap (the loop shift).
        let raw = generator.endTimestamp - generator.firstTimestamp
        let expected = generator.profile.timeline.expectedCount * Double(max(1, venueNames.count))
        span = max(1, raw + (expected > 1 ? Int64(Double(raw) / expected) : 0))
        self.until = until ?? .max
        if let path {
            kept = try CaptureWriter(
                path: path, header: generator.header(commandLine: commandLine),
                options: CaptureGenerator.writerOptions(.init()))
        }
    }

    package func rewind() throws {
        rounds += 1
        if rounds > 1 { try closeKept() }
        if fresh { fresh = false; return }
        records.rewind()
    }

    @inline(__always)
    package func next() throws -> CaptureRecord? {
        guard let record = records.next(), record.timestamp < until else {
            try closeKept()
            return nil
        }
        if let kept { try kept.append(record) }
        return record
    }

    @inline(__always)
    package var exchange: String { venueNames[records.connection] }

    /// Closes the `keep` capture (idempotent): what was replayed so far is in it.
    package func closeKept() throws(CaptureError) {
        guard let writer = kept else { return }
        kept = nil
        try writer.close()
    }

    /// What was generated so far (this round).
    package var result: CaptureGenerator.Result { records.result }
}
