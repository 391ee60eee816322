import ArgumentParser
import K2Capture
import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Inspect, print, cut, merge, convert and check .k2cap captures.",
        subcommands: [Inspect.self, Cat.self, Slice.self, Merge.self, Sort.self, Import.self, Export.self, Bench.self, Verify.self, Reindex.self]
    )
}

/// The record filters shared by `cat`, `slice`, `export` and `replay`.
struct FilterOptions: ParsableArguments {
    @Option(help: "Keep records received at or after this time: ISO-8601 (2024-03-01T12:00:00Z) or an offset from the first record (+30s).")
    var from: String?
    @Option(help: "Keep records received before this time (same forms as --from).")
    var to: String?
    @Option(help: "Keep these record kinds (connect, send, recv, disconnect, http, marker); repeat or comma-separate.")
    var kind: [String] = []
    @Option(help: "Keep these connection ids; repeat or comma-separate.")
    var conn: [String] = []
    @Option(help: "Keep messages of these streams (btcusdt@trade, market_trades, trade); repeat or comma-separate.")
    var stream: [String] = []
    @Option(help: "Keep messages of these symbols, any case (BTCUSDT, XBT/USD, BTC-USD); repeat or comma-separate.")
    var symbol: [String] = []

    func filter(start: Int64?) throws -> RecordFilter {
        try RecordFilter.parse(from: from, to: to, kinds: kind, connections: conn, streams: stream, symbols: symbol, start: start)
    }

    var usesTime: Bool { from != nil || to != nil }

    /// The filter as typed, for a capture's metadata.
    var text: String {
        var parts: [String] = []
        if let from { parts.append("--from \(from)") }
        if let to { parts.append("--to \(to)") }
        for (flag, values) in [("--kind", kind), ("--conn", conn), ("--stream", stream), ("--symbol", symbol)] where !values.isEmpty {
            parts.append("\(flag) \(values.joined(separator: ","))")
        }
        return parts.joined(separator: " ")
    }
}

extension CaptureCommand {
    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cat",
            abstract: "Print records as NDJSON, one object per line.",
            discussion: """
                {"kind":"recv","ts_ns":1700000000123456789,"conn":0,"data":"<payload>"}; binary payloads \
                are base64 with "encoding":"base64"; connect and http records add "url". \
                `k2 capture import --format ndjson` reads this back.
                """
        )
        @Argument(help: "The capture file.") var file: String
        @OptionGroup var filters: FilterOptions

        func run() throws {
            try reportingErrors {
                let reader = try CaptureReader(path: file)
                let start = filters.usesTime ? try reader.index().firstTimestamp : nil
                let filter = try filters.filter(start: start)
                let out = FDOutput()
                while let record = try reader.next() {
                    guard filter.matches(record) else { continue }
                    out.append { NDJSONRecord.append(record, to: &$0) }
                    if out.failed { break }
                }
                out.flush()
                if let damage = reader.damage { StdErr.print("k2: warning: \(file): \(damage)") }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check every frame's checksum and the seek index.",
            discussion: "Exit 0 when intact; 1 with the first bad byte offset when not; 2 when the file is not a capture."
        )
        @Argument(help: "The capture file.") var file: String

        func run() throws {
            let verification = try reportingErrors { try CaptureVerifier.verify(path: file) }
            print(verification.summary)
            if !verification.intact { throw ExitCode(1) }
        }
    }

    struct Reindex: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reindex",
            abstract: "Repair a capture whose writer was killed: cut the torn tail and append the seek index."
        )
        @Argument(help: "The capture file (changed in place).") var file: String

        func run() throws {
            let (cut, frames) = try reportingErrors { try CaptureVerifier.reindex(path: file) }
            print("\(file): index of \(frames) frames written" + (cut > 0 ? ", \(cut) bytes of torn tail cut" : ""))
        }
    }
}

