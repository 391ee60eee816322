import ArgumentParser
import Foundation
import K2Core

@main
struct K2: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "k2",
        abstract: "Record, replay, simulate and benchmark K2 market-data traffic.",
        discussion: """
            Captures are .k2cap files (zstd frames; see docs/capture-format.md).
            Start with `k2 capture inspect captures/binance-sample.k2cap`.
            """,
        version: K2Version.number,
        subcommands: [CaptureCommand.self, RecordCommand.self, SimCommand.self, BrokerCommand.self, ReplayCommand.self, BenchCommand.self]
    )
}

extension K2 {
    /// The process's allocator settings first (`MallocSettings`), then ArgumentParser's own
    /// `main` (parse, run), except that a malformed command line exits 2 — the tool's exit code
    /// for bad input everywhere — instead of ArgumentParser's 64, with the same message.
    static func main() async {
        MallocSettings.apply()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((Secrets.mask(fullMessage(for: error)) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
