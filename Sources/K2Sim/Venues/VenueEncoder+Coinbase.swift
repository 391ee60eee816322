import K2Capture
import K2Core

/// Coinbase Advanced Trade: `market_trades` and `level2` messages (through a `RawWriter`) and
/// the `level2` snapshot.
extension VenueEncoder {
    /// Coinbase messages are the longest (about 440 bytes): written through a `RawWriter`.
    mutating func coinbase(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ out: inout [UInt8]) {
        let name = names[s].count
        let items = kind == .depth ? m.bidChanges.count + m.askChanges.count : m.trades.count
        // Head ≤ 160 bytes; a trade ≤ 190 + name, a level ≤ 150 (40-digit numbers at most).
        writeRaw(bound: 256 + name + items * (200 + name), &out) { e, w in e.coinbaseMessage(kind, s, m, nanos, &w) }
    }

    private mutating func coinbaseMessage(_ kind: MarketEventKind, _ s: Int, _ m: MarketModel, _ nanos: Int64, _ w: inout RawWriter) {
        let td = tickDecimals[s]
        switch kind {
        case .trade, .aggTrade:
            w.lit(#"{"channel":"market_trades","client_id":"","timestamp":""#)
            coinbaseHeadTail(nanos, &w)
            w.lit(#"{"type":"update","trades":["#)
            for i in 0..<m.trades.count {
                let trade = m.trades[i]
                if i > 0 { w.byte(44) }
                w.lit(#"{"trade_id":""#)
                w.int(trade.id)
                w.lit(#"","product_id":""#)
                w.bytes(names[s])
                w.lit(#"","price":""#)
                w.decimal(trade.price, scale: 8, digits: td)
                w.lit(#"","size":""#)
                w.decimal(trade.qty, scale: 8, digits: 8, trim: true)
                // The maker's side: a sell-initiated trade filled a resting BUY order.
                if m.buyerIsMaker { w.lit(#"","side":"BUY","time":""#) } else { w.lit(#"","side":"SELL","time":""#) }
                w.stamp(nanos - 200_000, fractionDigits: 6, cache: &stamps)
                w.lit(#""}"#)
            }
            w.lit("]}]}")
        case .depth:
            w.lit(#"{"channel":"l2_data","client_id":"","timestamp":""#)
            coinbaseHeadTail(nanos, &w)
            w.lit(#"{"type":"update","product_id":""#)
            w.bytes(names[s])
            w.lit(#"","updates":["#)
            // Every level of one update carries the same event_time: write it once, copy it.
            var first = true
            var stampStart: UnsafeMutablePointer<UInt8>?
            var stampCount = 0
            let nb = m.bidChanges.count
            for k in 0..<(nb + m.askChanges.count) {
                let bid = k < nb
                let level = bid ? m.bidChanges[k] : m.askChanges[k - nb]
                if !first { w.byte(44) }
                first = false
                if bid { w.lit(#"{"side":"bid","event_time":""#) } else { w.lit(#"{"side":"offer","event_time":""#) }
                if let st = stampStart {
                    w.cursor.update(from: st, count: stampCount)
                    w.cursor += stampCount
                } else {
                    stampStart = w.cursor
                    w.stamp(nanos - 300_000, fractionDigits: 6, cache: &stamps)
                    stampCount = w.cursor - stampStart!
                }
                w.lit(#"","price_level":""#)
                w.decimal(level.price, scale: 8, digits: td)
                w.lit(#"","new_quantity":""#)
                w.decimal(level.qty, scale: 8, digits: 8, trim: true)
                w.lit(#""}"#)
            }
            w.lit("]}]}")
        }
    }

    /// The `l2_data` snapshot Coinbase sends first after a `level2` subscription: the whole book
    /// of `symbol` now, bids high to low then offers low to high, each level with the
    /// `event_time` the venue gives snapshot levels (`1970-01-01T00:00:00Z`):
    /// `{"channel":"l2_data","client_id":"","timestamp":"…","sequence_num":N,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[…]}]}`.
    package func coinbaseBookSnapshot(model: MarketModel, symbol s: Int, nanos: Int64, sequence: Int64) -> [UInt8] {
        let book = model.book(s, levels: nil)
        let td = tickDecimals[s]
        var out: [UInt8] = []
        out.reserveCapacity(200 + 110 * (book.bids.count + book.asks.count))
        lit(#"{"channel":"l2_data","client_id":"","timestamp":""#, &out)
        StampText.appendRFC3339(nanos: nanos, to: &out)
        lit(#"","sequence_num":"#, &out)
        DecimalText.appendInt(sequence, to: &out)
        lit(#","events":[{"type":"snapshot","product_id":""#, &out)
        out.append(contentsOf: names[s])
        lit(#"","updates":["#, &out)
        var first = true
        for (side, levels) in [("bid", book.bids), ("offer", book.asks)] {
            for level in levels {
                if !first { out.append(44) }
                first = false
                out.append(contentsOf: #"{"side":"\#(side)","event_time":"1970-01-01T00:00:00Z","price_level":""#.utf8)
                DecimalText.append(level.price, scale: 8, digits: td, to: &out)
                lit(#"","new_quantity":""#, &out)
                DecimalText.append(level.qty, scale: 8, digits: 8, trim: true, to: &out)
                lit(#""}"#, &out)
            }
        }
        lit("]}]}", &out)
        return out
    }

    /// `<timestamp>","sequence_num":N,"events":[` after the channel head.
    @inline(__always)
    private mutating func coinbaseHeadTail(_ nanos: Int64, _ w: inout RawWriter) {
        w.stamp(nanos, fractionDigits: 9, cache: &stamps)
        w.lit(#"","sequence_num":"#)
        w.int(coinbaseSequence)
        coinbaseSequence += 1
        w.lit(#","events":["#)
    }
}
