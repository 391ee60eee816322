/// SHA-1, only for the WebSocket handshake's `Sec-WebSocket-Accept` (RFC 6455 §4.2.2).
enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h0: UInt32 = 0x6745_2301, h1: UInt32 = 0xEFCD_AB89, h2: UInt32 = 0x98BA_DCFE
        var h3: UInt32 = 0x1032_5476, h4: UInt32 = 0xC3D2_E1F0
        var padded = message
        let bitLength = UInt64(message.count) * 8
        padded.append(0x80)
        while padded.count % 64 != 56 { padded.append(0) }
        for i in (0..<8).reversed() { padded.append(UInt8((bitLength >> (UInt64(i) * 8)) & 0xFF)) }
        var schedule = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: padded.count, by: 64) {
            for i in 0..<16 {
                let offset = chunk + i * 4
                schedule[i] =
                    UInt32(padded[offset]) << 24 | UInt32(padded[offset + 1]) << 16 | UInt32(padded[offset + 2]) << 8 | UInt32(padded[offset + 3])
            }
            for i in 16..<80 {
                let mixed = schedule[i - 3] ^ schedule[i - 8] ^ schedule[i - 14] ^ schedule[i - 16]
                schedule[i] = (mixed << 1) | (mixed >> 31)
            }
            var wordA = h0, wordB = h1, wordC = h2, wordD = h3, wordE = h4
            for i in 0..<80 {
                let mix: UInt32, constant: UInt32
                switch i {
                case 0..<20: mix = (wordB & wordC) | (~wordB & wordD); constant = 0x5A82_7999
                case 20..<40: mix = wordB ^ wordC ^ wordD; constant = 0x6ED9_EBA1
                case 40..<60: mix = (wordB & wordC) | (wordB & wordD) | (wordC & wordD); constant = 0x8F1B_BCDC
                default: mix = wordB ^ wordC ^ wordD; constant = 0xCA62_C1D6
                }
                let temp = ((wordA << 5) | (wordA >> 27)) &+ mix &+ wordE &+ constant &+ schedule[i]
                wordE = wordD; wordD = wordC; wordC = (wordB << 30) | (wordB >> 2); wordB = wordA; wordA = temp
            }
            h0 = h0 &+ wordA; h1 = h1 &+ wordB; h2 = h2 &+ wordC; h3 = h3 &+ wordD; h4 = h4 &+ wordE
        }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for word in [h0, h1, h2, h3, h4] {
            out.append(UInt8(word >> 24)); out.append(UInt8((word >> 16) & 0xFF))
            out.append(UInt8((word >> 8) & 0xFF)); out.append(UInt8(word & 0xFF))
        }
        return out
    }
}
