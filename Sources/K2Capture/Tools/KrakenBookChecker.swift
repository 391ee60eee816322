import K2Core

/// Kraken v1 book checksums, checked as a client does: every (connection, pair) book is rebuilt
/// from its snapshot (`{"as":…,"bs":…}`) and updates (`{"a":…}`, `{"b":…}`: volume 0 deletes a
/// level; the book is then cut to the subscribed depth, `book-N`), and each update's `"c"` is
/// compared with the CRC-32 (K2Core's) of the top 10 asks (low to high) then the top 10 bids
/// (high to low), each level as its price then its volume text with the '.' removed and leading
/// zeros stripped (docs.kraken.com, "Spot Websockets (v1) Book Checksum").
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
        var asks: [Level] = []   // low to high
        var bids: [Level] = []   // high to low
        var depth: Int
        var valid = true
    }

    static let marker: [UInt8] = Array("\"book-".utf8)
    var check = CaptureInspection.SequenceCheck(
        name: "kraken_book_checksum",
        rule: "Kraken v1 book: \"c\" = CRC-32 of the top 10 asks and bids rebuilt from the snapshot and updates")
    private var books: [String: Book] = [:]
    let listed: Int

    init(listed: Int) { self.listed = listed }

    mutating func consume(_ record: CaptureRecord) {
        let payload = record.payload
        guard payload.first == 91, PayloadFields.find(payload, Self.marker) != nil,
              let items = (try? JSONParser.parse(payload))?.arrayValue, items.count >= 4,
              let channel = items[items.count - 2].stringValue, channel.hasPrefix("book-"),
              let depth = Int(channel.dropFirst(5)), depth > 0,
              let pair = items[items.count - 1].stringValue else { return }
        let key = "\(record.connection) \(pair)"
        let parts = items[1..<(items.count - 2)]
        if parts.contains(where: { $0["as"] != nil || $0["bs"] != nil }) {
            if books[key] == nil { check.symbols += 1 }
            var book = Book(depth: depth)
            for part in parts {
                Self.apply(part["as"]?.arrayValue ?? [], to: &book.asks, ascending: true)
                Self.apply(part["bs"]?.arrayValue ?? [], to: &book.bids, ascending: false)
            }
            book.truncate()
            books[key] = book
            return
        }
        guard var book = books[key], book.valid else { return }
        var stated: UInt32?
        for part in parts {
            Self.apply(part["a"]?.arrayValue ?? [], to: &book.asks, ascending: true)
            Self.apply(part["b"]?.arrayValue ?? [], to: &book.bids, ascending: false)
            if let text = part["c"]?.stringValue, let value = UInt32(text) { stated = value }
        }
        book.truncate()
        if let stated {
            check.messages += 1
            let computed = book.checksum
            if computed != stated {
                check.gaps += 1
                book.valid = false
                if check.first.count < listed {
                    check.first.append(.init(symbol: pair, timestamp: record.timestamp, connection: record.connection,
                                             previous: Int64(computed), next: Int64(stated)))
                }
            }
        }
        books[key] = book
    }

    /// Applies `[price, volume, time, …]` levels to one side kept in price order.
    static func apply(_ levels: [JSONValue], to side: inout [Level], ascending: Bool) {
        for level in levels {
            guard let fields = level.arrayValue, fields.count >= 2,
                  let priceText = fields[0].stringValue, let volumeText = fields[1].stringValue,
                  let price = Double(priceText), let volume = Double(volumeText) else { continue }
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
