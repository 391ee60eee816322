import K2Capture
import K2Core

/// Bytes of a text field: a view into the payload (no copy) or an owned string.
enum FieldText {
    case view(UnsafeRawBufferPointer)
    case string(String)

    var count: Int {
        switch self {
        case .view(let b): return b.count
        case .string(let s): return s.utf8.count
        }
    }
    func append(to w: inout RowBinary) {
        switch self {
        case .view(let b): w.raw(b)
        case .string(let s): w.raw(s)
        }
    }
    var text: String {
        switch self {
        case .view(let b): return String(decoding: b, as: UTF8.self)
        case .string(let s): return s
        }
    }
}

/// One trade in the MarketDataV2 shape.
struct TradeRow {
    enum Side { case buy, sell, unknown }
    var symbol: FieldText
    var timestampMillis: UInt64
    var price: Double
    var quantity: Double
    var side: Side
    var tradeID: FieldText
}

/// Finds the trades in a venue message: Binance `trade`/`aggTrade` (raw or combined stream),
/// Kraken v1 `trade` arrays (several trades per frame), Coinbase `market_trades` events.
/// Binance (the bulk of traffic) is scanned in place without allocating.
enum TradeParser {
    static let kP: [UInt8] = Array("\"p\":".utf8)
    static let kQ: [UInt8] = Array("\"q\":".utf8)
    static let kT: [UInt8] = Array("\"T\":".utf8)
    static let kE: [UInt8] = Array("\"E\":".utf8)
    static let kt: [UInt8] = Array("\"t\":".utf8)
    static let ka: [UInt8] = Array("\"a\":".utf8)
    static let km: [UInt8] = Array("\"m\":".utf8)
    static let kData: [UInt8] = Array("\"data\":".utf8)

    /// Calls `row` for each trade in the message; returns how many.
    @discardableResult
    static func parse(_ payload: UnsafeRawBufferPointer, fields: PayloadFields, row: (TradeRow) -> Void) -> Int {
        guard let event = fields.event else { return 0 }
        if bytesEqual(event, "trade") || bytesEqual(event, "aggTrade") {
            if let first = payload.first(where: { $0 != 32 }), first == UInt8(ascii: "[") {
                return parseKraken(payload, row: row)
            }
            return parseBinance(payload, fields: fields, aggregate: event.count == 8, row: row) ? 1 : 0
        }
        if bytesEqual(event, "market_trades") { return parseCoinbase(payload, row: row) }
        return 0
    }

    static func bytesEqual(_ b: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        guard b.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for i in 0..<b.count where b[i] != p[i] { return false }
        return true
    }

    static func parseBinance(_ p: UnsafeRawBufferPointer, fields: PayloadFields, aggregate: Bool, row: (TradeRow) -> Void) -> Bool {
        let from = PayloadFields.find(p, kData) ?? 0
        guard let symbol = fields.symbol,
              let price = stringAfter(p, kP, from: from).flatMap(decimal),
              let qty = stringAfter(p, kQ, from: from).flatMap(decimal) else { return false }
        guard let ts = PayloadFields.intValue(p, key: kT, from: from) ?? PayloadFields.intValue(p, key: kE, from: from) else { return false }
        let idStart = PayloadFields.find(p, aggregate ? ka : kt, from: from)
        var idView = UnsafeRawBufferPointer(start: nil, count: 0)
        if var i = idStart {
            while i < p.count, p[i] == 32 { i += 1 }
            var j = i
            while j < p.count, p[j] >= 48, p[j] <= 57 { j += 1 }
            idView = UnsafeRawBufferPointer(rebasing: p[i..<j])
        }
        var side = TradeRow.Side.unknown
        if var i = PayloadFields.find(p, km, from: from) {
            while i < p.count, p[i] == 32 { i += 1 }
            // m = buyer is the maker → the taker sold.
            if i < p.count { side = p[i] == UInt8(ascii: "t") ? .sell : .buy }
        }
        row(TradeRow(symbol: .view(symbol), timestampMillis: UInt64(max(0, ts)), price: price, quantity: qty,
                     side: side, tradeID: .view(idView)))
        return true
    }

