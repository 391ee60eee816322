import K2Config
import K2Core

/// The one error type of K2Bench (a `K2Error`): what went wrong, where (file and line, or the
/// report) and what to do about it, on one line.
package struct BenchError: K2Error, Equatable {
    package enum Code: String, Sendable {
        /// A workload, targets or baseline file is malformed (unknown key, wrong type, missing value).
        case badFile = "bad-file"
        /// A file named by the user or by a workload does not exist or cannot be read.
        case fileNotFound = "file-not-found"
        /// Writing a report failed.
        case io
        /// A command-line value is wrong.
        case invalidArgument = "invalid-argument"
        /// The run itself failed (a sink could not open, the engine stopped).
        case run
    }

    package let code: Code
    package let path: String?
    package let line: Int?
    package let column: Int?
    package let what: String
    package let remedy: String

    package init(_ code: Code, path: String? = nil, line: Int? = nil, column: Int? = nil, what: String, remedy: String = "") {
        self.code = code
        self.path = path
        self.line = line
        self.column = column
        self.what = what
        self.remedy = remedy
    }

    /// A workload or targets file that K2Config's reader refused.
    package init(_ error: ConfigError) {
        self.init(
            error.code == .fileNotFound ? .fileNotFound : .badFile, path: error.path, line: error.line, column: error.column,
            what: error.what, remedy: error.remedy)
    }

    /// `file:line:column`, as far as known.
    package var place: String {
        var place = path ?? ""
        if let line {
            place += place.isEmpty ? "line \(line)" : ":\(line)"
            if let column { place += ":\(column)" }
        }
        return place
    }
}
