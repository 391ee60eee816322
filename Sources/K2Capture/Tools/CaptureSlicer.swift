import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Copies the records of a capture that pass a filter into a new capture. A time window is
/// served from the seek index: only the frames whose time range overlaps `[from, to)` are
/// read and decompressed, so a 10-minute slice of a day-long capture costs 10 minutes of data.
package enum CaptureSlicer {
    package struct Summary: Sendable {
        package var records: Int
        /// Frames in the input, and how many of them were decompressed for the slice.
        package var framesTotal: Int
        package var framesDecoded: Int
        package var indexStored: Bool
        package var damage: CaptureDamage?
    }

    /// The frames that may hold records of `filter`'s time window (all of them without one).
    package static func frames(of index: CaptureIndex, for filter: RecordFilter) -> [CaptureIndex.Entry] {
        guard filter.from != nil || filter.to != nil else { return index.entries }
        let from = filter.from ?? .min
        let to = filter.to.map { $0 == .min ? $0 : $0 - 1 } ?? .max  // [from, to) → inclusive end
        return index.frames(overlapping: from, to).map { index.entries[$0] }
    }

    package static func slice(
        input: String, output: String, filter: RecordFilter, filterText: String = "",
        options: CaptureWriter.Options = .init(), clock: any NanoClock = SystemClock(),
        commandLine: String? = nil
    ) throws(CaptureError) -> Summary {
        if input == output {
            throw CaptureError(
                .invalidArgument, path: output, what: "the output is the input",
                remedy: "write the slice to a new file with -o")
        }
        let reader = try CaptureReader(path: input)
        let index = try reader.index()
        let plan = frames(of: index, for: filter)
        reader.restrict(to: plan)
        var meta = reader.header.metadata.filter { $0.0 != "sliced_from" && $0.0 != "command_line" }
        var from: [(String, JSONValue)] = [("path", .string(input)), ("created_ns", .number(String(reader.header.createdNanos)))]
        if !filterText.isEmpty { from.append(("filter", .string(filterText))) }
        meta.append(("sliced_from", .object(from)))
        if let commandLine { meta.append(("command_line", .string(commandLine))) }
        var count = 0
        try CaptureOutput.write(to: output, header: .now(metadata: meta, clock: clock), options: options) { writer throws(CaptureError) in
            while let record = try reader.next() {
                guard filter.matches(record) else { continue }
                try writer.append(record)
                count += 1
            }
        }
        return Summary(
            records: count, framesTotal: index.entries.count, framesDecoded: reader.framesDecoded,
            indexStored: index.storedInFile, damage: reader.damage)
    }
}