extension CaptureCommand {
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge",
            abstract: "Merge captures into one by receive time (stable: equal times keep input order).",
            discussion: """
                Connection ids stay unique: a connection keeps its id unless an earlier input \
                has it, then it gets the lowest id no input uses. The output header lists the sources \
                under "merged_from".
                """
        )
        @Argument(help: "The captures to merge; for equal receive times the earlier one comes first.") var inputs: [String]
        @Option(name: .shortAndLong, help: "The merged capture to write.") var output: String
        @Option(help: "zstd level of the output (1-19).") var level: Int32 = 3

        func validate() throws {
            if inputs.isEmpty { throw ValidationError("give at least one capture to merge") }
            if !(1...19).contains(level) { throw ValidationError("--level must be between 1 and 19") }
        }

        func run() throws {
            let summary = try reportingErrors {
                try CaptureMerger.merge(
                    inputs: inputs, output: output, options: .init(level: level),
                    commandLine: CommandLine.arguments.joined(separator: " "))
            }
            for (path, d) in summary.damage { StdErr.print("k2: warning: \(path): \(d)") }
            let per = zip(inputs, summary.recordsPerInput).map { "\($0): \($1)" }.joined(separator: ", ")
            print("\(output): \(summary.records) records merged from \(inputs.count) captures (\(per))")
            for renumbering in summary.renumbered {
                print("  connection \(renumbering.from) of \(inputs[renumbering.input]) is connection \(renumbering.to) in the merge")
            }
        }
    }
}

extension CaptureCommand {
    struct Sort: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sort",
            abstract: "Rewrite a capture in receive-time order (stable; connections and bytes kept).",
            discussion: """
                For captures whose records are grouped by connection or otherwise out of order. \
                Memory stays within --run-size: larger files are sorted in runs written next to \
                the output and merged.
                """
        )
        @Argument(help: "The capture file.") var file: String
        @Option(name: .shortAndLong, help: "The sorted capture to write.") var output: String
        @Option(help: "Record bytes held in memory per sorted run (e.g. 256MiB, 64MB).") var runSize = "256MiB"
        @Option(help: "zstd level of the output (1-19).") var level: Int32 = 3

        func validate() throws {
            if !(1...19).contains(level) { throw ValidationError("--level must be between 1 and 19") }
            guard let bytes = SizeText.parse(runSize), bytes >= 1, bytes <= 1 << 40 else {
                throw ValidationError("--run-size '\(runSize)' is not a size from 1 byte to 1 TiB (write e.g. 256MiB)")
            }
        }

        func run() throws {
            let summary = try reportingErrors {
                try CaptureSorter.sort(
                    input: file, output: output, runBytes: Int(SizeText.parse(runSize) ?? 1),
                    options: .init(level: level))
            }
            if let damage = summary.damage { StdErr.print("k2: warning: \(file): \(damage)") }
            print(
                "\(output): \(summary.records) records, \(summary.outOfPlace) moved into receive-time order"
                    + (summary.runs > 1 ? " (\(summary.runs) runs merged)" : ""))
        }
    }
}

extension CaptureCommand {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Summarise a capture: time span, counts by kind, connection, stream and symbol, rates, compression, sequence gaps.",
            discussion: """
                --json prints one JSON object; the keys records, by_kind, first_ts_ns, last_ts_ns, \
                connections and gaps are stable (see docs/capture-tools.md). Exit 1 when a frame is \
                damaged (the report then covers the records before it), as `verify`.
                """
        )
        @Argument(help: "The capture file.") var file: String
        @Flag(help: "Print JSON instead of the text report.") var json = false
        @Option(help: "How many streams and symbols the text report lists.") var top = 10
        @Option(help: "How many gaps of each sequence check to list.") var gaps = 5

        func validate() throws {
            try check(top, in: 0...Int.max, "--top", example: 10)
            try check(gaps, in: 0...Int.max, "--gaps", example: 5)
        }

        func run() throws {
            let ins = try reportingErrors { try CaptureInspector.inspect(path: file, options: .init(gapsListed: gaps)) }
            let out = FDOutput()
            if json {
                out.append {
                    ins.json.write(to: &$0); $0.append(10)
                }
            } else {
                out.write(ins.textReport(top: top))
            }
            out.flush()
            guard let damage = ins.damage else { return }
            // A damaged frame stops the count: the report covers the records before it.
            guard damage.kind == .corrupt else { StdErr.print("k2: warning: \(file): \(damage)"); return }
            StdErr.print(
                "k2: \(file): \(damage) — the report covers the records before it; recover the file from its source (`k2 capture verify` checks every frame)"
            )
            throw ExitCode(1)
        }
    }
}

