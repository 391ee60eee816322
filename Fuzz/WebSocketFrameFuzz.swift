// libFuzzer target for the WebSocket frame header parser (K2Net's WebSocketFrameHeader, the
// NIO-free part of WebSocketHandler's frame parsing; compiled into this executable with it).
// The first byte picks the message size limit; the rest is parsed frame after frame as the
// handler does. Checks, besides crashes: a frame never reaches past the bytes or the limit, the
// bytes an incomplete frame asks for never reach into the next, and unmasking twice gives the
// bytes back. Built and run by scripts/fuzz.sh.
let limits = [0, 125, 65_535, 1 << 20, 64 << 20, Int.max]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebSocketFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let limit = limits[Int(data[0]) % limits.count]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    bytes.withUnsafeBytes { p in
        var offset = 0
        while true {
            switch WebSocketFrameHeader.parse(p, at: offset, maxMessageSize: limit) {
            case let .incomplete(missing):
                precondition(missing >= 1, "incomplete, missing \(missing) bytes")
                // The bytes it asks for never reach into the next frame.
                if missing <= 1 << 16 {
                    let extended = Array(p[offset...]) + [UInt8](repeating: 0, count: missing)
                    if case let .frame(h) = extended.withUnsafeBytes({ WebSocketFrameHeader.parse($0, at: 0, maxMessageSize: limit) }) {
                        precondition(h.headerBytes + h.payloadBytes == extended.count, "asked for bytes past the frame")
                    }
                }
                return
            case let .violation(code, reason):
                precondition(code == CloseCode.protocolError || code == CloseCode.messageTooBig, "close code \(code)")
                precondition(!reason.isEmpty)
                return
            case let .frame(header):
                precondition(header.payloadBytes >= 0 && header.payloadBytes <= limit, "a payload over the limit")
                precondition(header.headerBytes >= 2 && header.headerBytes <= 14, "a header of \(header.headerBytes) bytes")
                precondition(p.count - offset - header.headerBytes >= header.payloadBytes, "a frame past the bytes")
                let start = offset + header.headerBytes
                if header.maskAt != nil {
                    // Unmasking the unmasked payload, under the same header, gives the bytes back.
                    var once = [UInt8](repeating: 0, count: header.payloadBytes)
                    once.withUnsafeMutableBytes { header.unmask(p, frameAt: offset, into: $0) }
                    let frame = Array(p[offset..<start]) + once
                    var twice = [UInt8](repeating: 0, count: header.payloadBytes)
                    frame.withUnsafeBytes { f in twice.withUnsafeMutableBytes { header.unmask(f, frameAt: 0, into: $0) } }
                    precondition(twice.elementsEqual(p[start..<(start + header.payloadBytes)]), "unmasking twice changed the payload")
                }
                offset = start + header.payloadBytes
            }
        }
    }
    return 0
}
