/// The shape every module's one error type has (`CaptureError`, `ConfigError`, `NetError`,
/// `ReplayError`, `SimError`, `RecordError`, `BenchError`): what went wrong, where, what to do,
/// and the exit code `k2` ends with. `description` is the one rendering of the one line `k2`
/// prints (after `k2: `): `place: what — remedy`, each part left out when empty.
///
/// A type keeps its structured fields (a path with a line and column, a byte offset, a key) and
/// builds `place` from them. Empty strings mean "none" (as in the types' initialisers), so a
/// call site never unwraps.
public protocol K2Error: Error, CustomStringConvertible, Sendable {
    /// What went wrong, e.g. `unknown key 'rat'`.
    var what: String { get }
    /// Where: `file:line:column`, `file at byte N`, a URL, a sink URI or a flag; empty when nowhere
    /// in particular.
    var place: String { get }
    /// What to do about it, e.g. `did you mean 'rate'?`; empty when there is nothing to add.
    var remedy: String { get }
    /// The exit code of `k2` when this error ends a command: 2 for bad input or a failed setup
    /// (the default), 1 for a failure part-way through the work (docs/errors.md).
    var exitCode: Int32 { get }
}

extension K2Error {
    public var exitCode: Int32 { 2 }

    /// The one rendering of the line.
    public var description: String {
        (place.isEmpty ? "" : place + ": ") + what + (remedy.isEmpty ? "" : " — " + remedy)
    }
}
