import ArgumentParser
import Foundation
import K2Core
import Logging

@main
struct K2: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "k2",
        abstract: "Record, replay, simulate and benchmark K2 market-data traffic.",
        discussion: """
            Captures are .k2cap files (zstd frames; see docs/capture-format.md).
            Start with `k2 capture inspect captures/binance-sample.k2cap`.
            """,
        version: "\(K2Version.number) (allocator: \(Allocator.description))",
        subcommands: [CaptureCommand.self, RecordCommand.self, SimCommand.self, BrokerCommand.self, ReplayCommand.self, BenchCommand.self]
    )
}

extension K2 {
    /// The log handler, then ArgumentParser's own `main` (parse, run), except that a malformed
    /// command line is one line on stderr and exit 2 — the tool's convention for bad input
    /// everywhere — instead of ArgumentParser's message with the usage and 64, and that a library
    /// error (`K2Error`) is its one line and exit code as in `reportingErrors`.
    static func main() async {
        // The libraries' diagnostics: one line each on stderr, in k2's style (K2LogHandler).
        LoggingSystem.bootstrap { label in K2LogHandler(label: label) }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as any K2Error {
            // Thrown outside `reportingErrors`: the same line and exit code.
            Foundation.exit(reportedExitCode(error))
        } catch {
            if exitCode(for: error) == .validationFailure {
                StdErr.print("k2: " + commandLineMistake(error))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }

    /// One line for a command line argument-parser refused: why a value was refused (the
    /// argument types' own words, `ArgumentRefusal`); a `validate()` message that says what to
    /// write (e.g.) as it is; else argument-parser's message and where the help is.
    static func commandLineMistake(_ error: any Error) -> String {
        let message = message(for: error)
        if let line = ArgumentRefusal.line(for: message) { return line }
        if message.contains("e.g.") { return message }
        let help = fullMessage(for: error).split(separator: "\n").last { $0.contains("--help' for more information") }
        guard let command = help?.split(separator: "'").dropFirst().first else { return message }
        return message + " (see '\(command)')"
    }
}
