import NIOCore
import Testing

@testable import K2Net

/// Frames encoded once for `--rate max`: each header form (7-bit, 16-bit and 64-bit length),
/// read back with the parser the client side uses.
struct EncodedFramesTests {
    @Test func everyLengthFormReadsBack() {
        let payloads: [[UInt8]] = [
            [], Array("hi".utf8), Array(repeating: 0x41, count: 125), Array(repeating: 0x42, count: 126),
            Array(repeating: 0x43, count: 65_535), Array(repeating: 0x44, count: 65_536),
        ]
        let frames = EncodedFrames(capacity: 16, frames: 2)
        for (i, payload) in payloads.enumerated() { payload.withUnsafeBytes { frames.append($0, binary: i == 1) } }
        #expect(frames.count == payloads.count)
        for (i, payload) in payloads.enumerated() {
            frames.withPayload(i) { #expect(Array($0) == payload) }
        }
        let all = frames.slice(0..<frames.count)
        #expect(all.readableBytes == frames.byteCount)
        all.withUnsafeReadableBytes { bytes in
            var offset = 0
            for (i, payload) in payloads.enumerated() {
                guard case let .frame(header) = WebSocketFrameHeader.parse(bytes, at: offset, maxMessageSize: 1 << 20) else {
                    Issue.record("frame \(i) does not parse")
                    return
                }
                #expect(header.fin && header.opcode == (i == 1 ? 2 : 1) && header.maskAt == nil)
                #expect(header.headerBytes == (payload.count < 126 ? 2 : payload.count <= 65_535 ? 4 : 10))
                let start = offset + header.headerBytes
                #expect(Array(bytes[start..<(start + header.payloadBytes)]) == payload)
                offset = start + header.payloadBytes
            }
            #expect(offset == bytes.count)
        }
    }
}
