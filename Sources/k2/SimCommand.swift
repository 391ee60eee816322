import ArgumentParser

struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Simulate markets and exchanges.",
        subcommands: [SimExchangeCommand.self]
    )
}
