/// The one error type of K2Core (a `K2Error`): JSON that does not parse (with the byte offset),
/// a histogram encoding or `.hlog` that does not decode, a program that cannot be started. K2Core
/// knows no file or line: the module that does wraps it in its own error.
package struct CoreError: K2Error, Equatable {
    package enum Code: Sendable, Equatable {
        /// `JSONParser`: `offset` is where parsing stopped.
        case invalidJSON
        /// `Histogram.decode`, `HistogramLog.parse`.
        case badHistogram
        /// `ChildProcess`: `reason` names the program and why.
        case spawnFailed
    }

    package let code: Code
    /// The byte offset in the input (`.invalidJSON`), else 0.
    package let offset: Int
    package let reason: String

    package static func invalidJSON(offset: Int, reason: String) -> CoreError {
        CoreError(code: .invalidJSON, offset: offset, reason: reason)
    }

    package static func badHistogram(_ reason: String) -> CoreError {
        CoreError(code: .badHistogram, offset: 0, reason: reason)
    }

    package static func spawnFailed(_ reason: String) -> CoreError {
        CoreError(code: .spawnFailed, offset: 0, reason: reason)
    }

    package var what: String {
        switch code {
        case .invalidJSON: "invalid JSON at byte \(offset): \(reason)"
        case .badHistogram: "histogram decoding failed: \(reason)"
        case .spawnFailed: reason
        }
    }

    package var place: String { "" }
    package var remedy: String { "" }
}