extension CaptureCommand {
    struct Slice: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "slice",
            abstract: "Copy the records that pass the filters into a new capture.",
            discussion: """
                A time window (--from/--to) is served from the seek index: only the frames that \
                overlap it are read and decompressed.
                """
        )
        @Argument(help: "The capture file.") var file: String
        @Option(name: .shortAndLong, help: "The capture to write.") var output: String
        @OptionGroup var filters: FilterOptions
        @Option(help: "zstd level of the output (1-19).") var level: Int32 = 3

        func validate() throws {
            if !(1...19).contains(level) { throw ValidationError("--level must be between 1 and 19") }
        }

        func run() throws {
            let summary = try reportingErrors {
                let start = filters.usesTime ? try CaptureReader(path: file).index().firstTimestamp : nil
                let filter = try filters.filter(start: start)
                return try CaptureSlicer.slice(
                    input: file, output: output, filter: filter, filterText: filters.text,
                    options: .init(level: level),
                    commandLine: CommandLine.arguments.joined(separator: " "))
            }
            if let damage = summary.damage { StdErr.print("k2: warning: \(file): \(damage)") }
            print("\(output): \(summary.records) records; \(summary.framesDecoded) of \(summary.framesTotal) frames read")
        }
    }
}

extension ImportFormat: ExpressibleByArgument {}
extension CaptureExporter.Format: ExpressibleByArgument {}

extension CaptureCommand {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Convert cryptofeed, Tardis.dev or NDJSON recordings into a capture.",
            discussion: """
                Inputs may be plain, gzip or zstd (detected from their first bytes). Receive times \
                and payload bytes are kept exactly; the output is in receive-time order (an input \
                grouped by connection is sorted, stably); several inputs are merged by receive time. \
                Formats: cryptofeed (AsyncFileCallback text), cryptofeed-v3 (JSON lines with a \
                {"t":"header","format":2} first line), tardis (`<ISO time> <message>` lines), \
                ndjson (what `k2 capture cat` prints).
                """
        )
        @Option(help: "The input format: \(ImportFormat.allCases.map(\.rawValue).joined(separator: ", ")).") var format: ImportFormat
        @Argument(help: "The files to import.") var inputs: [String]
        @Option(name: .shortAndLong, help: "The capture to write.") var output: String
        @Option(help: "The exchange to note in the header (binance, kraken, coinbase).") var exchange: String?
        @Option(help: "zstd level of the output (1-19).") var level: Int32 = 3
        @Option(help: "Longest input line accepted (e.g. 16MiB, 64MB); a longer line stops the import.") var maxLine = "16MiB"

        func validate() throws {
            if inputs.isEmpty { throw ValidationError("give at least one file to import") }
            if !(1...19).contains(level) { throw ValidationError("--level must be between 1 and 19") }
            guard let bytes = SizeText.parse(maxLine), bytes >= 1, bytes <= 1 << 30 else {
                throw ValidationError("--max-line '\(maxLine)' is not a size from 1 byte to 1 GiB (write e.g. 64MiB)")
            }
        }

        func run() throws {
            let summary = try reportingErrors {
                try CaptureImporter.run(
                    format: format, inputs: inputs, output: output, exchange: exchange,
                    options: .init(level: level), commandLine: CommandLine.arguments.joined(separator: " "),
                    maxLineBytes: Int(SizeText.parse(maxLine) ?? 1))
            }
            print(
                "\(output): \(summary.records) records imported from \(summary.inputs.count) file\(summary.inputs.count == 1 ? "" : "s")"
                    + (summary.reordered > 0 ? " (\(summary.reordered) out of receive-time order, sorted)" : ""))
            for (k, input) in summary.inputs.enumerated() {
                print("  \(input.path) (\(input.compression)): \(input.lines) lines, \(input.records) records")
                for connection in input.connections {
                    let out = summary.renumbered.first { $0.input == k && $0.from == connection.id }?.to ?? connection.id
                    print("    connection \(out) = \(connection.name)")
                }
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a capture's records as NDJSON or Tardis.dev lines.",
            discussion: """
                ndjson is exactly `capture cat`. tardis writes received text messages as \
                `<ISO-8601 time with 100 ns> <message>` and disconnects as empty lines; other \
                records are skipped and counted on stderr.
                """
        )
        @Argument(help: "The capture file.") var file: String
        @Option(help: "ndjson or tardis.") var format: CaptureExporter.Format = .ndjson
        @Option(name: .shortAndLong, help: "Write here instead of standard output.") var output: String?
        @OptionGroup var filters: FilterOptions

        func run() throws {
            let summary = try reportingErrors {
                let start = filters.usesTime ? try CaptureReader(path: file).index().firstTimestamp : nil
                let filter = try filters.filter(start: start)
                var fd: Int32 = 1
                if let output {
                    fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                    if fd < 0 {
                        throw CaptureError(
                            .io, path: output, what: "cannot create the output: \(String(cString: strerror(errno)))",
                            remedy: "check the path and its permissions")
                    }
                }
                defer { if fd != 1 { close(fd) } }
                let out = FDOutput(fd: fd)
                return try CaptureExporter.export(input: file, format: format, filter: filter, to: out)
            }
            if let damage = summary.damage { StdErr.print("k2: warning: \(file): \(damage)") }
            if summary.skipped > 0 {
                StdErr.print("k2: \(summary.skipped) records have no \(format.rawValue) form and were skipped (\(summary.written) written)")
            }
        }
    }
}

