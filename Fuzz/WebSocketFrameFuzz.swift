// libFuzzer target for the WebSocket frame header parser (K2Net's WebSocketFrameHeader, the
// NIO-free part of WebSocketHandler's frame parsing; compiled into this executable with it).
// The first byte picks the message size limit; the rest is parsed frame after frame as the
// handler does. Checks, besides crashes: a frame never reaches past the bytes or the limit,
// and unmasking twice gives the bytes back. Built and run by scripts/fuzz.sh.
let limits = [0, 125, 65_535, 1 << 20, 64 << 20, Int.max]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebSocketFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let limit = limits[Int(data[0]) % limits.count]
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let original = bytes
    bytes.withUnsafeMutableBytes { p in
        var offset = 0
        while true {
            switch WebSocketFrameHeader.parse(UnsafeRawBufferPointer(p), at: offset, maxMessageSize: limit) {
            case .incomplete:
                return
            case let .violation(code, reason):
                precondition(code == CloseCode.protocolError || code == CloseCode.messageTooBig, "close code \(code)")
                precondition(!reason.isEmpty)
                return
            case let .frame(header):
                precondition(header.payloadBytes >= 0 && header.payloadBytes <= limit, "a payload over the limit")
                precondition(header.headerBytes >= 2 && header.headerBytes <= 14, "a header of \(header.headerBytes) bytes")
                precondition(p.count - offset - header.headerBytes >= header.payloadBytes, "a frame past the bytes")
                header.unmask(p, frameAt: offset)
                header.unmask(p, frameAt: offset)
                let start = offset + header.headerBytes
                precondition(
                    p[start..<(start + header.payloadBytes)].elementsEqual(original[start..<(start + header.payloadBytes)]),
                    "unmasking twice changed the payload")
                header.unmask(p, frameAt: offset)
                offset = start + header.payloadBytes
            }
        }
    }
    return 0
}
