import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The line parsers of every import format, with their per-file state.
struct ImportParser {
    let format: ImportFormat
    let path: String
    var connectionNames: [(name: String, id: UInt32)] = []
    // Connection state.
    private var conn: UInt32 = 0
    private var connUsed = false
    private var nextConn: UInt32 = 0
    private var named: [String: UInt32] = [:]
    private var namedUsed: Set<UInt32> = []
    private var lastTimestamp: Int64 = 0
    private var pendingDisconnect = false
    /// cryptofeed-v3 `send` addresses by connection name, in order of appearance.
    private var sendAddresses: [(String, JSONValue)] = []

    init(format: ImportFormat, path: String) {
        self.format = format
        self.path = path
    }

    private static let empty: [UInt8] = []

    func formatError(_ line: UnsafeRawBufferPointer, _ number: Int, _ detail: String? = nil) -> CaptureError {
        var snippet = String(decoding: line.prefix(60), as: UTF8.self)
        if line.count > 60 { snippet += "…" }
        var remedy = "check --format (\(ImportFormat.allCases.map(\.rawValue).joined(separator: ", ")))"
        if let guessed = ImportFormat.guess(line), guessed != format { remedy = "this looks like --format \(guessed.rawValue)" }
        let what = "expected \(format.expectation), found `\(snippet)`" + (detail.map { " (\($0))" } ?? "")
        return CaptureError(.importFormat, path: path, line: number, what: what, remedy: remedy)
    }

    mutating func consume(_ line: UnsafeRawBufferPointer, number: Int, sink: ImportSink) throws(CaptureError) {
        switch format {
        case .ndjson: try ndjson(line, number, sink)
        case .tardis: try tardis(line, number, sink)
        case .cryptofeed: try cryptofeedText(line, number, sink)
        case .cryptofeedV3: try cryptofeedJSON(line, number, sink)
        }
    }

    // MARK: ndjson

    private mutating func ndjson(_ line: UnsafeRawBufferPointer, _ number: Int, _ sink: ImportSink) throws(CaptureError) {
        if line.isEmpty { return }
        let record: OwnedRecord
        do throws(CoreError) { record = try NDJSONRecord.parse(line) } catch {
            throw formatError(line, number, error.reason)
        }
        try sink.append(record)
    }

    // MARK: tardis

    private mutating func tardis(_ line: UnsafeRawBufferPointer, _ number: Int, _ sink: ImportSink) throws(CaptureError) {
        if line.isEmpty {
            // A disconnect: the next message comes on a new connection.
            if connUsed {
                try withBytes(Self.empty) { (e) throws(CaptureError) in
                    try sink.append(kind: .disconnect, timestamp: lastTimestamp, connection: conn, isBinary: false, aux: e, payload: e)
                }
                conn += 1
                connUsed = false
            }
            return
        }
        guard let sp = line.firstIndex(of: 32) else { throw formatError(line, number, "no space after the time") }
        let timeText = String(decoding: line[0..<sp], as: UTF8.self)
        guard let ts = TimeText.parseISO8601(timeText) else { throw formatError(line, number, "`\(timeText)` is not an ISO-8601 time") }
        let payload = UnsafeRawBufferPointer(rebasing: line[(sp + 1)...])
        try withBytes(Self.empty) { (e) throws(CaptureError) in
            try sink.append(kind: .recv, timestamp: ts, connection: conn, isBinary: false, aux: e, payload: payload)
        }
        connUsed = true
        lastTimestamp = ts
    }

    // MARK: cryptofeed text (AsyncFileCallback)

    private static let connectArrow: [UInt8] = Array(" <-> ".utf8)
    private static let sendArrow: [UInt8] = Array(" <- ".utf8)
    private static let httpArrow: [UInt8] = Array(" -> ".utf8)
    private static let configuration: [UInt8] = Array("configuration: ".utf8)

