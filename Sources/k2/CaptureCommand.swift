import ArgumentParser
import K2Capture
import K2Core

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Inspect, print, cut, merge, convert and check .k2cap captures.",
        subcommands: [Cat.self, Verify.self, Reindex.self]
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
}

extension CaptureCommand {
    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(
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
                while let r = try reader.next() {
                    guard filter.matches(r) else { continue }
                    out.append { NDJSONRecord.append(r, to: &$0) }
                    if out.failed { break }
                }
                out.flush()
                if let d = reader.damage { StdErr.print("k2: warning: \(file): \(d)") }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every frame's checksum and the seek index.",
            discussion: "Exit 0 when intact; 1 with the first bad byte offset when not; 2 when the file is not a capture."
        )
        @Argument(help: "The capture file.") var file: String

        func run() throws {
            let v = try reportingErrors { try CaptureVerifier.verify(path: file) }
            print(v.summary)
            if !v.intact { throw ExitCode(1) }
        }
    }

    struct Reindex: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Repair a capture whose writer was killed: cut the torn tail and append the seek index."
        )
        @Argument(help: "The capture file (changed in place).") var file: String

        func run() throws {
            let (cut, frames) = try reportingErrors { try CaptureVerifier.reindex(path: file) }
            print("\(file): index of \(frames) frames written" + (cut > 0 ? ", \(cut) bytes of torn tail cut" : ""))
        }
    }
}
