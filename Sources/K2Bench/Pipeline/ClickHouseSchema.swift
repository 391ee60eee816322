import Foundation
import K2Core
import K2Replay

/// A SQL script for ClickHouse (the v2 pipeline's tables and views): `--` comments dropped,
/// statements split on `;` outside quotes, `{name}` placeholders substituted, run one by one
/// over HTTP. A failing statement throws with its number, first line and ClickHouse's message.
package struct ClickHouseSchema: Sendable {
    package let path: String
    package let statements: [String]

    /// Reads and splits `path`.
    package init(path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ReplayError(.invalidArgument, place: path, what: "cannot read the ClickHouse schema file",
                              remedy: "check the path (relative paths are relative to the workload file)")
        }
        self.init(path: path, text: text)
    }

    package init(path: String, text: String) {
        self.path = path
        self.statements = Self.split(text)
    }

    /// The statements with `{key}` replaced by `values[key]`.
    func substituted(_ values: [String: String]) -> [String] {
        statements.map { s in
            var out = s
            for (k, v) in values { out = out.replacingOccurrences(of: "{\(k)}", with: v) }
            return out
        }
    }

    /// Runs every statement against `host:port` in `database` (created first when missing).
    package func run(host: String, port: Int, database: String, values: [String: String]) throws {
        let http = try ClickHouseHTTP(host: host, port: port, place: path)
        try http.execute("CREATE DATABASE IF NOT EXISTS \(database)")
        for (i, sql) in substituted(values).enumerated() {
            do {
                try http.execute(sql, database: database)
            } catch let e as ReplayError {
                let first = sql.split(separator: "\n").first.map(String.init) ?? sql
                throw ReplayError(.invalidArgument, place: path, what: "statement \(i + 1) (\(first.prefix(60))…) failed: \(e.what)",
                                  remedy: "fix the schema file; it must run on the server's ClickHouse version")
            }
        }
    }

    /// Splits on `;` outside '…' / "…" / `…` quotes, dropping `--` line comments and empty statements.
    static func split(_ text: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var quote: Character?
        var escaped = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var l = Substring(line)
            if quote == nil, let r = l.range(of: "--"), !l[..<r.lowerBound].contains("'") { l = l[..<r.lowerBound] }
            for ch in l {
                if let q = quote {
                    cur.append(ch)
                    if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == q { quote = nil }
                    continue
                }
                if ch == ";" {
                    let s = cur.trimmingCharacters(in: .whitespacesAndNewlines)
                    if !s.isEmpty { out.append(s) }
                    cur = ""
                    continue
                }
                if ch == "'" || ch == "\"" || ch == "`" { quote = ch }
                cur.append(ch)
            }
            cur.append("\n")
        }
        let s = cur.trimmingCharacters(in: .whitespacesAndNewlines)
        if !s.isEmpty { out.append(s) }
        return out
    }
}
