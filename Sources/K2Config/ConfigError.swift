import K2Core

/// The one error type of K2Config (a `K2Error`): a configuration file (workload, targets,
/// simulator profile) that cannot be read as asked. One line: `file:line:column: what — what to do`.
public struct ConfigError: K2Error, Equatable {
    public enum Code: String, Sendable {
        /// The file does not exist or cannot be read.
        case fileNotFound = "file-not-found"
        /// The file is not valid YAML, or a key, type or value is wrong.
        case badFile = "bad-file"
    }

    public let code: Code
    public let path: String
    public let line: Int?
    public let column: Int?
    public let what: String
    public let remedy: String

    public init(_ code: Code = .badFile, path: String, line: Int? = nil, column: Int? = nil, what: String, remedy: String = "") {
        self.code = code
        self.path = path
        self.line = line
        self.column = column
        self.what = what
        self.remedy = remedy
    }

    /// `file:line:column`, as far as known.
    public var place: String {
        var place = path
        if let line {
            place += place.isEmpty ? "line \(line)" : ":\(line)"
            if let column { place += ":\(column)" }
        }
        return place
    }
}
