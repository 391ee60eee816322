/// The one error type of K2Replay: what went wrong, where (sink URI, file) and what to do, on one line.
package struct ReplayError: Error, CustomStringConvertible, Sendable, Equatable {
    package enum Code: String, Sendable {
        /// Bad input: unknown scheme, bad parameter, speed ≤ 0 … (exit 2).
        case invalidArgument = "invalid-argument"
        /// The destination cannot be reached or refuses at open (exit 2).
        case unreachable
        /// The destination failed mid-run beyond the sink's retries (exit 1).
        case sinkFailed = "sink-failed"
        /// A capture is torn or damaged and `--allow-torn` was not given: nothing was sent (exit 1).
        case damagedInput = "damaged-input"
        case io
    }

    package let code: Code
    /// The sink URI or file the error is about, if any.
    package let place: String?
    package let what: String
    package let remedy: String

    package init(_ code: Code, place: String? = nil, what: String, remedy: String = "") {
        self.code = code
        self.place = place
        self.what = what
        self.remedy = remedy
    }

    package var description: String {
        (place.map { $0 + ": " } ?? "") + what + (remedy.isEmpty ? "" : " — " + remedy)
    }
}
