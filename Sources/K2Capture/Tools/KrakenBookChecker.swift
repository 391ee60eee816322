import K2Core

/// Kraken v1 book checksums, checked as a client does: every (connection, pair) book is rebuilt
/// from its snapshot (`{"as":…,"bs":…}`) and updates (`{"a":…}`, `{"b":…}`: volume 0 deletes a
/// level; the book is then cut to the subscribed depth, `book-N`), and each update's `"c"` is
/// compared with the CRC-32 (K2Core's) of the top 10 asks (low to high) then the top 10 bids
/// (high to low), each level as its price then its volume text with the '.' removed and leading
/// zeros stripped (docs.kraken.com, "Spot Websockets (v1) Book Checksum").
///
/// Kraken v2 books (`{"channel":"book","type":"snapshot"|"update","data":[{"symbol","bids":[{"price","qty"}],
/// "asks":[…],"checksum"}]}`) the same way ("Spot Websockets (v2) Book Checksum": the same CRC-32
/// over the top 10 levels, `price` and `qty` as the JSON numbers on the wire — full precision —
/// without the '.' and leading zeros), the snapshot's checksum included; the book is cut to the
/// depth the connection's subscribe ack named (`"result":{"channel":"book","depth":N,…}`), else
/// to max(10, the snapshot's levels).
///
/// A mismatch means a message before it was lost or damaged: it counts as a gap, and that book
/// is not checked again until its next snapshot (one loss, one report).
struct KrakenBookChecker {
    /// One price level: its price for ordering, and its checksum text.
    struct Level {
        var price: Double
        var text: [UInt8]
    }

    struct Book {
        var asks: [Level] = []  // low to high
        var bids: [Level] = []  // high to low
        var depth: Int
        var valid = true
    }

    static let marker: [UInt8] = Array("\"book-".utf8)
    static let v2Marker: [UInt8] = Array("\"channel\":\"book\"".utf8)
    static let v2AckMarker: [UInt8] = Array("\"method\":\"subscribe\"".utf8)
    /// v2: the depth each (connection, symbol) book was subscribed with, from its ack.
    private var v2Depths: [String: Int] = [:]
    var check = CaptureInspection.SequenceCheck(
        name: "kraken_book_checksum",
        rule: "Kraken book: v1 \"c\", v2 \"checksum\" = CRC-32 of the top 10 asks and bids rebuilt from the snapshot and updates")
    private var books: [String: Book] = [:]
    let listed: Int

    init(listed: Int) { self.listed = listed }

    mutating func consume(_ record: CaptureRecord) {
        let payload = record.payload
        if payload.first == UInt8(ascii: "{") {
            consumeV2(record)
            return
        }
        guard payload.first == 91, PayloadFields.find(payload, Self.marker) != nil,
            let items = (try? JSONParser.parse(payload))?.arrayValue, items.count >= 4,
            let channel = items[items.count - 2].stringValue, channel.hasPrefix("book-"),
            let depth = Int(channel.dropFirst(5)), depth > 0,
            let pair = items[items.count - 1].stringValue
        else { return }
        let key = "\(record.connection) \(pair)"
        let parts = items[1..<(items.count - 2)]
        if parts.contains(where: { $0["as"] != nil || $0["bs"] != nil }) {
            if books[key] == nil { check.symbols += 1 }
            var book = Book(depth: depth)
            for part in parts {
                Self.apply(Self.v1Levels(part["as"]), to: &book.asks, ascending: true)
                Self.apply(Self.v1Levels(part["bs"]), to: &book.bids, ascending: false)
            }
            book.truncate()
            books[key] = book
            return
        }
        guard var book = books[key], book.valid else { return }
        var stated: UInt32?
        for part in parts {
            Self.apply(Self.v1Levels(part["a"]), to: &book.asks, ascending: true)
            Self.apply(Self.v1Levels(part["b"]), to: &book.bids, ascending: false)
            if let text = part["c"]?.stringValue, let value = UInt32(text) { stated = value }
        }
        book.truncate()
        if let stated { compare(&book, stated: stated, symbol: pair, record: record) }
        books[key] = book
    }

