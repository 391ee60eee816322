import K2Core

/// Which records a tool keeps: a time window, kinds, connections, streams and symbols.
/// Built from the command-line strings by `RecordFilter.parse`, applied per record without
/// allocating.
package struct RecordFilter: Sendable {
    /// Half-open receive-time window `[from, to)`, nanoseconds since the epoch.
    package var from: Int64?
    package var to: Int64?
    package var kinds: Set<RecordKind>?
    package var connections: Set<UInt32>?
    /// Exact stream names (`btcusdt@trade`, `market_trades`, `trade`).
    package var streams: [[UInt8]]?
    /// Symbols, compared without regard to case (`BTCUSDT`, `XBT/USD`, `BTC-USD`).
    package var symbols: [[UInt8]]?

    package init(
        from: Int64? = nil, to: Int64? = nil, kinds: Set<RecordKind>? = nil, connections: Set<UInt32>? = nil,
        streams: [String]? = nil, symbols: [String]? = nil
    ) {
        self.from = from
        self.to = to
        self.kinds = kinds
        self.connections = connections
        self.streams = streams?.map { Array($0.utf8) }
        self.symbols = symbols?.map { Array($0.lowercased().utf8) }
    }

    package var isEmpty: Bool {
        from == nil && to == nil && kinds == nil && connections == nil && streams == nil && symbols == nil
    }

    var needsPayload: Bool { streams != nil || symbols != nil }

    @inline(__always)
    package func matches(_ r: CaptureRecord) -> Bool {
        if let from, r.timestamp < from { return false }
        if let to, r.timestamp >= to { return false }
        if let kinds, !kinds.contains(r.kind) { return false }
        if let connections, !connections.contains(r.connection) { return false }
        if streams != nil || symbols != nil {
            let fields = PayloadFields.extract(r.payload)
            if let streams {
                guard let stream = fields.stream, streams.contains(where: { Self.equal($0, stream, caseless: false) }) else { return false }
            }
            if let symbols {
                guard let symbol = fields.symbol, symbols.contains(where: { Self.equal($0, symbol, caseless: true) }) else { return false }
            }
        }
        return true
    }

    @inline(__always)
    static func equal(_ a: [UInt8], _ b: UnsafeRawBufferPointer, caseless: Bool) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count {
            var byte = b[i]
            if caseless, byte >= 65, byte <= 90 { byte += 32 }
            if a[i] != byte { return false }
        }
        return true
    }

    /// Builds a filter from command-line text. `--from/--to` take ISO-8601 times or offsets
    /// from the capture's first record (`+30s`, `+1h30m`); `start` is that first time.
    package static func parse(
        from: String?, to: String?, kinds: [String], connections: [String],
        streams: [String], symbols: [String], start: Int64?
    ) throws(CaptureError) -> RecordFilter {
        func time(_ text: String, _ flag: String) throws(CaptureError) -> Int64 {
            if text.hasPrefix("+") {
                guard let offset = TimeText.parseDuration(String(text.dropFirst())) else {
                    throw CaptureError(
                        .invalidArgument, path: nil, what: "\(flag) '\(text)' is not an offset",
                        remedy: "write an offset like +30s, +10m or +1h30m, or an ISO-8601 time like 2024-03-01T12:00:00Z")
                }
                let (time, overflow) = (start ?? 0).addingReportingOverflow(offset)
                guard !overflow else {
                    throw CaptureError(
                        .invalidArgument, path: nil, what: "\(flag) '\(text)' is past the year 2262, the last time k2 represents",
                        remedy: "write a shorter offset like +30s, +10m or +1h30m")
                }
                return time
            }
            guard let instant = TimeText.parseISO8601(text) else {
                throw CaptureError(
                    .invalidArgument, path: nil, what: "\(flag) '\(text)' is not a time",
                    remedy: "write an ISO-8601 time like 2024-03-01T12:00:00.5Z or an offset from the start like +30s")
            }
            return instant
        }
        var filter = RecordFilter()
        if let from { filter.from = try time(from, "--from") }
        if let to { filter.to = try time(to, "--to") }
        if let fromTime = filter.from, let toTime = filter.to, toTime <= fromTime {
            throw CaptureError(
                .invalidArgument, path: nil, what: "--to is not after --from",
                remedy: "give a --to later than --from (the window is [from, to))")
        }
        let kindNames = kinds.flatMap { $0.split(separator: ",").map(String.init) }
        if !kindNames.isEmpty {
            var set = Set<RecordKind>()
            for k in kindNames {
                guard let kind = RecordKind(name: k) else {
                    throw CaptureError(
                        .invalidArgument, path: nil, what: "unknown record kind '\(k)'",
                        remedy: "use one of connect, send, recv, disconnect, http, marker")
                }
                set.insert(kind)
            }
            filter.kinds = set
        }
        let connNames = connections.flatMap { $0.split(separator: ",").map(String.init) }
        if !connNames.isEmpty {
            var set = Set<UInt32>()
            for name in connNames {
                guard let id = UInt32(name) else {
                    throw CaptureError(
                        .invalidArgument, path: nil, what: "--conn '\(name)' is not a connection id",
                        remedy: "give a number as `k2 capture inspect` lists them")
                }
                set.insert(id)
            }
            filter.connections = set
        }
        let streamNames = streams.flatMap { $0.split(separator: ",").map(String.init) }
        if !streamNames.isEmpty { filter.streams = streamNames.map { Array($0.utf8) } }
        let symbolNames = symbols.flatMap { $0.split(separator: ",").map(String.init) }
        if !symbolNames.isEmpty { filter.symbols = symbolNames.map { Array($0.lowercased().utf8) } }
        return filter
    }
}
