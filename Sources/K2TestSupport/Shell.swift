import K2Core

/// Runs shell commands from tests (independent clients: zstd, kcat, clickhouse-client, curl).
public enum Shell {
    public struct Failure: Error, CustomStringConvertible {
        public let command: String
        public let status: Int32
        public let output: String
        public var description: String { "`\(command)` exited \(status): \(output)" }
    }

    /// Runs `command` with bash and returns stdout; throws on a non-zero exit.
    @discardableResult
    public static func run(_ command: String) throws -> String {
        let (status, out, err) = try execute(command)
        guard status == 0 else { throw Failure(command: command, status: status, output: out + err) }
        return out
    }

    public static func status(_ command: String) throws -> Int32 {
        try execute(command).0
    }

    public static func execute(_ command: String) throws -> (Int32, String, String) {
        let finished = try ChildProcess.run(["/bin/bash", "-c", command])
        return (finished.status, finished.stdout, finished.stderr)
    }
}