extension CaptureCommand {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Benchmark writing and reading captures next to zstd on the same data.",
            discussion: """
                Writes --records Binance-like trade messages (~160 B) at zstd level 3, reads them \
                back, times `zstd -d` and `zstdcat | wc -l` on the same file, and measures the peak \
                RSS of a read and of a 10-second slice in child processes. Rates are per CPU second \
                (wall-clock rates in brackets). Build with `swift build -c release` first; \
                scripts/bench-capture.sh does both.
                """
        )
        @Option(help: "How many messages to write.") var records = 1_000_000
        @Option(help: "Where to put the temporary capture.") var dir = "/tmp"
        @Option(help: "zstd level for writing.") var level: Int32 = 3
        @Flag(help: "Keep the capture afterwards.") var keep = false
        @Option(help: .hidden) var childRead: String?
        @Option(parsing: .upToNextOption, help: .hidden) var childSlice: [String] = []

        func validate() throws {
            try check(records, in: 1...1_000_000_000, "--records", example: 1_000_000)
            if !(1...19).contains(level) { throw ValidationError("--level must be between 1 and 19") }
        }

        func run() throws {
            if let childRead {
                let (_, sum) = try reportingErrors { try CaptureBench.read(path: childRead) }
                StdErr.print("records_sum=\(sum) vmhwm_kib=\(CaptureBench.peakRSSKiB() ?? -1)")
                return
            }
            if childSlice.count == 2 {
                try reportingErrors {
                    let first = try CaptureReader(path: childSlice[0]).index().firstTimestamp ?? 0
                    _ = try CaptureSlicer.slice(
                        input: childSlice[0], output: childSlice[1],
                        filter: RecordFilter(from: first + 10_000_000_000, to: first + 20_000_000_000))
                }
                StdErr.print("vmhwm_kib=\(CaptureBench.peakRSSKiB() ?? -1)")
                return
            }
            let me = Self.executablePath()
            let report = try reportingErrors {
                try CaptureBench.runAll(
                    records: records, dir: dir, level: level,
                    readCommand: [me, "capture", "bench", "--child-read"],
                    sliceCommand: [me, "capture", "bench", "--child-slice"], keep: keep)
            }
            print(CaptureBench.text(report), terminator: "")
        }

        static func executablePath() -> String {
            var buf = [CChar](repeating: 0, count: 4096)
            let length = readlink("/proc/self/exe", &buf, buf.count - 1)
            guard length > 0 else { return CommandLine.arguments[0] }
            return String(decoding: buf[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
