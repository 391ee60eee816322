import K2Core

/// Writes a capture's records in a foreign text format.
public enum CaptureExporter {
    public enum Format: String, CaseIterable, Sendable {
        /// Exactly what `k2 capture cat` prints (and `capture import --format ndjson` reads).
        case ndjson
        /// Tardis.dev raw lines: `<ISO-8601 time, 100 ns> <message>` for received messages, an
        /// empty line for a disconnect. Other kinds, binary payloads and payloads holding a
        /// newline cannot be written and are counted in `skipped`.
        case tardis
    }

    public struct Summary: Sendable {
        public var written = 0
        public var skipped = 0
        public var damage: CaptureDamage?
    }

    /// Streams the records of `input` that pass `filter` to `out`. A time window is served
    /// from the seek index, as `slice` does.
    public static func export(input: String, format: Format, filter: RecordFilter, to out: FDOutput) throws(CaptureError) -> Summary {
        let reader = try CaptureReader(path: input)
        if filter.from != nil || filter.to != nil {
            reader.restrict(to: CaptureSlicer.frames(of: try reader.index(), for: filter))
        }
        var summary = Summary()
        while let record = try reader.next() {
            guard filter.matches(record) else { continue }
            switch format {
            case .ndjson:
                out.append { NDJSONRecord.append(record, to: &$0) }
                summary.written += 1
            case .tardis:
                if record.kind == .disconnect {
                    out.append { $0.append(10) }
                    summary.written += 1
                    continue
                }
                guard record.kind == .recv, !record.isBinary, !record.payload.contains(10) else { summary.skipped += 1; continue }
                let time = TimeText.iso8601(nanos: record.timestamp, fractionDigits: 7)
                out.append {
                    $0.append(contentsOf: time.utf8)
                    $0.append(32)
                    $0.append(contentsOf: record.payload)
                    $0.append(10)
                }
                summary.written += 1
            }
            if out.failed { break }
        }
        out.flush()
        summary.damage = reader.damage
        return summary
    }
}
