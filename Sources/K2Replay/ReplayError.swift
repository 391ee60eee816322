/// The one error type of K2Replay: what went wrong, where (sink URI, file) and what to do, on one line.
public struct ReplayError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
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

    public let code: Code
    /// The sink URI or file the error is about, if any.
    public let place: String?
    public let what: String
    public let remedy: String

    public init(_ code: Code, place: String? = nil, what: String, remedy: String = "") {
        self.code = code
        self.place = place
        self.what = what
        self.remedy = remedy
    }

    public var description: String {
        (place.map { $0 + ": " } ?? "") + what + (remedy.isEmpty ? "" : " — " + remedy)
    }
}