    /// `[chanID, [["price","volume","time","side","orderType","misc"], …], "trade", "PAIR"]`
    static func parseKraken(_ p: UnsafeRawBufferPointer, row: (TradeRow) -> Void) -> Int {
        guard let v = try? JSONParser.parse(p), let a = v.arrayValue, a.count >= 4,
              let trades = a[1].arrayValue, let pair = a[a.count - 1].stringValue else { return 0 }
        var n = 0
        for (i, t) in trades.enumerated() {
            guard let f = t.arrayValue, f.count >= 4, let price = f[0].doubleValue, let qty = f[1].doubleValue,
                  let timeText = f[2].stringValue ?? f[2].numberText, let secs = Double(timeText) else { continue }
            let side: TradeRow.Side = f[3].stringValue == "b" ? .buy : f[3].stringValue == "s" ? .sell : .unknown
            let micros = timeText.filter { $0 != "." }
            row(TradeRow(symbol: .string(pair), timestampMillis: UInt64((secs * 1000).rounded(.down)), price: price,
                         quantity: qty, side: side, tradeID: .string(trades.count > 1 ? "\(micros)-\(i)" : micros)))
            n += 1
        }
        return n
    }

    /// `{"channel":"market_trades","events":[{"trades":[{"trade_id","product_id","price","size","side","time"}]}]}`
    static func parseCoinbase(_ p: UnsafeRawBufferPointer, row: (TradeRow) -> Void) -> Int {
        guard let v = try? JSONParser.parse(p), let events = v["events"]?.arrayValue else { return 0 }
        var n = 0
        for e in events {
            for t in e["trades"]?.arrayValue ?? [] {
                guard let sym = t["product_id"]?.stringValue, let price = t["price"]?.doubleValue,
                      let qty = t["size"]?.doubleValue, let time = t["time"]?.stringValue,
                      let nanos = TimeText.parseISO8601(time) else { continue }
                let s = t["side"]?.stringValue?.lowercased()
                row(TradeRow(symbol: .string(sym), timestampMillis: UInt64(max(0, nanos / 1_000_000)), price: price,
                             quantity: qty, side: s == "buy" ? .buy : s == "sell" ? .sell : .unknown,
                             tradeID: .string(t["trade_id"]?.stringValue ?? t["trade_id"]?.numberText ?? "")))
                n += 1
            }
        }
        return n
    }

    @inline(__always)
    static func stringAfter(_ p: UnsafeRawBufferPointer, _ key: [UInt8], from: Int) -> UnsafeRawBufferPointer? {
        guard var i = PayloadFields.find(p, key, from: from) else { return nil }
        while i < p.count, p[i] == 32 { i += 1 }
        guard i < p.count else { return nil }
        if p[i] == 34 {
            var j = i + 1
            while j < p.count, p[j] != 34 { j += 1 }
            return j < p.count ? UnsafeRawBufferPointer(rebasing: p[(i + 1)..<j]) : nil
        }
        var j = i
        while j < p.count, p[j] != 44, p[j] != 125, p[j] != 93 { j += 1 }
        return UnsafeRawBufferPointer(rebasing: p[i..<j])
    }

    /// Parses `123.456` exactly as strtod would when it has ≤ 15 significant digits and a small
    /// exponent (the fast path of correctly rounded decimal conversion); falls back to Double(String).
    @inline(__always)
    static func decimal(_ b: UnsafeRawBufferPointer) -> Double? {
        var mant: UInt64 = 0
        var digits = 0
        var frac = 0
        var seenDot = false
        var neg = false
        var i = 0
        if i < b.count, b[i] == 45 { neg = true; i += 1 }
        guard i < b.count else { return nil }
        while i < b.count {
            let c = b[i]
            if c >= 48, c <= 57 {
                if mant == 0, c == 48 { if seenDot { frac += 1 } ; i += 1; continue }
                if digits >= 15 { return Double(String(decoding: b, as: UTF8.self)) }
                mant = mant * 10 + UInt64(c - 48)
                digits += 1
                if seenDot { frac += 1 }
            } else if c == 46, !seenDot {
                seenDot = true
            } else {
                return Double(String(decoding: b, as: UTF8.self))
            }
            i += 1
        }
        // Trailing zeros after the dot add no precision.
        while frac > 0, mant != 0, mant % 10 == 0 { mant /= 10; frac -= 1 }
        guard frac <= 22 else { return Double(String(decoding: b, as: UTF8.self)) }
        let v = Double(mant) / pow10[frac]
        return neg ? -v : v
    }

    static let pow10: [Double] = (0...22).map { e in var x = 1.0; for _ in 0..<e { x *= 10 }; return x }
}
