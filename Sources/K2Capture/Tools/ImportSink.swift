import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an importer's records go: a capture writer created on the first record (so that the
/// header can carry what the input's first line said).
final class ImportSink {
    let path: String
    let options: CaptureWriter.Options
    var makeHeader: (([(String, JSONValue)]) -> CaptureHeader)?
    /// What the input's first lines said (exchange, configuration), for the header.
    var metadata: [(String, JSONValue)] = []
    private var writer: CaptureWriter?
    /// The metadata the header was written with (at the first record).
    private var writtenMetadata: [(String, JSONValue)] = []
    private(set) var records = 0
    /// Records earlier than the latest receive time before them (what a sort must move).
    private(set) var outOfPlace = 0
    private var latest = Int64.min

    init(path: String, options: CaptureWriter.Options) {
        self.path = path
        self.options = options
    }

    @inline(__always)
    func append(
        kind: RecordKind, timestamp: Int64, connection: UInt32, isBinary: Bool,
        aux: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer
    ) throws(CaptureError) {
        if writer == nil {
            writer = try CaptureWriter(path: path, header: makeHeader?(metadata) ?? .now(), options: options)
            writtenMetadata = metadata
        }
        try writer!.append(kind: kind, timestamp: timestamp, connection: connection, isBinary: isBinary, aux: aux, payload: payload)
        records += 1
        if timestamp < latest { outOfPlace += 1 } else { latest = timestamp }
    }

    func append(_ r: OwnedRecord) throws(CaptureError) {
        try withBytes(r.url) { (u) throws(CaptureError) in
            try withBytes(r.payload) { (p) throws(CaptureError) in
                try append(kind: r.kind, timestamp: r.timestamp, connection: r.connection, isBinary: r.isBinary, aux: u, payload: p)
            }
        }
    }

    /// Closes the capture; when the input named more after its first record (cryptofeed-v3
    /// send addresses), the header is replaced with `header` (frames copied, not recompressed).
    func close(header: CaptureHeader, replacingLateMetadata: Bool = true) throws(CaptureError) {
        if writer == nil {
            writer = try CaptureWriter(path: path, header: header, options: options)
            writtenMetadata = metadata
        }
        try writer!.close()
        if replacingLateMetadata, JSONValue.object(writtenMetadata) != JSONValue.object(metadata) {
            try HeaderReplacer.replace(path: path, header: header)
        }
    }

    /// After `close`: when records came out of receive-time order, sorts the written capture
    /// (stable, bounded memory) and puts the sorted file in its place. Returns the records moved.
    func sortIfNeeded() throws(CaptureError) -> Int {
        guard outOfPlace > 0 else { return 0 }
        let sorted = path + ".sort.tmp"
        do throws(CaptureError) {
            _ = try CaptureSorter.sort(input: path, output: sorted, options: options)
        } catch {
            _ = unlink(path)
            throw error
        }
        if rename(sorted, path) != 0 {
            let code = errno
            _ = unlink(sorted)
            _ = unlink(path)
            throw CaptureError.io(path, "replace the capture with its sorted copy", errno: code)
        }
        return outOfPlace
    }

    func abandon() {
        try? writer?.close()
        writer = nil
        _ = unlink(path)
    }
}
