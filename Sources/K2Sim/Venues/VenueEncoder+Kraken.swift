import K2Capture
import K2Core

/// Kraken WebSocket v1: trade and book messages (array-shaped, with channel ids), the book
/// snapshot and its CRC32 checksum.
extension VenueEncoder {
    @inline(__always)
    func kprice(_ v: Int64, _ s: Int, _ out: inout [UInt8]) {
        out.append(34)
        DecimalText.append(v, scale: 8, digits: max(5, tickDecimals[s]), to: &out)
        out.append(34)
    }

    @inline(__always)
    func kvol(_ v: Int64, _ out: inout [UInt8]) {
        out.append(34)
        DecimalText.append(v, scale: 8, digits: 8, to: &out)
        out.append(34)
    }

    /// `"1534614057.321597"`: seconds with 6 decimals.
    @inline(__always)
    private func ktime(_ nanos: Int64, _ out: inout [UInt8]) {
        out.append(34)
        DecimalText.append(nanos / 1000, scale: 6, digits: 6, to: &out)
        out.append(34)
    }

    /// Written through a `RawWriter` like Coinbase (see `coinbase`).
    mutating func kraken(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ out: inout [UInt8]) {
        let items = kind == .depth ? m.bidChanges.count + m.askChanges.count : m.trades.count
        // Head and tail ≤ 100 bytes + name; a trade ≤ 100, a level ≤ 80; the checksum ≤ 20.
        let bound = 160 + names[s].count + items * 112
        writeRaw(bound: bound, &out) { e, w in e.krakenMessage(kind, s, m, nanos, &w) }
    }

