import K2Capture

/// Checks venue sequences live, per stream, without allocating per message:
/// Binance depth updates (`U` must be the previous `u` + 1), Binance trade ids (`t`) and
/// aggregate trade ids (`a`), Coinbase's per-connection `sequence_num`. Tells three findings
/// apart: a gap (ids skipped), a duplicate (the stream's previous ids again) and a malformed
/// frame (not one whole JSON value: no sequence is read out of it). The hole a malformed frame
/// leaves in its stream is its own, not a gap: the next message of that stream may skip the
/// ids the broken frame carried (one id on single-id streams; any on depth updates, whose
/// `U`..`u` range is unknown), and the first stream to jump on the connection takes the hole of
/// a malformed frame whose stream cannot be told.
package struct GapDetector {
    package struct Gap: Sendable, Equatable {
        package var stream: String
        package var field: String
        package var expected: Int64
        package var got: Int64
    }

    package enum Finding: Sendable, Equatable {
        case gap(Gap)
        /// The same ids as the stream's previous message (`id` = its first).
        case duplicate(stream: String, field: String, id: Int64)
        /// A text frame that is not one whole JSON object or array; `stream` when its start names one.
        case malformed(stream: String, bytes: Int)
    }

    private struct StreamState {
        var first: Int64
        var last: Int64
        /// A malformed frame of this stream came since its last message: its next may skip ids.
        var afterMalformed = false
    }

    private var streams: [UInt64: StreamState] = [:]
    /// Malformed frames whose stream could not be told, whose holes are not yet accounted for.
    private var unattributedMalformed = 0
    package private(set) var gaps = 0
    package private(set) var duplicates = 0
    package private(set) var malformed = 0

    package init() {}

    /// Forgets every stream (after a reconnect the sequences restart).
    package mutating func reset() {
        streams.removeAll(keepingCapacity: true)
        unattributedMalformed = 0
    }

    static let kU = Array("\"U\":".utf8), ku = Array("\"u\":".utf8), kt = Array("\"t\":".utf8), ka = Array("\"a\":".utf8)
    static let kSeq = Array("\"sequence_num\":".utf8)

    /// Checks one text message of `venue` (nil: nothing is checked); returns what it reveals, if anything.
    package mutating func check(_ venue: Venue?, _ p: UnsafeRawBufferPointer) -> Finding? {
        guard let venue else { return nil }
        guard PayloadFields.isWholeJSON(p) else { return noteMalformed(venue, p) }
        switch venue {
        case .binance:
            let fields = PayloadFields.extract(p)
            guard let ev = fields.event, ev.count >= 5 else { return nil }
            let key = hash(fields.stream ?? fields.symbol, ev)
            // Binance puts the ids right after the symbol: look there first, then from the start.
            let afterSymbol = fields.symbol.map { PayloadFields.end(of: $0, in: p) } ?? 0
            let id = { (key: [UInt8]) in PayloadFields.intValue(p, key: key, from: afterSymbol) ?? PayloadFields.intValue(p, key: key) }
            if ev.count == 11, ev[0] == UInt8(ascii: "d") {  // depthUpdate
                guard let first = id(Self.kU), let lastId = id(Self.ku) else { return nil }
                return advance(key, first: first, last: lastId, fields, "U")
            }
            if ev.count == 5, ev[0] == UInt8(ascii: "t") {  // trade
                guard let tradeID = id(Self.kt) else { return nil }
                return advance(key, first: tradeID, last: tradeID, fields, "t")
            }
            if ev.count == 8, ev[0] == UInt8(ascii: "a") {  // aggTrade
                guard let aggregateID = id(Self.ka) else { return nil }
                return advance(key, first: aggregateID, last: aggregateID, fields, "a")
            }
            return nil
        case .coinbase:
            guard let sequence = PayloadFields.intValue(p, key: Self.kSeq) else { return nil }
            return advance(0, first: sequence, last: sequence, PayloadFields(), "sequence_num")
        case .kraken:
            return nil
        }
    }

    /// Counts a malformed frame and marks its stream (named by the strings at its start, never
    /// by a number read out of it), so the hole it leaves is not taken for a gap.
    private mutating func noteMalformed(_ venue: Venue, _ p: UnsafeRawBufferPointer) -> Finding {
        malformed += 1
        var stream = ""
        switch venue {
        case .binance:
            let fields = PayloadFields.extract(p)
            if let ev = fields.event, fields.stream != nil || fields.symbol != nil {
                // A stream not seen yet has no sequence to break: its next message starts it.
                streams[hash(fields.stream ?? fields.symbol, ev)]?.afterMalformed = true
            } else {
                unattributedMalformed += 1
            }
            stream = fields.streamString ?? fields.symbolString ?? ""
        case .coinbase:
            streams[0]?.afterMalformed = true  // one sequence per connection
        case .kraken:
            break
        }
        return .malformed(stream: stream, bytes: p.count)
    }

    private mutating func advance(_ key: UInt64, first: Int64, last lastId: Int64, _ f: PayloadFields, _ field: String) -> Finding? {
        guard let slot = streams.index(forKey: key) else {
            streams[key] = StreamState(first: first, last: lastId)
            return nil
        }
        let prev = streams.values[slot]
        let name = { f.streamString ?? f.symbolString ?? "" }
        if first == prev.first && lastId == prev.last {
            duplicates += 1
            streams.values[slot].afterMalformed = false
            return .duplicate(stream: name(), field: field, id: first)
        }
        streams.values[slot] = StreamState(first: first, last: lastId)
        guard first != prev.last &+ 1 else { return nil }
        if first > prev.last, field == "U" || first == prev.last &+ 2 {
            // A hole the size of one message: the malformed frame's, if one came on this stream.
            if prev.afterMalformed { return nil }
            if unattributedMalformed > 0 {
                unattributedMalformed -= 1
                return nil
            }
        }
        gaps += 1
        return .gap(Gap(stream: name(), field: field, expected: prev.last &+ 1, got: first))
    }

    /// A stream's key: FNV-1a's xor-and-multiply over eight-byte words (the last one
    /// zero-padded), folding the high half down after each, with each part's length mixed in
    /// first, so `a` + `b` never hashes as another split of the same bytes.
    private func hash(_ a: UnsafeRawBufferPointer?, _ b: UnsafeRawBufferPointer) -> UInt64 {
        var digest: UInt64 = 0xCBF2_9CE4_8422_2325
        if let a { digest = Self.mix(digest, a) }
        return Self.mix((digest ^ 0xFF) &* Self.prime, b)
    }

    private static let prime: UInt64 = 0x100_0000_01B3

    @inline(__always)
    private static func mix(_ seed: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var digest = (seed ^ UInt64(bytes.count)) &* prime
        guard let base = bytes.baseAddress else { return digest }
        var at = 0
        while bytes.count - at >= 8 {
            digest = (digest ^ base.loadUnaligned(fromByteOffset: at, as: UInt64.self)) &* prime
            digest ^= digest >> 32
            at += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while at < bytes.count {
            tail |= UInt64(base.load(fromByteOffset: at, as: UInt8.self)) << shift
            shift += 8
            at += 1
        }
        digest = (digest ^ tail) &* prime
        return digest ^ digest >> 32
    }
}
