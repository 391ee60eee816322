import Foundation

/// Reading and writing a run directory: `report.json`, `report.md`, `report.html` and the
/// HdrHistogram interval logs (`<kind>.<basis>.hlog`).
package enum ReportFiles {
    /// Writes every file of a run directory (creating it) and returns the paths written.
    @discardableResult
    package static func write(
        _ report: BenchReport, to dir: String, verification: Verification? = nil,
        intervalLogs: [String: String] = [:]
    ) throws(BenchError) -> [String] {
        var folder = try Folder(dir, what: "report")
        try folder.put("report.json", try encode(report))
        try folder.put("report.md", ReportMarkdown.render(report, verification: verification))
        try folder.put("report.html", ReportHTML.render(report, verification: verification))
        for (name, text) in intervalLogs.sorted(by: { $0.key < $1.key }) {
            try folder.put(name + ".hlog", text)
        }
        return folder.written
    }

    /// A shard run that failed leaves `FAILED.txt` (the error line) in its run directory instead
    /// of a report, so `k2 bench merge` can say which shard failed and why.
    static let failureFile = "FAILED.txt"

    package static func writeFailure(_ reason: String, to dir: String) throws(BenchError) {
        var folder = try Folder(dir, what: "report")
        try folder.put(failureFile, reason + "\n")
    }

    /// Why the shard behind `path` (a run directory or its report.json) has no report: its
    /// `FAILED.txt`, or that the folder or its report.json is missing. Nil when the report is there.
    package static func missingReason(_ path: String) -> String? {
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        let dir = exists && !isDir.boolValue ? (path as NSString).deletingLastPathComponent : path
        if let data = FileManager.default.contents(atPath: (dir as NSString).appendingPathComponent(failureFile)) {
            return "failed: " + String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if !exists { return "no such run directory (the shard did not run or did not finish)" }
        if isDir.boolValue && !FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("report.json")) {
            return "no report.json (the shard did not finish)"
        }
        return nil
    }

    /// Appends text to a file (created when missing), e.g. a CI job summary. False on failure.
    package static func append(_ text: String, to path: String) -> Bool {
        if !FileManager.default.fileExists(atPath: path) {
            return FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { return false }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
        } catch { return false }
        return true
    }

    /// A folder the report files are written into (created), remembering the paths written.
    struct Folder {
        let dir: String
        private(set) var written: [String] = []

        init(_ dir: String, what: String) throws(BenchError) {
            self.dir = dir
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw BenchError(
                    .io, path: dir, what: "cannot create the \(what) folder: \(error.localizedDescription)", remedy: "check the path and permissions")
            }
        }

        mutating func put(_ name: String, _ text: String) throws(BenchError) {
            let filePath = (dir as NSString).appendingPathComponent(name)
            guard FileManager.default.createFile(atPath: filePath, contents: Data(text.utf8)) else {
                throw BenchError(.io, path: filePath, what: "cannot write the file", remedy: "check free space and permissions")
            }
            written.append(filePath)
        }
    }

    package static func encode(_ report: BenchReport) throws(BenchError) -> String {
        try json(report, what: "the report")
    }

    /// Pretty, key-sorted JSON with a final newline (report.json, sweep.json).
    static func json(_ value: some Encodable, what: String) throws(BenchError) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try enc.encode(value), as: UTF8.self) + "\n"
        } catch {
            throw BenchError(.io, what: "cannot encode \(what): \(error)")
        }
    }

    /// Reads a report from a run directory or a `report.json` path.
    package static func load(_ path: String) throws(BenchError) -> BenchReport {
        let (file, data) = try read(
            path, named: "report.json", what: "no report here", remedy: "give a run directory from `k2 bench run -o DIR` or its report.json")
        return try decode(data, file: file)
    }

    /// Reads `path`, or the file `name` in it when `path` is a directory (a run's or a sweep's
    /// output folder): the file read and its bytes; a `.fileNotFound` with `what` and `remedy`
    /// when there is no such file.
    static func read(_ path: String, named name: String, what: String, remedy: String) throws(BenchError) -> (file: String, data: Data) {
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        let file = exists && isDir.boolValue ? (path as NSString).appendingPathComponent(name) : path
        guard let data = FileManager.default.contents(atPath: file) else {
            throw BenchError(.fileNotFound, path: file, what: what, remedy: remedy)
        }
        return (file, data)
    }

    package static func decode(_ data: Data, file: String) throws(BenchError) -> BenchReport {
        let report: BenchReport
        do {
            report = try JSONDecoder().decode(BenchReport.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw BenchError(
                .badFile, path: file, what: "not a k2 bench report: missing '\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))'",
                remedy: "give a report.json written by `k2 bench run`")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw BenchError(
                .badFile, path: file, what: "not a k2 bench report: wrong type at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'",
                remedy: "give a report.json written by `k2 bench run`")
        } catch {
            throw BenchError(.badFile, path: file, what: "not a k2 bench report (\(error))", remedy: "give a report.json written by `k2 bench run`")
        }
        guard report.schema == BenchReport.currentSchema else {
            throw BenchError(
                .badFile, path: file, what: "report schema '\(report.schema)' is not supported", remedy: "this k2 reads \(BenchReport.currentSchema)")
        }
        return report
    }
}
