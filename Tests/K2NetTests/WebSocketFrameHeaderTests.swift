import Testing

@testable import K2Net

/// The NIO-free frame header parser WebSocketHandler uses (and Fuzz/WebSocketFrameFuzz.swift fuzzes).
struct WebSocketFrameHeaderTests {
    func parse(_ bytes: [UInt8], limit: Int = 1 << 20) -> WebSocketFrameHeader.Outcome {
        bytes.withUnsafeBytes { WebSocketFrameHeader.parse($0, at: 0, maxMessageSize: limit) }
    }

    @Test func headersOfEachLengthFormAndMask() {
        #expect(parse([0x81, 0x05] + Array("hello".utf8)) == .frame(.init(fin: true, opcode: 1, maskAt: nil, headerBytes: 2, payloadBytes: 5)))
        #expect(parse([0x01, 0x03, 1, 2]) == .incomplete(missing: 1))
        #expect(
            parse([0x82, 0x7E, 0x00, 0x80] + Array(repeating: 0, count: 128))
                == .frame(.init(fin: true, opcode: 2, maskAt: nil, headerBytes: 4, payloadBytes: 128)))
        #expect(parse([0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 1, 9]) == .frame(.init(fin: true, opcode: 2, maskAt: nil, headerBytes: 10, payloadBytes: 1)))
        #expect(parse([0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0]) == .incomplete(missing: 1))
        // A masked frame ("Hello" of RFC 6455 §5.7) unmasks into another buffer; the frame stays as received.
        let masked: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        guard case let .frame(header) = parse(masked) else { Issue.record("not a frame"); return }
        #expect(header.maskAt == 2 && header.headerBytes == 6 && header.payloadBytes == 5)
        var payload = [UInt8](repeating: 0, count: 5)
        masked.withUnsafeBytes { frame in payload.withUnsafeMutableBytes { header.unmask(frame, frameAt: 0, into: $0) } }
        #expect(String(decoding: payload, as: UTF8.self) == "Hello")
        #expect(masked[6] == 0x7F)
    }

    @Test func violationsAreCloseCodesNotTraps() {
        #expect(parse([0xC1, 0x00]) == .violation(code: CloseCode.protocolError, reason: "reserved bits set (extensions are not negotiated)"))
        #expect(
            parse([0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
                == .violation(code: CloseCode.messageTooBig, reason: "frame of 18446744073709551615 bytes exceeds the 1048576-byte limit"))
        #expect(
            parse([0x82, 0x7E, 0x01, 0x00], limit: 255)
                == .violation(code: CloseCode.messageTooBig, reason: "frame of 256 bytes exceeds the 255-byte limit"))
        // No limit at all: a length near Int.max is incomplete, not an overflow.
        #expect(parse([0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4], limit: .max) == .incomplete(missing: .max))
    }
}
