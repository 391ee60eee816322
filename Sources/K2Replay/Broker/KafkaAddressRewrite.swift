/// The two Kafka responses that carry broker addresses — Metadata (API key 3) and
/// FindCoordinator (API key 10) — rewritten so that clients connect to other addresses than the
/// ones the brokers advertise. `BrokerProxy` uses it to give librdkafka's mock cluster (which
/// listens and advertises on 127.0.0.1 only) an address on another interface.
///
/// Only the non-flexible versions are parsed (Metadata v0–v8, FindCoordinator v0–v2: int16
/// string lengths, no tagged fields); the mock cluster of librdkafka 2.0 offers Metadata v0–v2
/// and FindCoordinator v0–v2, so a client never negotiates a flexible one. A response of another
/// version, or one that does not parse, is left as it is.
enum KafkaAddressRewrite {
    static let metadata: Int16 = 3
    static let findCoordinator: Int16 = 10

    /// Whether responses to requests of `apiKey` at `version` carry broker addresses this rewrites.
    static func rewrites(apiKey: Int16, version: Int16) -> Bool {
        (apiKey == metadata && (0...8).contains(version)) || (apiKey == findCoordinator && (0...2).contains(version))
    }

    /// A broker's address as a response carries it.
    struct Address: Hashable, Sendable {
        var host: String
        var port: Int32
    }

    /// `frame`: one response without its 4-byte size (correlation id first). Returns the
    /// rewritten frame (addresses found in `map` replaced), or nil when nothing changed.
    static func rewrite(response frame: [UInt8], apiKey: Int16, version: Int16, map: [Address: Address]) -> [UInt8]? {
        guard rewrites(apiKey: apiKey, version: version) else { return nil }
        var reader = Reader(bytes: frame, offset: 4)  // after the correlation id
        var out: [UInt8] = []
        out.reserveCapacity(frame.count + 64)
        var changed = false

        /// Copies what the reader passed since `from`, then the node's (possibly new) host and port.
        func address(copyFrom from: Int) -> Bool {
            out.append(contentsOf: frame[from..<reader.offset])
            guard let host = reader.string(), let port = reader.int32() else { return false }
            var address = Address(host: host, port: port)
            if let new = map[address] {
                address = new
                changed = true
            }
            Writer.string(address.host, to: &out)
            Writer.int32(address.port, to: &out)
            return true
        }

        if apiKey == metadata {
            if version >= 3 { guard reader.skip(4) else { return nil } }  // throttle_time_ms
            guard let brokers = reader.int32(), brokers >= 0 else { return nil }
            var copied = 0
            for _ in 0..<brokers {
                guard reader.skip(4) else { return nil }  // node_id
                guard address(copyFrom: copied) else { return nil }
                copied = reader.offset
                if version >= 1 { guard reader.nullableString() else { return nil } }  // rack
            }
            out.append(contentsOf: frame[copied...])
        } else {
            if version >= 1 {
                guard reader.skip(4 + 2), reader.nullableString() else { return nil }  // throttle, error code, message
            } else {
                guard reader.skip(2) else { return nil }  // error code
            }
            guard reader.skip(4) else { return nil }  // node_id
            guard address(copyFrom: 0) else { return nil }
            out.append(contentsOf: frame[reader.offset...])
        }
        return changed ? out : nil
    }

    /// Big-endian reads over a response, failing (nil/false) past its end.
    struct Reader {
        let bytes: [UInt8]
        var offset: Int

        mutating func skip(_ count: Int) -> Bool {
            guard offset + count <= bytes.count else { return false }
            offset += count
            return true
        }

        mutating func int16() -> Int16? {
            guard offset + 2 <= bytes.count else { return nil }
            defer { offset += 2 }
            return Int16(bitPattern: UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]))
        }

        mutating func int32() -> Int32? {
            guard offset + 4 <= bytes.count else { return nil }
            defer { offset += 4 }
            var value: UInt32 = 0
            for index in 0..<4 { value = value << 8 | UInt32(bytes[offset + index]) }
            return Int32(bitPattern: value)
        }

        mutating func string() -> String? {
            guard let length = int16(), length >= 0, offset + Int(length) <= bytes.count else { return nil }
            defer { offset += Int(length) }
            return String(decoding: bytes[offset..<offset + Int(length)], as: UTF8.self)
        }

        /// Skips a nullable string (length -1 = null).
        mutating func nullableString() -> Bool {
            guard let length = int16() else { return false }
            return length < 0 || skip(Int(length))
        }
    }

    enum Writer {
        static func int16(_ value: Int16, to out: inout [UInt8]) {
            let bits = UInt16(bitPattern: value)
            out.append(UInt8(bits >> 8))
            out.append(UInt8(bits & 0xFF))
        }

        static func int32(_ value: Int32, to out: inout [UInt8]) {
            let bits = UInt32(bitPattern: value)
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((bits >> UInt32(shift)) & 0xFF)) }
        }

        static func string(_ value: String, to out: inout [UInt8]) {
            let utf8 = Array(value.utf8)
            int16(Int16(utf8.count), to: &out)
            out.append(contentsOf: utf8)
        }
    }
}