    /// Kraken v2: a book subscribe ack (its depth), a snapshot (a new book, checked) or an update.
    private mutating func consumeV2(_ record: CaptureRecord) {
        let payload = record.payload
        let isBook = PayloadFields.find(payload, Self.v2Marker) != nil
        guard isBook || PayloadFields.find(payload, Self.v2AckMarker) != nil, let message = try? JSONParser.parse(payload) else { return }
        if !isBook {
            if let result = message["result"], result["channel"]?.stringValue == "book", let symbol = result["symbol"]?.stringValue,
                let depth = result["depth"]?.int64Value, depth > 0
            {
                v2Depths["\(record.connection) \(symbol)"] = Int(depth)
            }
            return
        }
        let type = message["type"]?.stringValue
        guard type == "snapshot" || type == "update", let data = message["data"]?.arrayValue else { return }
        for entry in data {
            guard let symbol = entry["symbol"]?.stringValue else { continue }
            let key = "\(record.connection) \(symbol)"
            let asks = Self.v2Levels(entry["asks"]), bids = Self.v2Levels(entry["bids"])
            var book: Book
            if type == "snapshot" {
                if books[key] == nil { check.symbols += 1 }
                book = Book(depth: v2Depths[key] ?? max(10, asks.count, bids.count))
            } else {
                guard let existing = books[key], existing.valid else { continue }
                book = existing
            }
            Self.apply(asks, to: &book.asks, ascending: true)
            Self.apply(bids, to: &book.bids, ascending: false)
            book.truncate()
            if let stated = entry["checksum"]?.int64Value, let value = UInt32(exactly: stated) {
                compare(&book, stated: value, symbol: symbol, record: record)
            }
            books[key] = book
        }
    }

    /// Counts one checksum and, when the rebuilt book does not give it, one gap (the book is
    /// then not checked until its next snapshot).
    private mutating func compare(_ book: inout Book, stated: UInt32, symbol: String, record: CaptureRecord) {
        check.messages += 1
        let computed = book.checksum
        guard computed != stated else { return }
        check.gaps += 1
        book.valid = false
        if check.first.count < listed {
            check.first.append(
                .init(
                    symbol: symbol, timestamp: record.timestamp, connection: record.connection,
                    previous: Int64(computed), next: Int64(stated)))
        }
    }

    /// v1 levels `[price, volume, time, …]` (strings) as (price, volume) texts.
    static func v1Levels(_ value: JSONValue?) -> [(price: String, volume: String)] {
        (value?.arrayValue ?? []).compactMap { level in
            guard let fields = level.arrayValue, fields.count >= 2, let price = fields[0].stringValue, let volume = fields[1].stringValue else {
                return nil
            }
            return (price, volume)
        }
    }

    /// v2 levels `{"price":45283.5,"qty":0.10000000}` (numbers as sent, or strings) as (price, volume) texts.
    static func v2Levels(_ value: JSONValue?) -> [(price: String, volume: String)] {
        (value?.arrayValue ?? []).compactMap { level in
            guard let price = level["price"].flatMap({ $0.numberText ?? $0.stringValue }),
                let volume = level["qty"].flatMap({ $0.numberText ?? $0.stringValue })
            else { return nil }
            return (price, volume)
        }
    }

    /// Applies (price, volume) levels to one side kept in price order: volume 0 deletes.
    static func apply(_ levels: [(price: String, volume: String)], to side: inout [Level], ascending: Bool) {
        for (priceText, volumeText) in levels {
            guard let price = Double(priceText), let volume = Double(volumeText) else { continue }
            // Binary search for the price's place.
            var low = 0, high = side.count
            while low < high {
                let mid = (low + high) / 2
                if ascending ? side[mid].price < price : side[mid].price > price { low = mid + 1 } else { high = mid }
            }
            let present = low < side.count && side[low].price == price
            if volume == 0 {
                if present { side.remove(at: low) }
                continue
            }
            let text = stripped(priceText) + stripped(volumeText)
            if present { side[low].text = text } else { side.insert(Level(price: price, text: text), at: low) }
        }
    }

    /// The text without its '.' and leading zeros.
    static func stripped(_ text: String) -> [UInt8] {
        Array(text.utf8.filter { $0 != 46 }.drop { $0 == 48 })
    }

    func result() -> CaptureInspection.SequenceCheck { check }
}

extension KrakenBookChecker.Book {
    mutating func truncate() {
        if asks.count > depth { asks.removeLast(asks.count - depth) }
        if bids.count > depth { bids.removeLast(bids.count - depth) }
    }

    var checksum: UInt32 {
        var text: [UInt8] = []
        for level in asks.prefix(10) { text += level.text }
        for level in bids.prefix(10) { text += level.text }
        return CRC32.checksum(text)
    }
}
