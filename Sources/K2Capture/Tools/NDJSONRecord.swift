import K2Core

/// The NDJSON form of a record, as `k2 capture cat` prints it and `capture import --format ndjson`
/// reads it: `{"kind":"recv","ts_ns":…,"conn":0,"data":"…"}`, with `"url"` for connect and http
/// records and `"encoding":"base64"` when the payload is binary or not valid UTF-8.
package enum NDJSONRecord {
    private static let kindKey: [UInt8] = Array("{\"kind\":\"".utf8)
    private static let tsKey: [UInt8] = Array("\",\"ts_ns\":".utf8)
    private static let connKey: [UInt8] = Array(",\"conn\":".utf8)
    private static let urlKey: [UInt8] = Array(",\"url\":".utf8)
    private static let b64Key: [UInt8] = Array(",\"encoding\":\"base64\",\"data\":\"".utf8)
    private static let dataKey: [UInt8] = Array(",\"data\":".utf8)
    private static let names: [[UInt8]] = (0...255).map { Array(RecordKind(rawValue: UInt8($0)).name.utf8) }

    /// Appends one line (with its newline) for `r`.
    @inline(__always)
    package static func append(_ r: CaptureRecord, to out: inout [UInt8]) {
        out.append(contentsOf: kindKey)
        out.append(contentsOf: names[Int(r.kind.rawValue)])
        out.append(contentsOf: tsKey)
        JSONText.appendInt(r.timestamp, to: &out)
        out.append(contentsOf: connKey)
        JSONText.appendInt(Int64(r.connection), to: &out)
        if !r.aux.isEmpty {
            out.append(contentsOf: urlKey)
            if !JSONText.appendString(r.aux, to: &out) {
                JSONText.appendString(String(decoding: r.aux, as: UTF8.self), to: &out)
            }
        }
        if r.isBinary {
            appendBase64(r.payload, &out)
        } else {
            let mark = out.count
            out.append(contentsOf: dataKey)
            if !JSONText.appendString(r.payload, to: &out) {
                out.removeSubrange(mark...)
                appendBase64(r.payload, &out)
            }
        }
        out.append(125)
        out.append(10)
    }

    private static func appendBase64(_ p: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
        out.append(contentsOf: b64Key)
        Base64.encode(p, to: &out)
        out.append(34)
    }

    /// Parses one NDJSON line back into a record. `isBinary` is true for base64 payloads.
    package static func parse(_ line: UnsafeRawBufferPointer) throws(CoreError) -> OwnedRecord {
        let value = try JSONParser.parse(line)
        guard case .object = value else { throw CoreError.invalidJSON(offset: 0, reason: "a record must be a JSON object") }
        guard let kname = value["kind"]?.stringValue, let kind = RecordKind(name: kname) else {
            throw CoreError.invalidJSON(offset: 0, reason: "missing or unknown \"kind\" (connect, send, recv, disconnect, http, marker)")
        }
        guard let ts = value["ts_ns"]?.numberText.flatMap({ Int64($0) }) else {
            throw CoreError.invalidJSON(offset: 0, reason: "missing \"ts_ns\" integer (nanoseconds since the epoch)")
        }
        let connText = value["conn"]?.numberText ?? "0"
        guard let conn = UInt32(connText) else { throw CoreError.invalidJSON(offset: 0, reason: "\"conn\" must be a non-negative integer") }
        let url = value["url"]?.stringValue ?? ""
        guard let data = value["data"]?.stringValue else { throw CoreError.invalidJSON(offset: 0, reason: "missing \"data\" string") }
        if let enc = value["encoding"]?.stringValue {
            guard enc == "base64", let bytes = Base64.decode(data) else {
                throw CoreError.invalidJSON(offset: 0, reason: "\"encoding\" must be \"base64\" with valid base64 data")
            }
            return OwnedRecord(kind: kind, timestamp: ts, connection: conn, isBinary: true, url: Array(url.utf8), payload: bytes)
        }
        return OwnedRecord(kind: kind, timestamp: ts, connection: conn, isBinary: false, url: Array(url.utf8), payload: Array(data.utf8))
    }
}
