import CRdKafka
import K2Core

/// A librdkafka configuration built from `key=value` properties (as `kcat -X` takes them).
/// Owns the `rd_kafka_conf_t` until a client takes it.
final class KafkaConf {
    private(set) var handle: OpaquePointer?

    /// Applies `properties` in order; the first one librdkafka rejects is reported as
    /// `bad -X property 'k=v': <librdkafka's message>`.
    init(_ properties: [(String, String)] = [], place: String = "") throws {
        handle = rd_kafka_conf_new()
        for (key, value) in properties { try set(key, value, place: place) }
    }

    func set(_ key: String, _ value: String, place: String = "") throws {
        var err = [CChar](repeating: 0, count: 512)
        let status = rd_kafka_conf_set(handle, key, value, &err, err.count)
        if status != RD_KAFKA_CONF_OK {
            let msg = cText(err)
            throw ReplayError(
                .invalidArgument, place: place, what: Secrets.mask("bad -X property '\(key)=\(value)': \(msg)"),
                remedy: "see librdkafka's CONFIGURATION.md for valid names and values")
        }
    }

    func get(_ key: String) -> String? {
        var size = 0
        guard rd_kafka_conf_get(handle, key, nil, &size) == RD_KAFKA_CONF_OK, size > 0 else { return nil }
        var buf = [CChar](repeating: 0, count: size)
        guard rd_kafka_conf_get(handle, key, &buf, &size) == RD_KAFKA_CONF_OK else { return nil }
        return cText(buf)
    }

    /// Hands the configuration to `rd_kafka_new` (which owns it on success).
    func take() -> OpaquePointer? {
        defer { handle = nil }
        return handle
    }

    deinit {
        if let confHandle = handle { rd_kafka_conf_destroy(confHandle) }
    }

    /// Parses `key=value` (splitting at the first `=`).
    static func parse(_ text: String, place: String = "") throws -> (String, String) {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw ReplayError(
                .invalidArgument, place: place, what: Secrets.mask("bad -X property '\(text)': expected key=value"),
                remedy: "write it as -X key=value, e.g. -X linger.ms=5")
        }
        return (String(text[..<eq]), String(text[text.index(after: eq)...]))
    }
}

/// librdkafka's name for an error code.
func kafkaErrorString(_ code: rd_kafka_resp_err_t) -> String {
    String(cString: rd_kafka_err2str(code))
}

/// A NUL-terminated C buffer as a String.
func cText(_ buf: [CChar]) -> String {
    buf.withUnsafeBufferPointer { $0.baseAddress.map { String(cString: $0) } ?? "" }
}
