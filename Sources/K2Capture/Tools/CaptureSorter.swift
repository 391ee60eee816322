import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rewrites a capture with its records in receive-time order (stable: records with equal times
/// keep their file order; connections, kinds and bytes unchanged; the header is kept as it is).
///
/// Memory is bounded by `runBytes`: records are gathered into a run until their bytes reach it,
/// each run is sorted and, when the input does not fit in one run, written to a temporary
/// capture next to the output; the runs are then merged by `MergedReader` (ties go to the
/// earlier run, so the whole sort stays stable). A capture that fits in one run is sorted in
/// memory and written straight to the output.
package enum CaptureSorter {
    /// Default bytes of records held in memory per run (record headers included): 256 MiB.
    static let defaultRunBytes = 256 << 20

    package struct Summary: Sendable {
        package var records: Int
        /// Records whose receive time is earlier than that of a record before them in the input.
        package var outOfPlace: Int
        /// Sorted runs written (1 when the input fitted in memory).
        package var runs: Int
        /// Set when the input ended in a torn tail (its complete frames were sorted).
        package var damage: CaptureDamage?
    }

    package static func sort(
        input: String, output: String, runBytes: Int = defaultRunBytes,
        options: CaptureWriter.Options = .init()
    ) throws(CaptureError) -> Summary {
        if input == output {
            throw CaptureError(
                .invalidArgument, path: output, what: "the output is also the input",
                remedy: "write the sorted capture to a new file with -o")
        }
        guard runBytes > 0 else {
            throw CaptureError(
                .invalidArgument, path: nil, what: "run size \(runBytes) must be > 0",
                remedy: "give a run size in bytes, e.g. 256MiB")
        }
        let reader = try CaptureReader(path: input)
        var run = SortRun()
        var temps: [String] = []
        defer { for temp in temps { _ = unlink(temp) } }
        var records = 0
        var outOfPlace = 0
        var runningMax = Int64.min
        do throws(CaptureError) {
            while let record = try reader.next() {
                records += 1
                if record.timestamp < runningMax { outOfPlace += 1 } else { runningMax = record.timestamp }
                run.append(record)
                if run.bytes >= runBytes {
                    let temp = output + ".sort-\(temps.count).tmp"
                    temps.append(temp)
                    try run.write(to: temp, header: reader.header, options: options)
                    run.removeAll()
                }
            }
            if temps.isEmpty {
                try run.write(to: output, header: reader.header, options: options)
            } else {
                if run.count > 0 {
                    let temp = output + ".sort-\(temps.count).tmp"
                    temps.append(temp)
                    try run.write(to: temp, header: reader.header, options: options)
                    run.removeAll()
                }
                let merged = try MergedReader(paths: temps)
                let writer = try CaptureWriter(path: output, header: reader.header, options: options)
                while let record = try merged.next() {
                    try writer.append(
                        kind: record.kind, timestamp: record.timestamp, connection: record.connection,
                        isBinary: record.isBinary, aux: record.aux, payload: record.payload)
                }
                try writer.close()
            }
        } catch {
            _ = unlink(output)
            throw error
        }
        return Summary(records: records, outOfPlace: outOfPlace, runs: max(1, temps.count), damage: reader.damage)
    }
}

/// Records gathered for one sorted run: their bytes back to back in one buffer (the block's
/// record layout: header, aux, payload) and each one's (receive time, offset).
private struct SortRun {
    private var storage: [UInt8] = []
    private var keys: [(timestamp: Int64, offset: Int)] = []

    var count: Int { keys.count }
    /// Bytes held, keys included.
    var bytes: Int { storage.count + keys.count * 16 }

    mutating func append(_ record: CaptureRecord) {
        keys.append((record.timestamp, storage.count))
        storage.appendLE(UInt32(record.payload.count))
        storage.appendLE(UInt16(record.aux.count))
        storage.append(record.kind.rawValue)
        storage.append(record.isBinary ? 1 : 0)
        storage.appendLE(record.timestamp)
        storage.appendLE(record.connection)
        storage.append(contentsOf: record.aux)
        storage.append(contentsOf: record.payload)
    }

    mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
    }

    /// Sorts by (receive time, position) — stable — and writes the run as a capture.
    mutating func write(to path: String, header: CaptureHeader, options: CaptureWriter.Options) throws(CaptureError) {
        keys.sort { $0.timestamp < $1.timestamp || ($0.timestamp == $1.timestamp && $0.offset < $1.offset) }
        let writer = try CaptureWriter(path: path, header: header, options: options)
        let keys = self.keys
        try withBytes(storage) { (bytes) throws(CaptureError) in
            for key in keys {
                let start = key.offset
                let payloadLength = Int(bytes.le(UInt32.self, start))
                let auxLength = Int(bytes.le(UInt16.self, start + 4))
                let auxStart = start + Layout.recordHeaderSize
                try writer.append(
                    kind: RecordKind(rawValue: bytes[start + 6]), timestamp: key.timestamp,
                    connection: bytes.le(UInt32.self, start + 16), isBinary: bytes[start + 7] & 1 != 0,
                    aux: UnsafeRawBufferPointer(rebasing: bytes[auxStart..<(auxStart + auxLength)]),
                    payload: UnsafeRawBufferPointer(rebasing: bytes[(auxStart + auxLength)..<(auxStart + auxLength + payloadLength)]))
            }
        }
        try writer.close()
    }
}
