import K2Core
import Testing

@testable import K2Sim

/// Kraken v1 book checksums (`"c"` on book updates), against Kraken's documented example and
/// against a client that rebuilds the book from the snapshot and the updates.
@Suite struct KrakenChecksumTests {
    /// The example book of Kraken's "Spot Websockets (v1) Book Checksum" guide, whose checksum
    /// the guide gives as 974947235.
    @Test func documentedExample() {
        let asks = ["0.05005", "0.05010", "0.05015", "0.05020", "0.05025", "0.05030", "0.05035", "0.05040", "0.05045", "0.05050"]
        let bids = ["0.05000", "0.04995", "0.04990", "0.04980", "0.04975", "0.04970", "0.04965", "0.04960", "0.04955", "0.04950"]
        let checksum = VenueEncoder.krakenChecksum(asks: asks.map { ($0, "0.00000500") }, bids: bids.map { ($0, "0.00000500") })
        #expect(checksum == 974_947_235)
    }

    /// A client's book: price text → volume text, kept to `depth` levels per side.
    struct ClientBook {
        var asks: [String: String] = [:]
        var bids: [String: String] = [:]
        let depth: Int

        mutating func apply(_ levels: [JSONValue], bid: Bool) {
            for level in levels {
                let fields = level.arrayValue!
                let price = fields[0].stringValue!, volume = fields[1].stringValue!
                if Double(volume)! == 0 {
                    if bid { bids[price] = nil } else { asks[price] = nil }
                } else {
                    if bid { bids[price] = volume } else { asks[price] = volume }
                }
            }
            // Truncate to the subscribed depth, as Kraken asks clients to.
            let askLevels = sortedAsks, bidLevels = sortedBids
            if askLevels.count > depth { for (p, _) in askLevels[depth...] { asks[p] = nil } }
            if bidLevels.count > depth { for (p, _) in bidLevels[depth...] { bids[p] = nil } }
        }

        var sortedAsks: [(price: String, volume: String)] { asks.sorted { Double($0.key)! < Double($1.key)! }.map { ($0.key, $0.value) } }
        var sortedBids: [(price: String, volume: String)] { bids.sorted { Double($0.key)! > Double($1.key)! }.map { ($0.key, $0.value) } }
        var checksum: UInt32 { VenueEncoder.krakenChecksum(asks: sortedAsks, bids: sortedBids) }
    }

    @Test(arguments: [25, 10])
    func everyUpdateCarriesTheChecksumOfTheClientsBook(depth: Int) throws {
        var profile = SimProfile.constant(rate: 10_000, duration: 2_000_000_000, venue: .kraken, seed: 5)
        profile.market.symbols = 3
        profile.krakenBookDepth = depth
        var feed = LiveFeed(profile: profile, venue: .kraken)
        var books: [Int: ClientBook] = [:]
        for s in 0..<3 {
            let snap = try JSONParser.parse(feed.krakenBookSnapshot(symbol: s, nanos: profile.startNanos)).arrayValue![1]
            var book = ClientBook(depth: depth)
            book.apply(snap["as"]!.arrayValue!, bid: false)
            book.apply(snap["bs"]!.arrayValue!, bid: true)
            books[s] = book
        }
        var buf: [UInt8] = []
        var checked = 0
        while let event = feed.next(into: &buf) {
            defer { buf.removeAll(keepingCapacity: true) }
            guard event.kind == .depth else { continue }
            let msg = try JSONParser.parse(buf).arrayValue!
            var checksum: String?
            for part in msg[1..<(msg.count - 2)] {
                if let askUpdates = part["a"]?.arrayValue { books[event.symbol]!.apply(askUpdates, bid: false) }
                if let bidUpdates = part["b"]?.arrayValue { books[event.symbol]!.apply(bidUpdates, bid: true) }
                checksum = part["c"]?.stringValue ?? checksum
            }
            // "c" is in the last object only.
            #expect(msg[msg.count - 3]["c"] != nil)
            #expect(checksum == String(books[event.symbol]!.checksum), "after \(checked) updates: \(String(decoding: buf, as: UTF8.self))")
            checked += 1
            if checked > 3000 { break }
        }
        #expect(checked > 3000)
    }
}
