import K2Core

/// The capture's header: format version, who wrote it, when, where, and free metadata.
public struct CaptureHeader: Sendable, Equatable {
    /// The format version this build writes. Readers accept any minor version of their major.
    public static let currentMajor: UInt16 = 1
    public static let currentMinor: UInt16 = 0

    public var major: UInt16
    public var minor: UInt16
    /// Version of the tool that wrote the file, e.g. `k2 0.1.0`.
    public var toolVersion: String
    /// Creation time, nanoseconds since the Unix epoch.
    public var createdNanos: Int64
    public var host: String
    /// Free metadata: `exchange`, `subscriptions`, `command_line`, `source`, … (a JSON object).
    public var metadata: [(String, JSONValue)]

    public init(
        toolVersion: String = K2Version.string, createdNanos: Int64, host: String,
        metadata: [(String, JSONValue)] = []
    ) {
        self.major = Self.currentMajor
        self.minor = Self.currentMinor
        self.toolVersion = toolVersion
        self.createdNanos = createdNanos
        self.host = host
        self.metadata = metadata
    }

    public static func == (a: CaptureHeader, b: CaptureHeader) -> Bool {
        a.major == b.major && a.minor == b.minor && a.toolVersion == b.toolVersion
            && a.createdNanos == b.createdNanos && a.host == b.host
            && JSONValue.object(a.metadata) == JSONValue.object(b.metadata)
    }

    /// A header for a new capture written now on this host.
    public static func now(metadata: [(String, JSONValue)] = [], clock: any NanoClock = SystemClock()) -> CaptureHeader {
        CaptureHeader(createdNanos: clock.wallNanos(), host: HostInfo.hostname(), metadata: metadata)
    }

    public func metadataValue(_ key: String) -> JSONValue? {
        metadata.first(where: { $0.0 == key })?.1
    }

    var json: JSONValue {
        .object([
            ("tool_version", .string(toolVersion)),
            ("created_ns", .number(String(createdNanos))),
            ("host", .string(host)),
            ("metadata", .object(metadata)),
        ])
    }
}
