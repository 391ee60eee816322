import K2Capture
import K2Core
import K2Net

/// The one error type of K2Record (a `K2Error`): what went wrong, where, what to do — one line.
public struct RecordError: K2Error {
    public enum Code: String, Sendable {
        /// Bad command-line input: unknown venue or channel, no symbols, bad URL.
        case invalidArgument = "invalid-argument"
        /// The first connection could not be made (DNS, TCP, TLS, handshake).
        case connect
        /// The venue rejected a subscription.
        case subscriptionRejected = "subscription-rejected"
        /// Writing the capture failed (disk full, permissions).
        case capture
    }

    public let code: Code
    public let place: String
    public let what: String
    public let remedy: String
    /// True when the failure happened while recording (exit 1) rather than at start (exit 2).
    public var duringRecording: Bool

    public init(_ code: Code, place: String = "", what: String, remedy: String, duringRecording: Bool = false) {
        self.code = code
        self.place = place
        self.what = what
        self.remedy = remedy
        self.duringRecording = duringRecording
    }

    public init(_ e: NetError) {
        self.init(.connect, place: e.place, what: e.what, remedy: e.remedy)
    }

    public init(_ e: CaptureError, duringRecording: Bool) {
        self.init(.capture, place: e.path ?? "", what: e.what, remedy: e.remedy, duringRecording: duringRecording)
    }

    public var exitCode: Int32 { duringRecording ? 1 : 2 }
}
