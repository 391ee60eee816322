import Logging

/// The swift-log handler `k2` bootstraps (`LoggingSystem.bootstrap(K2LogHandler.init)`, in the
/// executable only: libraries log through a `Logger` and never bootstrap). Each entry is one
/// line on stderr through `StdErr` (so secrets are masked), in the two styles k2 prints:
///
/// - an entry with metadata is an event, a `key=value` line:
///   `ts=2026-12-06T10:00:00.123Z level=info event=connect conn=1 url=wss://…` — the message is
///   the event's name, the fields follow sorted by key, a value that is empty or holds a space,
///   `"` or `=` is JSON-quoted;
/// - an entry without metadata is a sentence: `k2: <message>` (errors, notices).
///
/// docs/errors.md lists what each module logs.
public struct K2LogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void
    private let wallNanos: @Sendable () -> Int64

    /// Lines to stderr, stamped with the wall clock.
    public init(label: String) {
        self.init(label: label, write: { StdErr.print($0) }, wallNanos: { SystemClock().wallNanos() })
    }

    /// Lines to `write` (without the newline), stamped by `wallNanos` (tests).
    public init(label: String, write: @escaping @Sendable (String) -> Void, wallNanos: @escaping @Sendable () -> Int64) {
        self.write = write
        self.wallNanos = wallNanos
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let given = event.metadata { fields.merge(given) { _, new in new } }
        write(Self.line(level: event.level, message: "\(event.message)", fields: fields, wallNanos: wallNanos()))
    }

    /// The line for one entry (without the newline).
    public static func line(level: Logger.Level, message: String, fields: Logger.Metadata, wallNanos: Int64) -> String {
        guard !fields.isEmpty else { return "k2: " + message }
        var line = "ts=\(TimeText.iso8601(nanos: wallNanos, fractionDigits: 3)) level=\(level.rawValue) event=\(message)"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=" + quotedIfNeeded("\(value)")
        }
        return line
    }

    private static func quotedIfNeeded(_ value: String) -> String {
        value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? JSONText.quoted(value) : value
    }
}
