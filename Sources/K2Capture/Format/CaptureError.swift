import K2Core

/// The one error type of K2Capture (a `K2Error`): what went wrong, where (file, byte offset or
/// line) and what to do about it, on one line.
public struct CaptureError: K2Error, Equatable {
    public enum Code: String, Sendable {
        case fileNotFound = "file-not-found"
        case notACapture = "not-a-capture"
        case unsupportedVersion = "unsupported-version"
        case truncated
        case corrupt
        case io
        case invalidArgument = "invalid-argument"
        case importFormat = "import-format"
    }

    public let code: Code
    public let path: String?
    public let offset: Int64?
    public let line: Int?
    public let what: String
    public let remedy: String

    public init(_ code: Code, path: String?, offset: Int64? = nil, line: Int? = nil, what: String, remedy: String) {
        self.code = code
        self.path = path
        self.offset = offset
        self.line = line
        self.what = what
        self.remedy = remedy
    }

    /// `file:line`, `file at byte N`, as far as known.
    public var place: String {
        var place = path ?? ""
        if let line { place += place.isEmpty ? "line \(line)" : ":\(line)" }
        if let offset { place += (place.isEmpty ? "" : " ") + "at byte \(offset)" }
        return place
    }
}

extension CaptureError {
    static func io(_ path: String, _ action: String, errno code: Int32) -> CaptureError {
        let reason = String(cString: strerror(code))
        var remedy = "check the path and its permissions"
        if code == ENOSPC || code == EDQUOT { remedy = "free disk space; frames written so far stay readable" }
        if code == EFBIG {
            remedy =
                "the file reached the size limit (ulimit -f, or the file system's largest file): raise it or split the output; frames written so far stay readable"
        }
        if code == ENOENT { return CaptureError(.fileNotFound, path: path, what: "no such file", remedy: "check the path") }
        if code == EISDIR { remedy = "give a file, not a directory" }
        return CaptureError(.io, path: path, what: "cannot \(action): \(reason)", remedy: remedy)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
