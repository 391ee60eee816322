import K2Core

/// Runs shell commands from tests (independent clients: zstd, kcat, clickhouse-client, curl).
package enum Shell {
    struct Failure: Error, CustomStringConvertible {
        package let command: String
        package let status: Int32
        package let output: String
        package var description: String { "`\(command)` exited \(status): \(output)" }
    }

    /// Runs `command` with bash and returns stdout; throws on a non-zero exit.
    @discardableResult
    package static func run(_ command: String) throws -> String {
        let (status, out, err) = try execute(command)
        guard status == 0 else { throw Failure(command: command, status: status, output: out + err) }
        return out
    }

    package static func status(_ command: String) throws -> Int32 {
        try execute(command).0
    }

    package static func execute(_ command: String) throws -> (Int32, String, String) {
        let finished = try ChildProcess.run(["/bin/bash", "-c", command])
        return (finished.status, finished.stdout, finished.stderr)
    }
}
