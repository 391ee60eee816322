/// One WebSocket frame header (RFC 6455 §5.2) read from raw bytes, without NIO: the pure part
/// of `WebSocketHandler`'s frame parsing, apart so that it can be fuzzed on its own
/// (Fuzz/WebSocketFrameFuzz.swift) and tested without a socket.
struct WebSocketFrameHeader: Equatable {
    var fin: Bool
    var opcode: UInt8
    /// Offset of the 4-byte mask key from the frame's start, when the frame is masked.
    var maskAt: Int?
    /// Bytes of header (with the mask key) before the payload.
    var headerBytes: Int
    var payloadBytes: Int

    enum Outcome: Equatable {
        /// A whole frame (header and payload) is in the bytes.
        case frame(WebSocketFrameHeader)
        /// More bytes are needed: at least `missing` more, and adding exactly that many reads no byte
        /// past this frame (while the header is cut short, the header's missing bytes; then the
        /// payload's).
        case incomplete(missing: Int)
        /// The peer broke the protocol: close with `code`, saying `reason`.
        case violation(code: UInt16, reason: String)
    }

    /// Reads the header of the frame starting at `offset` of `bytes`; frames longer than
    /// `maxMessageSize` are violations (1009).
    static func parse(_ bytes: UnsafeRawBufferPointer, at offset: Int, maxMessageSize: Int) -> Outcome {
        let available = bytes.count - offset
        guard offset >= 0 else { return .incomplete(missing: 2) }
        guard available >= 2 else { return .incomplete(missing: 2 - available) }
        let b0 = bytes[offset], b1 = bytes[offset + 1]
        var length = Int(b1 & 0x7F)
        var header = 2
        if length == 126 {
            guard available >= 4 else { return .incomplete(missing: 4 - available) }
            length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            header = 4
        } else if length == 127 {
            guard available >= 10 else { return .incomplete(missing: 10 - available) }
            var long: UInt64 = 0
            for i in 0..<8 { long = long << 8 | UInt64(bytes[offset + 2 + i]) }
            guard long <= UInt64(max(0, maxMessageSize)) else {
                return .violation(code: CloseCode.messageTooBig, reason: "frame of \(long) bytes exceeds the \(maxMessageSize)-byte limit")
            }
            length = Int(long)
            header = 10
        }
        if b0 & 0x70 != 0 {
            return .violation(code: CloseCode.protocolError, reason: "reserved bits set (extensions are not negotiated)")
        }
        if length > maxMessageSize {
            return .violation(code: CloseCode.messageTooBig, reason: "frame of \(length) bytes exceeds the \(maxMessageSize)-byte limit")
        }
        let masked = b1 & 0x80 != 0
        let maskAt = masked ? header : nil
        if masked { header += 4 }
        guard available >= header else { return .incomplete(missing: header - available) }
        guard available - header >= length else { return .incomplete(missing: length - (available - header)) }
        return .frame(WebSocketFrameHeader(fin: b0 & 0x80 != 0, opcode: b0 & 0x0F, maskAt: maskAt, headerBytes: header, payloadBytes: length))
    }

    /// Writes the unmasked payload of this masked frame, which starts at `offset` of `bytes`, to
    /// `destination` (at least `payloadBytes` long). The received bytes stay as they are: the
    /// socket's buffer is read, never written, so NIO never copies it.
    func unmask(_ bytes: UnsafeRawBufferPointer, frameAt offset: Int, into destination: UnsafeMutableRawBufferPointer) {
        guard let maskAt else { return }
        let key = (bytes[offset + maskAt], bytes[offset + maskAt + 1], bytes[offset + maskAt + 2], bytes[offset + maskAt + 3])
        let start = offset + headerBytes
        precondition(destination.count >= payloadBytes, "unmask: destination shorter than the payload")
        for i in 0..<payloadBytes {
            let maskByte: UInt8
            switch i & 3 {
            case 0: maskByte = key.0
            case 1: maskByte = key.1
            case 2: maskByte = key.2
            default: maskByte = key.3
            }
            destination[i] = bytes[start + i] ^ maskByte
        }
    }
}

/// Close codes of RFC 6455 §7.4.1 used here.
package enum CloseCode {
    package static let normal: UInt16 = 1000
    package static let goingAway: UInt16 = 1001
    package static let protocolError: UInt16 = 1002
    static let unsupportedData: UInt16 = 1003
    static let noStatus: UInt16 = 1005
    static let abnormal: UInt16 = 1006
    static let invalidPayload: UInt16 = 1007
    static let policyViolation: UInt16 = 1008
    package static let messageTooBig: UInt16 = 1009
    static let internalError: UInt16 = 1011
}
