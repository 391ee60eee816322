import K2Capture

/// Detects sequence gaps live, per stream, without allocating per message:
/// Binance depth updates (`U` must be the previous `u` + 1), Binance trade ids (`t`) and
/// aggregate trade ids (`a`), Coinbase's per-connection `sequence_num`.
public struct GapDetector {
    public struct Gap: Sendable, Equatable {
        public var stream: String
        public var field: String
        public var expected: Int64
        public var got: Int64
    }

    private var last: [UInt64: Int64] = [:]
    public private(set) var gaps = 0

    public init() {}

    /// Forgets every stream (after a reconnect the sequences restart).
    public mutating func reset() { last.removeAll(keepingCapacity: true) }

    static let kU = Array("\"U\":".utf8), ku = Array("\"u\":".utf8), kt = Array("\"t\":".utf8), ka = Array("\"a\":".utf8)
    static let kSeq = Array("\"sequence_num\":".utf8)

    /// Checks one message; returns the gap it reveals, if any.
    public mutating func check(_ venue: Venue?, _ p: UnsafeRawBufferPointer) -> Gap? {
        switch venue {
        case .binance:
            let f = PayloadFields.extract(p)
            guard let ev = f.event, ev.count >= 5 else { return nil }
            let key = hash(f.stream ?? f.symbol, ev)
            if ev.count == 11, ev[0] == UInt8(ascii: "d") {    // depthUpdate
                guard let first = PayloadFields.intValue(p, key: Self.kU), let lastId = PayloadFields.intValue(p, key: Self.ku) else { return nil }
                return advance(key, first: first, last: lastId, f, "U")
            }
            if ev.count == 5, ev[0] == UInt8(ascii: "t") {      // trade
                guard let t = PayloadFields.intValue(p, key: Self.kt) else { return nil }
                return advance(key, first: t, last: t, f, "t")
            }
            if ev.count == 8, ev[0] == UInt8(ascii: "a") {      // aggTrade
                guard let a = PayloadFields.intValue(p, key: Self.ka) else { return nil }
                return advance(key, first: a, last: a, f, "a")
            }
            return nil
        case .coinbase:
            guard let s = PayloadFields.intValue(p, key: Self.kSeq) else { return nil }
            return advance(0, first: s, last: s, PayloadFields(), "sequence_num")
        default:
            return nil
        }
    }

    private mutating func advance(_ key: UInt64, first: Int64, last lastId: Int64, _ f: PayloadFields, _ field: String) -> Gap? {
        defer { last[key] = lastId }
        guard let prev = last[key] else { return nil }
        if first != prev + 1 {
            gaps += 1
            return Gap(stream: f.streamString ?? f.symbolString ?? "", field: field, expected: prev + 1, got: first)
        }
        return nil
    }

    private func hash(_ a: UnsafeRawBufferPointer?, _ b: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        if let a { for x in a { h = (h ^ UInt64(x)) &* 0x100_0000_01B3 } }
        h = (h ^ 0xFF) &* 0x100_0000_01B3
        for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01B3 }
        return h
    }
}
