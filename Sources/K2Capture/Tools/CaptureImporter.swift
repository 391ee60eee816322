import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Converts foreign recordings (cryptofeed's two raw formats, Tardis.dev raw files, k2's own
/// NDJSON) into a capture, keeping the original receive times and payload bytes. Inputs may be
/// plain, gzip or zstd. Several inputs are merged by receive time (connection ids are kept
/// unique as `capture merge` does). The output is in receive-time order: an input whose records
/// are not (a recorder that writes one block per connection) is sorted, stably, by
/// `CaptureSorter` (connections and bytes kept).
package enum CaptureImporter {
    /// The longest input line read by default: 16 MiB, far above any market-data message or
    /// REST snapshot. A longer line stops the import (one line naming it) instead of being
    /// buffered and parsed whole — a 100 MB line of JSON took 1.7 GB to reject before.
    static let defaultMaxLineBytes = 16 << 20

    package struct Input: Sendable {
        package var path: String
        package var compression: String
        package var records: Int
        package var lines: Int
        /// Connection names of the source (cryptofeed `conn`) and the ids they got in this input.
        package var connections: [(name: String, id: UInt32)]
    }

    package struct Summary: Sendable {
        package var records: Int
        package var inputs: [Input]
        /// (input, id in the input, id in the output) for connections renumbered by the merge.
        package var renumbered: [(input: Int, from: UInt32, to: UInt32)]
        /// Records that came earlier in receive time than a record before them in their input
        /// and were moved into place by the sort (0 when every input was in order).
        package var reordered: Int = 0
    }

    @discardableResult
    package static func run(
        format: ImportFormat, inputs: [String], output: String, exchange: String? = nil,
        options: CaptureWriter.Options = .init(), clock: any NanoClock = SystemClock(),
        commandLine: String? = nil, maxLineBytes: Int = defaultMaxLineBytes
    ) throws(CaptureError) -> Summary {
        guard !inputs.isEmpty else {
            throw CaptureError(.invalidArgument, path: nil, what: "no input files", remedy: "give the files to import")
        }
        if inputs.contains(output) {
            throw CaptureError(.invalidArgument, path: output, what: "the output is also an input", remedy: "write the capture to a new file with -o")
        }
        func header(_ extra: [(String, JSONValue)]) -> CaptureHeader {
            var meta: [(String, JSONValue)] = []
            if let exchange { meta.append(("exchange", .string(exchange))) }
            for (key, value) in extra where !(key == "exchange" && exchange != nil) { meta.append((key, value)) }
            meta.append(
                (
                    "source",
                    .object([
                        ("format", .string(format.rawValue)),
                        ("files", .array(inputs.map { .string($0) })),
                    ])
                ))
            if let commandLine { meta.append(("command_line", .string(commandLine))) }
            return .now(metadata: meta, clock: clock)
        }

        if inputs.count == 1 {
            let sink = ImportSink(path: output, options: options)
            do throws(CaptureError) {
                let info = try importOne(format: format, path: inputs[0], sink: sink, header: header, maxLineBytes: maxLineBytes)
                try sink.close(header: header(info.metadata))
                let reordered = try sink.sortIfNeeded()
                return Summary(records: sink.records, inputs: [info.input], renumbered: [], reordered: reordered)
            } catch {
                sink.abandon()
                throw error
            }
        }

        // Several inputs: each into a temporary capture, then a merge by time.
        var temps: [String] = []
        defer { for temp in temps { _ = unlink(temp) } }
        var infos: [Input] = []
        var metadata: [(String, JSONValue)] = []
        var reordered = 0
        for (k, path) in inputs.enumerated() {
            let temp = output + ".import-\(k).tmp"
            temps.append(temp)
            let sink = ImportSink(path: temp, options: options)
            do throws(CaptureError) {
                let info = try importOne(format: format, path: path, sink: sink, header: header, maxLineBytes: maxLineBytes)
                // A temporary capture: its header is not kept (the merge writes the final one).
                try sink.close(header: header([]), replacingLateMetadata: false)
                reordered += try sink.sortIfNeeded()
                infos.append(info.input)
                for (key, v) in info.metadata where !metadata.contains(where: { $0.0 == key }) { metadata.append((key, v)) }
            } catch {
                sink.abandon()
                throw error
            }
        }
        let merged = try MergedReader(paths: temps)
        var ids = try ConnectionRenumbering(paths: temps)
        var count = 0
        try CaptureOutput.write(to: output, header: header(metadata), options: options) { writer throws(CaptureError) in
            count = try CaptureOutput.copy(merged, renumbering: &ids, to: writer)
        }
        return Summary(records: count, inputs: infos, renumbered: ids.renumbered, reordered: reordered)
    }

    static func importOne(
        format: ImportFormat, path: String, sink: ImportSink,
        header: @escaping ([(String, JSONValue)]) -> CaptureHeader,
        maxLineBytes: Int
    ) throws(CaptureError) -> (input: Input, metadata: [(String, JSONValue)]) {
        let lines = try LineReader(path: path, maxLineBytes: maxLineBytes)
        var parser = ImportParser(format: format, path: path)
        sink.makeHeader = header
        var sawAny = false
        while let line = try lines.next() {
            sawAny = true
            try parser.consume(line, number: lines.lineNumber, sink: sink)
        }
        if !sawAny {
            throw CaptureError(.importFormat, path: path, what: "the file is empty", remedy: "give a file with \(format.expectation)")
        }
        sink.makeHeader = nil
        let input = Input(
            path: path, compression: lines.compression.rawValue, records: sink.records,
            lines: lines.lineNumber, connections: parser.connectionNames)
        return (input, sink.metadata)
    }
}
