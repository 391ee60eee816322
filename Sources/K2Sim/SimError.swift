import K2Capture
import K2Config
import K2Core

/// The one error type of K2Sim (a `K2Error`): what went wrong, where (file:line:column for
/// profiles, read by K2Config as workloads are), and what to do; `k2` exits with code 2.
public struct SimError: K2Error, Equatable {
    /// Where: `profile.yaml:12:3` or a flag name such as `--rate`.
    public var location: String
    /// The offending key path (`timeline[2].rate`), or empty.
    public var key: String
    public var what: String
    public var remedy: String

    public init(location: String, key: String = "", what: String, remedy: String) {
        self.location = location
        self.key = key
        self.what = what
        self.remedy = remedy
    }

    /// A K2Capture error (an unknown venue name) as read at `location`.
    public init(_ error: CaptureError, location: String, key: String = "") {
        self.init(location: location, key: key, what: error.what, remedy: error.remedy)
    }

    /// A profile file that K2Config's reader refused: `file:line:column` as the location.
    public init(_ error: ConfigError) {
        self.init(location: error.place, what: error.what, remedy: error.remedy)
    }

    /// `location: key`, or the location alone.
    public var place: String {
        key.isEmpty ? location : location + ": " + key
    }
}
