import Foundation
import K2Core
import K2Replay

/// A SQL script for ClickHouse (the v2 pipeline's tables and views): `--` comments dropped,
/// statements split on `;` outside quotes, `{name}` placeholders substituted, run one by one
/// over HTTP. A failing statement throws with its number, first line and ClickHouse's message.
///
/// Where ClickHouse releases need different SQL, a guard line right before a statement says for
/// which server versions it is: `-- k2: clickhouse < 19.14` or `-- k2: clickhouse >= 19.14`.
/// `run` asks the server `SELECT version()` and runs the unguarded statements and those whose
/// guard the version meets, in file order.
package struct ClickHouseSchema: Sendable {
    /// A guard: the statement runs only on versions below (`<`) or at least (`>=`) `version`.
    struct VersionGuard: Sendable, Equatable, CustomStringConvertible {
        var atLeast: Bool
        var version: ClickHouseVersion

        func admits(_ server: ClickHouseVersion) -> Bool { atLeast ? server >= version : server < version }
        var description: String { "clickhouse \(atLeast ? ">=" : "<") \(version)" }
    }

    /// One statement and its guard (nil: every version).
    struct Statement: Sendable {
        var sql: String
        var versionGuard: VersionGuard?
    }

    /// What `run` did: the server's version and how many statements ran or were for other versions.
    package struct Applied: Sendable {
        package var version: ClickHouseVersion
        package var ran: Int
        package var skipped: Int
    }

    package let path: String
    let entries: [Statement]
    /// Every statement's SQL in file order, guarded ones included.
    package var statements: [String] { entries.map(\.sql) }

    /// Reads and splits `path`.
    package init(path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ReplayError(
                .invalidArgument, place: path, what: "cannot read the ClickHouse schema file",
                remedy: "check the path (relative paths are relative to the workload file)")
        }
        try self.init(path: path, text: text)
    }

    /// Splits `text`; throws on a malformed guard line (with `path:line`).
    package init(path: String, text: String) throws {
        self.path = path
        self.entries = try Self.split(text, path: path)
    }

    /// The statements for a server of `version`, with `{key}` replaced by `values[key]`.
    package func substituted(_ values: [String: String], for version: ClickHouseVersion? = nil) -> [String] {
        entries.filter { entry in version.map { entry.versionGuard?.admits($0) ?? true } ?? true }.map { entry in
            var out = entry.sql
            for (key, value) in values { out = out.replacingOccurrences(of: "{\(key)}", with: value) }
            return out
        }
    }

    /// The server's version (`SELECT version()`).
    static func serverVersion(_ http: ClickHouseHTTP, place: String) throws -> ClickHouseVersion {
        let text = try http.execute("SELECT version()")
        guard let version = ClickHouseVersion(text) else {
            throw ReplayError(
                .invalidArgument, place: place, what: "ClickHouse answered SELECT version() with '\(text.prefix(40))', not a version",
                remedy: "point k2 at ClickHouse's HTTP interface (default port 8123)")
        }
        return version
    }

    /// Runs the statements for the server's version against `host:port` in `database` (created
    /// first when missing).
    @discardableResult
    package func run(host: String, port: Int, database: String, values: [String: String]) throws -> Applied {
        let http = try ClickHouseHTTP(host: host, port: port, place: path)
        let version = try Self.serverVersion(http, place: path)
        try http.execute("CREATE DATABASE IF NOT EXISTS \(database)")
        let chosen = substituted(values, for: version)
        for (index, sql) in chosen.enumerated() {
            do {
                try http.execute(sql, database: database)
            } catch let replayError as ReplayError {
                let first = sql.split(separator: "\n").first.map(String.init) ?? sql
                throw ReplayError(
                    .invalidArgument, place: path,
                    what: "statement \(index + 1) (\(first.prefix(60))…) failed on ClickHouse \(version): \(replayError.what)",
                    remedy: "fix the schema file; it must run on the server's ClickHouse version (or guard it: -- k2: clickhouse < VERSION)")
            }
        }
        return Applied(version: version, ran: chosen.count, skipped: entries.count - chosen.count)
    }

    /// Reads a guard line's condition (`clickhouse < 19.14`, `clickhouse >= 19.14`).
    static func parseGuard(_ text: Substring, path: String, line: Int) throws -> VersionGuard {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 3, words[0] == "clickhouse", words[1] == "<" || words[1] == ">=",
            let version = ClickHouseVersion(String(words[2]))
        else {
            throw ReplayError(
                .invalidArgument, place: "\(path):\(line)", what: "'-- k2: \(text)' is not a version guard",
                remedy: "write '-- k2: clickhouse < 19.14' or '-- k2: clickhouse >= 19.14' on the line before a statement")
        }
        return VersionGuard(atLeast: words[1] == ">=", version: version)
    }

    /// Splits on `;` outside '…' / "…" / `…` quotes, dropping `--` line comments and empty
    /// statements; a `-- k2:` guard line before a statement applies to it.
    static func split(_ text: String, path: String = "") throws -> [Statement] {
        var out: [Statement] = []
        var cur = ""
        var quote: Character?
        var escaped = false
        var pendingGuard: (VersionGuard, line: Int)?
        func close() {
            let statement = cur.trimmingCharacters(in: .whitespacesAndNewlines)
            if !statement.isEmpty {
                out.append(Statement(sql: statement, versionGuard: pendingGuard?.0))
                pendingGuard = nil
            }
            cur = ""
        }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var code = Substring(line)
            let trimmed = code.trimmingCharacters(in: .whitespaces)
            if quote == nil, trimmed.hasPrefix("-- k2:") {
                guard cur.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw ReplayError(
                        .invalidArgument, place: "\(path):\(index + 1)", what: "a version guard inside a statement",
                        remedy: "put the guard line right before the statement it is for (after the previous ';')")
                }
                if let earlier = pendingGuard {
                    throw ReplayError(
                        .invalidArgument, place: "\(path):\(index + 1)",
                        what: "a second version guard before the statement guarded on line \(earlier.line)",
                        remedy: "give each statement one guard line")
                }
                let condition = trimmed.dropFirst("-- k2:".count).trimmingCharacters(in: .whitespaces)
                pendingGuard = (try parseGuard(Substring(condition), path: path, line: index + 1), index + 1)
                continue
            }
            if quote == nil, let commentStart = code.range(of: "--"), !code[..<commentStart.lowerBound].contains("'") {
                code = code[..<commentStart.lowerBound]
            }
            for ch in code {
                if let openQuote = quote {
                    cur.append(ch)
                    if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == openQuote { quote = nil }
                    continue
                }
                if ch == ";" {
                    close()
                    continue
                }
                if ch == "'" || ch == "\"" || ch == "`" { quote = ch }
                cur.append(ch)
            }
            cur.append("\n")
        }
        close()
        if let dangling = pendingGuard {
            throw ReplayError(
                .invalidArgument, place: "\(path):\(dangling.line)", what: "a version guard with no statement after it",
                remedy: "put the guard line right before the statement it is for, or remove it")
        }
        return out
    }
}
