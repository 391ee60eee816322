import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the capture tools (import, merge, slice) write their output: all or nothing.
enum CaptureOutput {
    /// Creates the capture at `path`, lets `records` append to it and closes it. On any error
    /// the writer is closed, the half-written file removed and the error rethrown: a tool that
    /// fails leaves no output behind.
    static func write(
        to path: String, header: CaptureHeader, options: CaptureWriter.Options,
        _ records: (CaptureWriter) throws(CaptureError) -> Void
    ) throws(CaptureError) {
        let writer = try CaptureWriter(path: path, header: header, options: options)
        do throws(CaptureError) {
            try records(writer)
            try writer.close()
        } catch {
            try? writer.close()
            _ = unlink(path)
            throw error
        }
    }

    /// Appends every record of `merged` to `writer` in time order, with connection ids made
    /// unique by `ids`; returns how many.
    static func copy(_ merged: MergedReader, renumbering ids: inout ConnectionRenumbering, to writer: CaptureWriter) throws(CaptureError)
        -> Int
    {
        var count = 0
        while let record = try merged.next() {
            let connection = ids.map(input: merged.currentSource, connection: record.connection)
            try writer.append(
                kind: record.kind, timestamp: record.timestamp, connection: connection, isBinary: record.isBinary, aux: record.aux,
                payload: record.payload)
            count += 1
        }
        return count
    }
}
