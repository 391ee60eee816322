import K2Capture
import K2Core

/// Writes synthetic captures that look recorded: per venue one connection with a `connect`
/// record (the URL), the subscription frames (`send`), the venue's acks, then the market
/// messages as `recv` records, receive time = exchange time + `receiveLatency`. Venues are
/// merged in receive-time order. The records themselves come from `GeneratedRecords` (pull,
/// one at a time), which `write`, `run` and `k2 sim run`'s replay source share.
package struct CaptureGenerator {
    /// Receive time minus exchange time, ns.
    var receiveLatency: Int64 = 2_000_000
    package let profile: SimProfile

    package init(profile: SimProfile) { self.profile = profile }

    /// What a run produced.
    package struct Result: Sendable {
        package var messages: Int64 = 0
        package var records: Int64 = 0
        package var payloadBytes: Int64 = 0
        package var fileBytes: Int64 = 0
        /// Simulated time covered, ns.
        package var simulatedNanos: Int64 = 0
    }

    /// The header metadata: exchange, profile, seed, subscriptions, source.
    package func metadata(commandLine: String) -> [(String, JSONValue)] {
        var entries: [(String, JSONValue)] = [
            ("exchange", .string(profile.venues.map(\.rawValue).joined(separator: ","))),
            ("profile", .string(profile.name)),
            ("seed", .number(String(profile.seed))),
            ("source", .string("k2 sim generate")),
        ]
        if !commandLine.isEmpty { entries.append(("command_line", .string(commandLine))) }
        return entries
    }

    /// The header of a generated capture: nothing from the wall clock or the machine — created at
    /// the first record's receive time, host "k2 sim" — so that one profile, seed and command
    /// give byte-identical files (a capture's hash can stand in a CI fixture).
    package func header(commandLine: String) -> CaptureHeader {
        CaptureHeader(createdNanos: firstTimestamp, host: "k2 sim", metadata: metadata(commandLine: commandLine))
    }

    /// Writer options for a generated capture: frames cut by size only (`flushInterval` is for
    /// recorders that may be killed; by the wall clock it would make frame boundaries, and so
    /// the bytes, depend on how fast the machine generated).
    package static func writerOptions(_ options: CaptureWriter.Options) -> CaptureWriter.Options {
        var fixed = options
        fixed.flushInterval = .max
        return fixed
    }

    /// The opening records of venue `index`'s connection (connect, sends, acks), from `t0`,
    /// 10 µs apart.
    func openingRecords(venue: Venue, index: Int, feed: inout LiveFeed, t0: Int64) -> [OwnedRecord] {
        let conn = UInt32(index)
        let universe = feed.universe
        var recs: [OwnedRecord] = []
        var timestamp = t0
        func add(_ kind: RecordKind, url: String = "", _ payload: [UInt8]) {
            recs.append(OwnedRecord(kind: kind, timestamp: timestamp, connection: conn, url: Array(url.utf8), payload: payload))
            timestamp += 10_000  // 10 µs apart: thousands of acks still end well before the first market message
        }
        switch venue {
        case .binance:
            // The streams of `binance.streams` that carry something with the profile's mix.
            let trades = profile.market.tradeWeight + profile.market.aggTradeWeight > 0
            var streams: [String] = []
            for symbol in universe.symbols {
                let stream = symbol.binanceStream
                for kind in profile.binanceStreams {
                    switch kind {
                    case .trade where trades: streams.append(stream + "@trade")
                    case .aggTrade where trades: streams.append(stream + "@aggTrade")
                    case .depth where profile.market.depthWeight > 0: streams.append(stream + profile.binanceDepthSuffix)
                    default: break
                    }
                }
            }
            add(.connect, url: venue.defaultURL + (profile.binanceCombined ? "/stream" : "/ws"), [])
            add(.send, BinanceProtocol.subscribeRequest(streams: streams, id: 1))
            add(.recv, Array(#"{"result":null,"id":1}"#.utf8))
        case .kraken:
            add(.connect, url: venue.defaultURL, [])
            add(.recv, VenueAnswers.krakenSystemStatus(connectionID: 8_628_615_390_848_610_000 &+ profile.seed % 1_000_000))
            let pairs = universe.symbols.map(\.krakenName)
            var set = SubscriptionSet(symbols: universe.count)
            for (name, depth) in [("trade", nil), ("book", profile.krakenBookDepth)] as [(String, Int?)] {
                if name == "trade" && profile.market.tradeWeight + profile.market.aggTradeWeight <= 0 { continue }
                if name == "book" && profile.market.depthWeight <= 0 { continue }
                let req = KrakenProtocol.subscribeRequest(pairs: pairs, name: name, depth: depth)
                add(.send, req)
                let parsed = KrakenProtocol.parseRequest(req)!
                let (frames, books) = KrakenProtocol.handle(parsed, set: &set, universe: universe, bookDepth: profile.krakenBookDepth)
                for f in frames { add(.recv, f) }
                for b in books { add(.recv, feed.krakenBookSnapshot(symbol: b, nanos: profile.startNanos)) }
            }
        case .coinbase:
            add(.connect, url: venue.defaultURL, [])
            let ids = universe.symbols.map(\.coinbaseName)
            var set = SubscriptionSet(symbols: universe.count)
            var channels: [String] = ["heartbeats"]
            if profile.market.tradeWeight + profile.market.aggTradeWeight > 0 { channels.append("market_trades") }
            if profile.market.depthWeight > 0 { channels.append("level2") }
            for ch in channels {
                let req = CoinbaseProtocol.subscribeRequest(productIDs: ch == "heartbeats" ? [] : ids, channel: ch)
                add(.send, req)
                _ = CoinbaseProtocol.apply(CoinbaseProtocol.parseRequest(req)!, set: &set, universe: universe)
                add(
                    .recv,
                    CoinbaseProtocol.subscriptions(
                        set, universe: universe, heartbeats: true, nanos: timestamp,
                        sequence: feed.takeCoinbaseSequence()))
                if ch == "level2" {
                    for i in 0..<universe.count {
                        add(.recv, feed.coinbaseBookSnapshot(symbol: i, nanos: timestamp, sequence: feed.takeCoinbaseSequence()))
                    }
                }
            }
        }
        return recs
    }

    /// Threads `write` compresses frames on while this thread generates (when `options` asks
    /// for none): the same file, and generation no longer waits for zstd, which costs about as
    /// much CPU per message as generating it (docs/sim-profiles.md, "Generation speed").
    static let compressionThreads = 2

    /// Generates the whole profile into `path`.
    package func write(path: String, commandLine: String = "", options: CaptureWriter.Options = .init()) throws(CaptureError) -> Result {
        var writerOptions = Self.writerOptions(options)
        if writerOptions.compressionThreads == 0 { writerOptions.compressionThreads = Self.compressionThreads }
        let writer = try CaptureWriter(path: path, header: header(commandLine: commandLine), options: writerOptions)
        let records = GeneratedRecords(self)
        while let record = records.next() { try writer.append(record) }
        try writer.close()
        var result = records.result
        result.fileBytes = writer.fileBytes
        return result
    }

    /// Generates the whole profile, handing every record to `sink` (no file): for measuring
    /// generation alone and for feeding other consumers. `opening` gets the connect,
    /// subscription and ack records, `sink` the market messages (`recv`).
    package func run(
        _ sink: (RecordKind, Int64, UInt32, UnsafeRawBufferPointer) throws(CaptureError) -> Void,
        opening: (OwnedRecord) throws(CaptureError) -> Void,
        result: inout Result
    ) throws(CaptureError) {
        let records = GeneratedRecords(self)
        while let record = records.next() {
            if records.isOpening { try opening(record.owned()) } else { try sink(record.kind, record.timestamp, record.connection, record.payload) }
        }
        result = records.result
    }

    /// Receive time of the first record (the first venue's `connect`): 100 ms before `start`.
    package var firstTimestamp: Int64 { profile.startNanos - 100_000_000 }

    /// Receive time after the last record can be: the end of the timeline plus `receiveLatency`.
    var endTimestamp: Int64 { profile.startNanos + profile.timeline.length + receiveLatency }

    /// The feed of venue `index` as the generator runs it: heartbeats on; on Binance the trade
    /// fan-out (every fill on `@trade`, one `aggTrade` per event, as `k2 sim exchange` sends
    /// them) filtered to `binance.streams`.
    func feed(venue: Venue, index: Int) -> LiveFeed {
        var liveFeed = LiveFeed(profile: profile, venue: venue, startNanos: profile.startNanos, venueIndex: index)
        liveFeed.heartbeats = true
        if venue == .binance {
            liveFeed.binanceTradeFanout = true
            let kinds = profile.binanceStreams
            if !(kinds.contains(.trade) && kinds.contains(.aggTrade) && kinds.contains(.depth)) {
                var set = SubscriptionSet(symbols: liveFeed.universe.count)
                for s in 0..<liveFeed.universe.count { for k in kinds { set.add(symbol: s, kind: k) } }
                liveFeed.filter = set
            }
        }
        return liveFeed
    }
}

/// The records of a generated capture, pulled one at a time: the opening records of every
/// connection (connects and subscription sends, then the acks, each group in time order), then
/// the venues' messages as `recv` records merged by time (k-way, one pending message per venue).
/// `CaptureGenerator.write` writes exactly these records; `k2 sim run` replays them without a
/// file. Each record is a view valid until the next call; per message nothing is allocated
/// (the message is copied once into a reused buffer).
package final class GeneratedRecords {
    package let generator: CaptureGenerator
    /// The merge's state in one struct: `next` touches the class's storage once per record
    /// (one exclusivity check) instead of once per field it reads or writes.
    private var cursor: Cursor
    /// Counts so far (messages, records, payload bytes, simulated time).
    package var result: CaptureGenerator.Result { cursor.result }
    /// Whether the record `next` returned last is an opening record (connect, send, ack).
    package var isOpening: Bool { cursor.isOpening }
    /// Connection (= venue position) of the record `next` returned last.
    package var connection: Int { cursor.connection }

    package init(_ generator: CaptureGenerator) {
        self.generator = generator
        cursor = Cursor(base: generator.profile.startNanos + generator.receiveLatency)
        rewind()
    }

    deinit { cursor.current.deallocate() }

    /// Back to the first record: the same records again (the generator is seeded).
    package func rewind() {
        let profile = generator.profile
        var feeds: [LiveFeed] = []
        var opens: [OwnedRecord] = []
        for (i, venue) in profile.venues.enumerated() {
            var venueFeed = generator.feed(venue: venue, index: i)
            opens += generator.openingRecords(venue: venue, index: i, feed: &venueFeed, t0: generator.firstTimestamp + Int64(i) * 10_000_000)
            feeds.append(venueFeed)
        }
        // connects and sends first, then acks, each group in time order
        let ordered =
            opens.filter { $0.kind != .recv }.sorted { $0.timestamp < $1.timestamp }
            + opens.filter { $0.kind == .recv }.sorted { $0.timestamp < $1.timestamp }
        var opening: [OwnedRecord] = []
        var lastOpen = Int64.min
        for record in ordered {
            var r2 = record
            if r2.timestamp <= lastOpen { r2.timestamp = lastOpen + 1 }
            lastOpen = r2.timestamp
            opening.append(r2)
        }
        cursor.start(opening: opening, feeds: feeds)
    }

    /// The next record, nil at the end of the profile.
    package func next() -> CaptureRecord? { cursor.next() }

    private struct Cursor {
        var result = CaptureGenerator.Result()
        var isOpening = false
        var connection = 0
        var opening: [OwnedRecord] = []
        var openIndex = 0
        var feeds: [LiveFeed] = []
        var bufs: [[UInt8]] = []
        var pending: [Int64] = []  // offset of each feed's pending message, -1 when done
        /// The record buffer (owned by the class: deallocated in its deinit).
        var current: UnsafeMutableRawPointer
        var capacity: Int
        /// Receive time of feed offset 0: start + receive latency.
        let base: Int64

        init(base: Int64) {
            self.base = base
            capacity = 1 << 16
            current = .allocate(byteCount: capacity, alignment: 16)
        }

        mutating func start(opening records: [OwnedRecord], feeds venueFeeds: [LiveFeed]) {
            result = CaptureGenerator.Result()
            isOpening = false
            opening = records
            openIndex = 0
            feeds = venueFeeds
            bufs = [[UInt8]](repeating: [], count: feeds.count)
            pending = [Int64](repeating: -1, count: feeds.count)
            for i in feeds.indices {
                bufs[i].reserveCapacity(1 << 16)
                pending[i] = feeds[i].next(into: &bufs[i])?.offsetNanos ?? -1
            }
        }

        mutating func next() -> CaptureRecord? {
            if openIndex < opening.count {
                let record = opening[openIndex]
                openIndex += 1
                isOpening = true
                connection = Int(record.connection)
                result.records += 1
                reserve(record.url.count + record.payload.count)
                let aux = copy(record.url, at: 0)
                let payload = copy(record.payload, at: aux.count)
                return CaptureRecord(
                    kind: record.kind, timestamp: record.timestamp, connection: record.connection, isBinary: false, aux: aux, payload: payload)
            }
            isOpening = false
            var best = -1
            for i in pending.indices where pending[i] >= 0 && (best < 0 || pending[i] < pending[best]) { best = i }
            if best < 0 { return nil }
            let offset = pending[best]
            reserve(bufs[best].count)
            let payload = copy(bufs[best], at: 0)
            bufs[best].removeAll(keepingCapacity: true)
            pending[best] = feeds[best].next(into: &bufs[best])?.offsetNanos ?? -1
            connection = best
            result.messages += 1
            result.records += 1
            result.payloadBytes += Int64(payload.count)
            result.simulatedNanos = offset
            return CaptureRecord(
                kind: .recv, timestamp: base + offset, connection: UInt32(best),
                isBinary: false, aux: UnsafeRawBufferPointer(start: nil, count: 0), payload: payload)
        }

        /// Makes the record buffer hold `count` bytes (between records: nothing in it is kept).
        @inline(__always)
        private mutating func reserve(_ count: Int) {
            guard count > capacity else { return }
            var newCapacity = capacity
            while newCapacity < count { newCapacity *= 2 }
            current.deallocate()
            current = .allocate(byteCount: newCapacity, alignment: 16)
            capacity = newCapacity
        }

        /// Copies `bytes` into the record buffer at `offset` (within the reserved capacity).
        @inline(__always)
        private func copy(_ bytes: [UInt8], at offset: Int) -> UnsafeRawBufferPointer {
            bytes.withUnsafeBytes { raw in
                if let source = raw.baseAddress { (current + offset).copyMemory(from: source, byteCount: raw.count) }
            }
            return UnsafeRawBufferPointer(start: current + offset, count: bytes.count)
        }
    }
}
