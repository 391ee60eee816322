/// Standard base64 (RFC 4648, with padding) into and out of byte buffers.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, symbol) in alphabet.enumerated() { table[Int(symbol)] = UInt8(i) }
        return table
    }()

    public static func encode(_ src: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        var offset = 0
        let count = src.count
        while offset + 3 <= count {
            let triple = UInt32(src[offset]) << 16 | UInt32(src[offset + 1]) << 8 | UInt32(src[offset + 2])
            out.append(alphabet[Int(triple >> 18 & 63)]); out.append(alphabet[Int(triple >> 12 & 63)])
            out.append(alphabet[Int(triple >> 6 & 63)]); out.append(alphabet[Int(triple & 63)])
            offset += 3
        }
        if count - offset == 1 {
            let triple = UInt32(src[offset]) << 16
            out.append(alphabet[Int(triple >> 18 & 63)]); out.append(alphabet[Int(triple >> 12 & 63)])
            out.append(61); out.append(61)
        } else if count - offset == 2 {
            let triple = UInt32(src[offset]) << 16 | UInt32(src[offset + 1]) << 8
            out.append(alphabet[Int(triple >> 18 & 63)]); out.append(alphabet[Int(triple >> 12 & 63)])
            out.append(alphabet[Int(triple >> 6 & 63)]); out.append(61)
        }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        bytes.withUnsafeBytes { encode($0, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base64 (padding optional); nil on any character outside the alphabet.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            if byte == 61 { break }
            let sextet = reverse[Int(byte)]
            if sextet == 0xFF { return nil }
            acc = acc << 6 | UInt32(sextet)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }
}
