/// Checks a whole capture: header, every frame's checksum and block structure, and the index.
public struct CaptureVerification: Sendable {
    public var path: String
    public var frames: Int = 0
    public var records: Int = 0
    public var indexStored = false
    /// The stored index agrees with the frames found by scanning.
    public var indexMatches = false
    /// The first problem, nil when the file is intact.
    public var problem: CaptureDamage?

    public var intact: Bool { problem == nil }

    public var summary: String {
        if let problem {
            return "\(path): DAMAGED — \(problem) (\(frames) good frames, \(records) records before it)"
        }
        return "\(path): OK — \(frames) frames, \(records) records, checksums and index verified"
    }
}

public enum CaptureVerifier {
    /// Verifies `path`. Throws only when the file cannot be opened or is not a capture at all.
    public static func verify(path: String) throws(CaptureError) -> CaptureVerification {
        let reader = try CaptureReader(path: path)
        var verification = CaptureVerification(path: path)
        var scanned: [CaptureIndex.Entry] = []
        do throws(CaptureError) {
            scanned = try reader.scanFrames()
        } catch {
            // Count what was good before the damaged frame.
            let partial = try? CaptureReader(path: path)
            var good = 0, recs = 0
            if let partial, let off = error.offset {
                var frameOffset = partial.dataStart
                while frameOffset < off, let frame = try? partial.loadFrame(at: frameOffset, knownSize: nil) {
                    switch frame {
                    case let .data(size, count, _, _): good += 1; recs += count; frameOffset += Int64(size)
                    case let .skippable(size, _): frameOffset += Int64(size)
                    case .torn: frameOffset = off
                    }
                }
            }
            verification.frames = good
            verification.records = recs
            verification.problem = CaptureDamage(kind: .corrupt, offset: error.offset ?? 0, detail: error.what)
            return verification
        }
        verification.frames = scanned.count
        verification.records = scanned.reduce(0) { $0 + $1.recordCount }
        if let damage = reader.damage {
            verification.problem = damage
            return verification
        }
        let fresh = try CaptureReader(path: path)
        let idx = try fresh.index()
        verification.indexStored = idx.storedInFile
        verification.indexMatches = idx.storedInFile && idx.entries == scanned
        if !idx.storedInFile {
            verification.problem = missingIndex(fresh)
        } else if !verification.indexMatches {
            verification.problem = indexMismatch(fresh)
        }
        return verification
    }

    /// The damage `verify` reports for a capture without a valid index at its end (`inspect` too).
    static func missingIndex(_ reader: CaptureReader) -> CaptureDamage {
        CaptureDamage(
            kind: .corrupt, offset: reader.fileSize,
            detail: "no valid seek index at the end (the writer did not close the file); all frames are intact — `k2 capture reindex` adds the index")
    }

    /// The damage `verify` reports for a stored index that does not describe the frames (`inspect` too).
    static func indexMismatch(_ reader: CaptureReader) -> CaptureDamage {
        CaptureDamage(
            kind: .corrupt, offset: reader.storedIndexOffset ?? reader.fileSize,
            detail: "the seek index does not match the frames — `k2 capture reindex` rewrites it")
    }

    /// Makes a capture whose writer was killed whole again: cuts a torn tail and appends a
    /// rebuilt seek index (replacing a stored one). Returns the bytes of torn tail cut (0 for an
    /// intact file, whose old index frame is rewritten, not cut as a tail).
    public static func reindex(path: String) throws(CaptureError) -> (cut: Int64, frames: Int) {
        let reader = try CaptureReader(path: path)
        let entries = try reader.scanFrames()
        var end = reader.dataStart
        if let last = entries.last { end = last.offset + Int64(last.compressedSize) }
        let cut = reader.damage.map { reader.fileSize - $0.offset } ?? 0
        try IndexAppender.truncateAndAppend(path: path, at: end, entries: entries)
        return (cut, entries.count)
    }
}