    private mutating func cryptofeedText(_ line: UnsafeRawBufferPointer, _ number: Int, _ sink: ImportSink) throws(CaptureError) {
        if line.isEmpty { return }
        if number == 1, line.starts(with: Self.configuration) {
            sink.metadata.append(("cryptofeed_configuration", .string(String(decoding: line[Self.configuration.count...], as: UTF8.self))))
            return
        }
        // A received message: `<seconds>: <data>`.
        if line[0] >= 48 && line[0] <= 57 {
            guard let colon = Self.find(line, [58, 32]),
                let ts = DecimalTime.nanos(fromSeconds: UnsafeRawBufferPointer(rebasing: line[0..<colon]))
            else {
                throw formatError(line, number, "no `<seconds>: ` before the message")
            }
            let data = UnsafeRawBufferPointer(rebasing: line[(colon + 2)...])
            try emitText(.recv, ts, aux: UnsafeRawBufferPointer(rebasing: line[0..<0]), data, sink)
            return
        }
        let connectAt = Self.find(line, Self.connectArrow), sendAt = Self.find(line, Self.sendArrow), httpAt = Self.find(line, Self.httpArrow)
        let first = [connectAt, sendAt, httpAt].compactMap { $0 }.min()
        guard let at = first else { throw formatError(line, number) }
        let url = UnsafeRawBufferPointer(rebasing: line[0..<at])
        if at == connectAt {
            let tsText = UnsafeRawBufferPointer(rebasing: line[(at + Self.connectArrow.count)...])
            guard let ts = DecimalTime.nanos(fromSeconds: tsText) else { throw formatError(line, number, "no time after `<->`") }
            if connUsed {  // a reconnect: a new connection
                conn += 1
            }
            connUsed = true
            try withBytes(Self.empty) { (e) throws(CaptureError) in
                try sink.append(kind: .connect, timestamp: ts, connection: conn, isBinary: false, aux: url, payload: e)
            }
            return
        }
        let arrowLen = at == sendAt ? Self.sendArrow.count : Self.httpArrow.count
        let rest = UnsafeRawBufferPointer(rebasing: line[(at + arrowLen)...])
        guard let colon = Self.find(rest, [58, 32]),
            let ts = DecimalTime.nanos(fromSeconds: UnsafeRawBufferPointer(rebasing: rest[0..<colon]))
        else {
            throw formatError(line, number, "no `<seconds>: ` after the arrow")
        }
        let data = UnsafeRawBufferPointer(rebasing: rest[(colon + 2)...])
        if at == sendAt {
            try emitText(.send, ts, aux: UnsafeRawBufferPointer(rebasing: line[0..<0]), data, sink)
        } else {
            try emitText(.http, ts, aux: url, data, sink)
        }
    }

    /// Emits a payload that cryptofeed wrote with `str(data)`: Python bytes (`b'…'`) become
    /// binary payloads with their real bytes, everything else is kept as the text it is.
    private mutating func emitText(
        _ kind: RecordKind, _ ts: Int64, aux: UnsafeRawBufferPointer,
        _ data: UnsafeRawBufferPointer, _ sink: ImportSink
    ) throws(CaptureError) {
        connUsed = true
        if data.count >= 3, data[0] == 98, data[1] == 39 || data[1] == 34, let bytes = Self.pythonBytes(data) {
            try withBytes(bytes) { (b) throws(CaptureError) in
                try sink.append(kind: kind, timestamp: ts, connection: conn, isBinary: true, aux: aux, payload: b)
            }
            return
        }
        try sink.append(kind: kind, timestamp: ts, connection: conn, isBinary: false, aux: aux, payload: data)
    }

    /// Decodes a Python bytes literal (`b'\x1f\x8b…'`); nil when it is not one.
    static func pythonBytes(_ d: UnsafeRawBufferPointer) -> [UInt8]? {
        let quote = d[1]
        guard d[d.count - 1] == quote else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(d.count)
        var index = 2
        let end = d.count - 1
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        while index < end {
            let byte = d[index]
            if byte == quote { return nil }
            if byte != 92 { out.append(byte); index += 1; continue }
            guard index + 1 < end else { return nil }
            let escaped = d[index + 1]
            switch escaped {
            case 92, 39, 34: out.append(escaped); index += 2
            case 110: out.append(10); index += 2
            case 114: out.append(13); index += 2
            case 116: out.append(9); index += 2
            case 120:
                guard index + 3 < end, let hi = hex(d[index + 2]), let lo = hex(d[index + 3]) else { return nil }
                out.append(hi << 4 | lo)
                index += 4
            default: return nil
            }
        }
        return out
    }

