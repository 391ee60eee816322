import ArgumentParser
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
    /// The process's allocator settings first (`MallocSettings`), then ArgumentParser's `main`.
    static func main() async {
        MallocSettings.apply()
        await runCommandLine(K2.self)
    }
}

/// ArgumentParser's own `main` (a protocol-extension method: reached through the generic, not
/// `K2.main`, which shadows it).
private func runCommandLine<C: AsyncParsableCommand>(_: C.Type) async {
    await C.main()
}
