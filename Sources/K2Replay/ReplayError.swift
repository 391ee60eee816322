import K2Core

/// The one error type of K2Replay (a `K2Error`): what went wrong, where (sink URI, file) and what
/// to do, on one line.
public struct ReplayError: K2Error, Equatable {
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
    /// The sink URI or file the error is about; empty when none.
    public let place: String
    public let what: String
    public let remedy: String

    public init(_ code: Code, place: String = "", what: String, remedy: String = "") {
        self.code = code
        self.place = place
        self.what = what
        self.remedy = remedy
    }

    /// 1 for a sink that failed mid-run and for a damaged input (nothing sent), else 2.
    public var exitCode: Int32 {
        switch code {
        case .sinkFailed, .damagedInput: return 1
        case .invalidArgument, .unreachable, .io: return 2
        }
    }
}