    private mutating func krakenMessage(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ w: inout RawWriter) {
        let pd = max(5, tickDecimals[s])
        w.byte(91)
        switch kind {
        case .trade, .aggTrade:
            w.int(Self.krakenChannelID(symbol: s, book: false))
            w.lit(",[")
            for i in 0..<m.trades.count {
                let trade = m.trades[i]
                if i > 0 { w.byte(44) }
                w.lit(#"[""#)
                w.decimal(trade.price, scale: 8, digits: pd)
                w.lit(#"",""#)
                w.decimal(trade.qty, scale: 8, digits: 8)
                w.lit(#"",""#)
                w.decimal((nanos + Int64(i) * 1000) / 1000, scale: 6, digits: 6)
                // side of the taker: "b" buy, "s" sell; order type "m" market / "l" limit; misc "".
                if m.buyerIsMaker { w.lit(#"","s","m",""]"#) } else { w.lit(#"","b","m",""]"#) }
            }
            w.lit(#"],"trade",""#)
        case .depth:
            w.int(Self.krakenChannelID(symbol: s, book: true))
            // Asks and bids come as separate objects when both sides changed; the CRC32 of the
            // top 10 levels after the update goes into the last object as "c".
            var time: (UnsafeMutablePointer<UInt8>, Int)?
            if !m.askChanges.isEmpty {
                w.lit(#",{"a":"#)
                krakenLevels(m.askChanges, pd, nanos, &time, &w)
                if m.bidChanges.isEmpty { krakenChecksumMember(s, m, &w) }
                w.byte(125)
            }
            if !m.bidChanges.isEmpty {
                w.lit(#",{"b":"#)
                krakenLevels(m.bidChanges, pd, nanos, &time, &w)
                krakenChecksumMember(s, m, &w)
                w.byte(125)
            }
            w.lit(#","book-"#)
            w.int(Int64(krakenBookDepth))
            w.lit(#"",""#)
        }
        w.bytes(names[s])
        w.lit(#""]"#)
    }

    /// `[["price","volume","time"],…]`; every level of one update has the same time, written
    /// once and then copied (`time` remembers where).
    @inline(__always)
    private func krakenLevels(
        _ levels: [SimLevel], _ pd: Int, _ nanos: Int64, _ time: inout (UnsafeMutablePointer<UInt8>, Int)?, _ w: inout RawWriter
    ) {
        w.byte(91)
        for i in 0..<levels.count {
            let level = levels[i]
            if i > 0 { w.byte(44) }
            w.lit(#"[""#)
            w.decimal(level.price, scale: 8, digits: pd)
            w.lit(#"",""#)
            w.decimal(level.qty, scale: 8, digits: 8)
            w.lit(#"",""#)
            if let (timeStart, timeLength) = time {
                w.cursor.update(from: timeStart, count: timeLength)
                w.cursor += timeLength
            } else {
                let start = w.cursor
                w.decimal(nanos / 1000, scale: 6, digits: 6)
                time = (start, w.cursor - start)
            }
            w.lit(#""]"#)
        }
        w.byte(93)
    }

    /// `,"c":"974947235"`: Kraken's book checksum of the model's book now.
    @inline(__always)
    private mutating func krakenChecksumMember(_ s: Int, _ m: MarketModel, _ w: inout RawWriter) {
        w.lit(#","c":""#)
        w.uint(UInt64(krakenChecksum(symbol: s, model: m)))
        w.byte(34)
    }

    /// Kraken's v1 book checksum (docs.kraken.com, "Spot Websockets (v1) Book Checksum"): CRC32
    /// of the top 10 asks (low to high) then the top 10 bids (high to low), each level as its
    /// price and volume text as sent, with the '.' removed and leading zeros stripped. The text
    /// of a fixed-decimal number without dot and leading zeros is its mantissa at that many
    /// decimals in plain decimal, so it is written from the integers directly.
    ///
    /// Most levels are unchanged from one update to the next but move between positions, so
    /// each level's text is cached by price: 64 entries per symbol, indexed by (price / level
    /// step) mod 64 — the 20 levels of the top 10 are consecutive grid prices, so they never
    /// collide. An entry is 64 bytes: price, quantity, text length, text.
    package mutating func krakenChecksum(symbol s: Int, model m: MarketModel) -> UInt32 {
        let topLevels = min(10, m.bookDepth)
        let pd = max(5, tickDecimals[s])
        let step = m.levelStep(s)
        if checksumCache.count < m.symbolCount * 64 * 64 { checksumCache = [UInt8](repeating: 0, count: m.symbolCount * 64 * 64) }
        // 20 levels × 2 numbers × ≤ 20 digits.
        if checksumText.count < 1024 { checksumText = [UInt8](repeating: 0, count: 1024) }
        return checksumCache.withUnsafeMutableBytes { cache -> UInt32 in
            let entries = cache.baseAddress! + s * 64 * 64
            return checksumText.withUnsafeMutableBufferPointer { textBuffer -> UInt32 in
                let base = textBuffer.baseAddress!
                var writer = RawWriter(base)
                for side in 0..<2 {
                    for i in 0..<topLevels {
                        let level = m.level(s, bid: side == 1, i)
                        if level.qty <= 0 { continue }
                        let entry = entries + Int((level.price / step) & 63) * 64
                        let text = (entry + 17).assumingMemoryBound(to: UInt8.self)
                        if entry.load(as: Int64.self) == level.price && entry.load(fromByteOffset: 8, as: Int64.self) == level.qty {
                            let len = Int(entry.load(fromByteOffset: 16, as: UInt8.self))
                            writer.cursor.update(from: text, count: len)
                            writer.cursor += len
                        } else {
                            let start = writer.cursor
                            let scaledPrice = pd <= 8 ? level.price / DecimalText.pow10[8 - pd] : level.price * DecimalText.pow10[pd - 8]
                            if scaledPrice > 0 { writer.uint(UInt64(scaledPrice)) }  // all zeros strip to nothing
                            writer.uint(UInt64(level.qty))
                            let len = writer.cursor - start
                            entry.storeBytes(of: level.price, as: Int64.self)
                            entry.storeBytes(of: level.qty, toByteOffset: 8, as: Int64.self)
                            entry.storeBytes(of: UInt8(len), toByteOffset: 16, as: UInt8.self)
                            text.update(from: start, count: len)
                        }
                    }
                }
                return CRC32.checksum(UnsafeRawBufferPointer(start: base, count: writer.cursor - base))
            }
        }
    }

    /// The checksum of a book given as the text Kraken sends (asks low to high, bids high to
    /// low; only the first 10 of each count): what a client computes.
    package static func krakenChecksum(asks: [(price: String, volume: String)], bids: [(price: String, volume: String)]) -> UInt32 {
        var text: [UInt8] = []
        for side in [asks, bids] {
            for level in side.prefix(10) {
                for field in [level.price, level.volume] {
                    let digits = field.utf8.filter { $0 != 46 }
                    text.append(contentsOf: digits.drop { $0 == 48 })
                }
            }
        }
        return CRC32.checksum(text)
    }

    private func krakenSnapshotLevels(_ levels: [SimLevel], _ s: Int, _ nanos: Int64, _ out: inout [UInt8]) {
        out.append(91)
        for (i, level) in levels.enumerated() {
            if i > 0 { out.append(44) }
            out.append(91)
            kprice(level.price, s, &out)
            out.append(44)
            kvol(level.qty, &out)
            out.append(44)
            ktime(nanos, &out)
            out.append(93)
        }
        out.append(93)
    }

    /// Kraken v1 book snapshot sent after a book subscription:
    /// `[channelID,{"as":[[price,volume,time],…],"bs":[…]},"book-25","XBT/USD"]`.
    package func krakenBookSnapshot(model: MarketModel, symbol s: Int, nanos: Int64) -> [UInt8] {
        let book = model.book(s, levels: krakenBookDepth)
        var out: [UInt8] = [91]
        DecimalText.appendInt(Self.krakenChannelID(symbol: s, book: true), to: &out)
        lit(#",{"as":"#, &out)
        krakenSnapshotLevels(book.asks, s, nanos, &out)
        lit(#","bs":"#, &out)
        krakenSnapshotLevels(book.bids, s, nanos, &out)
        lit(#"},"book-"#, &out)
        DecimalText.appendInt(Int64(krakenBookDepth), to: &out)
        lit(#"",""#, &out)
        out.append(contentsOf: names[s])
        lit(#""]"#, &out)
        return out
    }
}