    static func find(_ b: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Int? {
        guard b.count >= needle.count else { return nil }
        var start = 0
        let last = b.count - needle.count
        while start <= last {
            if b[start] == needle[0] {
                var matched = 1
                while matched < needle.count, b[start + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return start }
            }
            start += 1
        }
        return nil
    }

    // MARK: cryptofeed JSON lines (capture.py, format 2)

    private mutating func cryptofeedJSON(_ line: UnsafeRawBufferPointer, _ number: Int, _ sink: ImportSink) throws(CaptureError) {
        if line.isEmpty { return }
        let value: JSONValue
        do throws(CoreError) { value = try JSONParser.parse(line) } catch {
            throw formatError(line, number, error.description)
        }
        guard let recordType = value["t"]?.stringValue else { throw formatError(line, number, "no \"t\" field") }
        if recordType == "header" {
            let fmt = value["format"]?.numberText ?? "?"
            guard fmt == "2" else {
                throw CaptureError(
                    .importFormat, path: path, line: number,
                    what: "cryptofeed capture format \(fmt) is not the one k2 reads (2)",
                    remedy: "convert it with the cryptofeed release that wrote it, or use --format cryptofeed for text files")
            }
            if let ex = value["exchange"]?.stringValue { sink.metadata.append(("exchange", .string(ex.lowercased()))) }
            sink.metadata.append(("cryptofeed_format", .number(fmt)))
            if let from = value["converted_from"], from != .null { sink.metadata.append(("cryptofeed_converted_from", from)) }
            if let config = value["config"] { sink.metadata.append(("cryptofeed_config", config)) }
            if let recorded = value["recorded"]?.numberText { sink.metadata.append(("cryptofeed_recorded", .number(recorded))) }
            if let ci = value["candle_interval"], ci != .null { sink.metadata.append(("cryptofeed_candle_interval", ci)) }
            return
        }
        guard let tsText = value["ts"]?.numberText,
            let ts = DecimalTime.nanos(fromSeconds: tsText)
        else { throw formatError(line, number, "no numeric \"ts\"") }
        let name = value["conn"]?.stringValue ?? ""
        let kind: RecordKind
        switch recordType {
        case "connect": kind = .connect
        case "send": kind = .send
        case "recv": kind = .recv
        case "http": kind = .http
        default: throw formatError(line, number, "unknown record type \"\(recordType)\"")
        }
        // Connection id by name; a second connect on a used name is a reconnect: a new id.
        var id: UInt32
        if let known = named[name], !(kind == .connect && namedUsed.contains(known)) {
            id = known
        } else {
            id = nextConn
            nextConn += 1
            named[name] = id
            connectionNames.append((name, id))
        }
        namedUsed.insert(id)
        if kind == .send, let addr = value["addr"]?.stringValue, !sendAddresses.contains(where: { $0.0 == name }) {
            // Where each connection sent its requests (the capture's send records carry no URL).
            sendAddresses.append((name, .string(addr)))
            sink.metadata.removeAll { $0.0 == "cryptofeed_send_addr" }
            sink.metadata.append(("cryptofeed_send_addr", .object(sendAddresses)))
        }
        var aux: [UInt8] = []
        if kind == .connect { aux = Array((value["addr"]?.stringValue ?? "").utf8) }
        if kind == .http { aux = Array((value["url"]?.stringValue ?? "").utf8) }
        var payload: [UInt8] = []
        var binary = false
        if let b64 = value["b64"]?.stringValue {
            guard let bytes = Base64.decode(b64) else { throw formatError(line, number, "\"b64\" is not base64") }
            payload = bytes
            binary = true
        } else if let data = value["data"] {
            switch data {
            case let .string(text): payload = Array(text.utf8)
            case .null: break
            default: payload = Array(data.serialized().utf8)  // an object logged as JSON
            }
        }
        try sink.append(OwnedRecord(kind: kind, timestamp: ts, connection: id, isBinary: binary, url: aux, payload: payload))
    }
}
