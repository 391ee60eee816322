/// One record, as a view into the reader's decompressed block: no copy, no allocation.
/// Valid only until the reader that produced it moves on; call `owned()` to keep it.
public struct CaptureRecord {
    public let kind: RecordKind
    /// Receive time, nanoseconds since the Unix epoch (UTC wall clock at receipt).
    public let timestamp: Int64
    /// Connection id, unique within the capture.
    public let connection: UInt32
    /// True for a binary WebSocket frame (or any payload that is not text).
    public let isBinary: Bool
    /// The URL of a `connect` or `http` record; empty otherwise.
    public let aux: UnsafeRawBufferPointer
    /// The payload bytes exactly as received.
    public let payload: UnsafeRawBufferPointer
    /// The reader's block the views point into, for a consumer that keeps the payload past the
    /// next record without copying it (`CaptureBlock.hold()`); nil when the record is not in a
    /// block that can be held (generated records).
    package let block: CaptureBlock?

    package init(
        kind: RecordKind, timestamp: Int64, connection: UInt32, isBinary: Bool,
        aux: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, block: CaptureBlock? = nil
    ) {
        self.block = block
        self.kind = kind
        self.timestamp = timestamp
        self.connection = connection
        self.isBinary = isBinary
        self.aux = aux
        self.payload = payload
    }

    /// The URL of a `connect` or `http` record, nil for other kinds.
    public var url: String? {
        aux.isEmpty ? nil : String(decoding: aux, as: UTF8.self)
    }

    /// Copies the record out of the reader's buffer.
    public func owned() -> OwnedRecord {
        OwnedRecord(
            kind: kind, timestamp: timestamp, connection: connection, isBinary: isBinary,
            url: [UInt8](aux), payload: [UInt8](payload))
    }
}

/// A record that owns its bytes: for queues, merges across threads, tests and importers.
public struct OwnedRecord: Sendable, Equatable {
    public var kind: RecordKind
    public var timestamp: Int64
    public var connection: UInt32
    public var isBinary: Bool
    public var url: [UInt8]
    public var payload: [UInt8]

    public init(
        kind: RecordKind, timestamp: Int64, connection: UInt32, isBinary: Bool = false,
        url: [UInt8] = [], payload: [UInt8]
    ) {
        self.kind = kind
        self.timestamp = timestamp
        self.connection = connection
        self.isBinary = isBinary
        self.url = url
        self.payload = payload
    }

    public init(
        kind: RecordKind, timestamp: Int64, connection: UInt32, isBinary: Bool = false,
        url: String? = nil, text: String
    ) {
        self.init(
            kind: kind, timestamp: timestamp, connection: connection, isBinary: isBinary,
            url: Array((url ?? "").utf8), payload: Array(text.utf8))
    }

    /// A view of this record, valid inside `body`.
    public func withView<T>(_ body: (CaptureRecord) throws -> T) rethrows -> T {
        try url.withUnsafeBytes { urlBytes in
            try payload.withUnsafeBytes { payloadBytes in
                try body(
                    CaptureRecord(
                        kind: kind, timestamp: timestamp, connection: connection,
                        isBinary: isBinary, aux: urlBytes, payload: payloadBytes))
            }
        }
    }
}
