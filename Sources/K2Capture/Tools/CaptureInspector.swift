import K2Core

/// What `k2 capture inspect` reports about a capture (see docs/capture-tools.md).
package struct CaptureInspection: Sendable {
    package struct Connection: Sendable, Equatable {
        package var id: UInt32
        package var records: Int
        package var recv: Int
        /// Payload bytes of all its records.
        package var bytes: Int64
        package var firstTimestamp: Int64
        package var lastTimestamp: Int64
        /// The URL of its first `connect` record, if any.
        package var url: String?
    }

    /// Messages (`recv` records) per one-second bucket of the capture's span, empty seconds included.
    package struct Rate: Sendable, Equatable {
        package var seconds: Int
        package var p50: Int
        package var p99: Int
        package var max: Int
        package var mean: Double
        /// The 100 ms window (any start, `[start, start+100ms)`) holding the most messages.
        package var busiest100msStart: Int64
        package var busiest100msCount: Int
    }

    /// A break in a venue's sequence numbers for one symbol.
    package struct Gap: Sendable, Equatable {
        package var symbol: String
        /// Receive time of the message after the gap.
        package var timestamp: Int64
        package var connection: UInt32
        /// Last id before the gap, and the first id after it.
        package var previous: Int64
        package var next: Int64
        package var missingFrom: Int64 { previous + 1 }
        package var missingTo: Int64 { next - 1 }
        /// Saturating: ids read out of a damaged or hostile file may lie ~2^64 apart.
        package var missing: Int64 { Self.idsBetween(previous, next) }

        static func idsBetween(_ previous: Int64, _ next: Int64) -> Int64 {
            let (difference, overflow) = next.subtractingReportingOverflow(previous)
            return overflow ? .max : difference - 1
        }
    }

    /// One sequence check (Binance `depthUpdate` U/u, Binance `trade` t) across all symbols.
    package struct SequenceCheck: Sendable, Equatable {
        /// `depth_update` or `trade`.
        package var name: String
        /// What is checked, for people: "depthUpdate: next U = previous u + 1".
        var rule: String
        package var messages: Int = 0
        package var symbols: Int = 0
        package var gaps: Int = 0
        package var missingIds: Int64 = 0
        /// Messages whose id does not advance (duplicates, replays, out of order).
        package var regressions: Int = 0
        /// The first `CaptureInspector.Options.gapsListed` gaps, in capture order.
        package var first: [Gap] = []
    }

    package var path: String
    package var fileSize: Int64
    var formatVersion: String
    var toolVersion: String
    package var createdNanos: Int64
    package var host: String
    package var metadata: JSONValue

    package var records: Int = 0
    package var firstTimestamp: Int64?
    package var lastTimestamp: Int64?
    package var durationNanos: Int64 { (lastTimestamp ?? 0) - (firstTimestamp ?? 0) }
    /// Records whose time is earlier than the record before them.
    package var outOfOrder: Int = 0
    /// Records whose time is earlier than the latest time before them: the records a sort moves
    /// (a capture grouped by connection has most of its records out of place but few adjacent
    /// inversions).
    package var outOfPlace: Int = 0
    /// Largest distance of a record behind the latest time before it, in ns (0 when in order).
    package var maxBehindNanos: Int64 = 0
    package var payloadBytes: Int64 = 0
    package var byKind: [(kind: RecordKind, count: Int)] = []
    package var connections: [Connection] = []
    /// Received messages per stream and per symbol, most first.
    package var byStream: [(name: String, count: Int)] = []
    package var bySymbol: [(name: String, count: Int)] = []
    /// `marker` records by their `"marker"` name (`gap`, `duplicate`, `malformed`, `reconnect`, …;
    /// the simulator's `fault` markers as `fault:gap`, `fault:malformed`, …), most first.
    package var byMarker: [(name: String, count: Int)] = []
    package var rate: Rate?

    package var frames: Int = 0
    package var indexStored: Bool = false
    package var compressedBytes: Int64 = 0
    package var uncompressedBytes: Int64 = 0
    /// Uncompressed block bytes per byte of file.
    package var compressionRatio: Double { fileSize > 0 ? Double(uncompressedBytes) / Double(fileSize) : 0 }

    package var sequenceChecks: [SequenceCheck] = []
    package var gapCount: Int { sequenceChecks.reduce(0) { $0 + $1.gaps } }
    package var damage: CaptureDamage?
}

/// Reads a capture once and works out `CaptureInspection`: counts by kind, connection, stream
/// and symbol, message rates, compression, and sequence gaps. Allocates only for names it has
/// not seen before.
package enum CaptureInspector {
    package struct Options: Sendable {
        /// How many gaps of each check to list.
        package var gapsListed: Int = 5
        /// Bucket width of the rate statistics.
        var bucketNanos: Int64 = 1_000_000_000
        /// Width of the busiest window.
        package var windowNanos: Int64 = 100_000_000
        package init(gapsListed: Int = 5) { self.gapsListed = gapsListed }
    }

    package static func inspect(path: String, options: Options = .init()) throws(CaptureError) -> CaptureInspection {
        let reader = try CaptureReader(path: path)
        let header = reader.header
        var ins = CaptureInspection(
            path: path, fileSize: reader.fileSize, formatVersion: "\(header.major).\(header.minor)",
            toolVersion: header.toolVersion, createdNanos: header.createdNanos, host: header.host,
            metadata: .object(header.metadata))
        let index = try reader.index()
        ins.frames = index.entries.count
        ins.indexStored = index.storedInFile
        ins.compressedBytes = index.compressedBytes
        ins.uncompressedBytes = index.uncompressedBytes

        var kinds = [Int](repeating: 0, count: 256)
        var conns: [UInt32: Int] = [:]
        var connStats: [CaptureInspection.Connection] = []
        var lastConn: UInt32 = 0, lastConnSlot = -1
        var streams = ByteKeyTable(), symbols = ByteKeyTable()
        var streamCounts: [Int] = [], symbolCounts: [Int] = []
        var markers: [String: Int] = [:]
        var seq = SequenceTracker(listed: options.gapsListed)
        var krakenBooks = KrakenBookChecker(listed: options.gapsListed)
        var rate = RateTracker(bucket: options.bucketNanos, window: options.windowNanos)
        var first = Int64.max, last = Int64.min, prev = Int64.min
        // The frames as read, to hold the stored index against them as `verify` does.
        var framesRead: [(offset: Int64, records: Int, first: Int64, last: Int64)] = []

        while let record = try nextIntact(reader, damage: &ins.damage) {
            ins.records += 1
            if framesRead.last?.offset != reader.currentFrameOffset {
                framesRead.append((reader.currentFrameOffset, 0, .max, .min))
            }
            framesRead[framesRead.count - 1].records += 1
            framesRead[framesRead.count - 1].first = min(framesRead[framesRead.count - 1].first, record.timestamp)
            framesRead[framesRead.count - 1].last = max(framesRead[framesRead.count - 1].last, record.timestamp)
            kinds[Int(record.kind.rawValue)] += 1
            ins.payloadBytes += Int64(record.payload.count)
            let ts = record.timestamp
            if ts < first { first = ts }
            if ts < last {
                ins.outOfPlace += 1
                // Saturating: a damaged or hostile timestamp may be ~2^63 away (a fuzz finding: a trap).
                let (behind, overflow) = last.subtractingReportingOverflow(ts)
                ins.maxBehindNanos = max(ins.maxBehindNanos, overflow ? .max : behind)
            } else {
                last = ts
            }
            if ts < prev { ins.outOfOrder += 1 }
            prev = ts

            var slot: Int
            if record.connection == lastConn, lastConnSlot >= 0 {
                slot = lastConnSlot
            } else if let existing = conns[record.connection] {
                slot = existing
            } else {
                slot = connStats.count
                conns[record.connection] = slot
                connStats.append(.init(id: record.connection, records: 0, recv: 0, bytes: 0, firstTimestamp: ts, lastTimestamp: ts, url: nil))
            }
            lastConn = record.connection
            lastConnSlot = slot
            connStats[slot].records += 1
            connStats[slot].bytes += Int64(record.payload.count)
            if ts < connStats[slot].firstTimestamp { connStats[slot].firstTimestamp = ts }
            if ts > connStats[slot].lastTimestamp { connStats[slot].lastTimestamp = ts }
            if record.kind == .connect, connStats[slot].url == nil, !record.aux.isEmpty {
                connStats[slot].url = String(decoding: record.aux, as: UTF8.self)
            }

            if record.kind == .marker { markers[markerName(record.payload), default: 0] += 1 }
            guard record.kind == .recv else { continue }
            connStats[slot].recv += 1
            rate.add(ts)
            guard !record.isBinary else { continue }
            let fields = PayloadFields.extract(record.payload)
            seq.checkConnectionSequence(record, symbol: fields.symbol)
            krakenBooks.consume(record)
            if let stream = fields.stream {
                let id = streams.id(for: stream)
                if id == streamCounts.count { streamCounts.append(0) }
                streamCounts[id] += 1
            }
            if let symbol = fields.symbol {
                let id = symbols.id(for: symbol)
                if id == symbolCounts.count { symbolCounts.append(0) }
                symbolCounts[id] += 1
                if let event = fields.event { seq.check(record, event: event, symbol: id, symbols: symbols) }
            }
        }

        if ins.records > 0 {
            ins.firstTimestamp = first
            ins.lastTimestamp = last
        }
        ins.byKind = kinds.indices.filter { kinds[$0] > 0 }.map { (RecordKind(rawValue: UInt8($0)), kinds[$0]) }
        ins.connections = connStats.sorted { $0.id < $1.id }
        ins.byStream = streamCounts.indices.map { (streams.key($0), streamCounts[$0]) }.sorted { ($1.1, $0.0) < ($0.1, $1.0) }
        ins.bySymbol = symbolCounts.indices.map { (symbols.key($0), symbolCounts[$0]) }.sorted { ($1.1, $0.0) < ($0.1, $1.0) }
        ins.byMarker = markers.map { ($0.key, $0.value) }.sorted { ($1.1, $0.0) < ($0.1, $1.0) }
        ins.rate = rate.result()
        ins.sequenceChecks = seq.result() + [krakenBooks.result()]
        // Damage as `verify` sees it: a damaged frame (above), a torn tail, else a missing or wrong index.
        if ins.damage == nil { ins.damage = reader.damage }
        if ins.damage == nil, !index.storedInFile {
            ins.damage = CaptureVerifier.missingIndex(reader)
        } else if ins.damage == nil,
            !framesRead.elementsEqual(
                index.entries,
                by: {
                    $0.offset == $1.offset && $0.records == $1.recordCount && $0.first == $1.firstTimestamp && $0.last == $1.lastTimestamp
                })
        {
            ins.damage = CaptureVerifier.indexMismatch(reader)
        }
        return ins
    }
}

/// The reader's next record. At a frame that fails its checksum or does not decode: nil, with
/// the damage in `damage` (kind `corrupt`, the frame's offset), so the records before it are
/// still reported, as `verify` counts them; the caller exits with the damage code.
private func nextIntact(_ reader: CaptureReader, damage: inout CaptureDamage?) throws(CaptureError) -> CaptureRecord? {
    do {
        return try reader.next()
    } catch {
        guard error.code == .corrupt, let offset = error.offset else { throw error }
        damage = CaptureDamage(kind: .corrupt, offset: offset, detail: error.what)
        return nil
    }
}

private let markerKey = Array("\"marker\":".utf8), faultKey = Array("\"fault\":".utf8)

/// A marker record's name: its `"marker"` string (`fault:NAME` for the simulator's fault
/// markers), `?` when it has none.
private func markerName(_ payload: UnsafeRawBufferPointer) -> String {
    guard let name = PayloadFields.stringValue(payload, key: markerKey) else { return "?" }
    let text = String(decoding: name, as: UTF8.self)
    guard text == "fault", let fault = PayloadFields.stringValue(payload, key: faultKey) else { return text }
    return text + ":" + String(decoding: fault, as: UTF8.self)
}

/// Sequence continuity: Binance per symbol — `depthUpdate` (next `U` = previous `u` + 1),
/// `trade` (next `t` = previous `t` + 1), `aggTrade` (next `a` = previous `a` + 1) — and
/// Coinbase Advanced Trade per connection (next `sequence_num` = previous + 1: the venue numbers
/// every message of a connection, heartbeats and acks included).
struct SequenceTracker {
    static let depthUpdate: [UInt8] = Array("depthUpdate".utf8)
    static let trade: [UInt8] = Array("trade".utf8)
    static let aggTrade: [UInt8] = Array("aggTrade".utf8)
    static let keyU: [UInt8] = Array("\"U\":".utf8)
    static let keyLowerU: [UInt8] = Array("\"u\":".utf8)
    static let keyT: [UInt8] = Array("\"t\":".utf8)
    static let keyA: [UInt8] = Array("\"a\":".utf8)
    static let keySequenceNum: [UInt8] = Array("\"sequence_num\":".utf8)

    var depth = CaptureInspection.SequenceCheck(name: "depth_update", rule: "depthUpdate: next U = previous u + 1")
    var trades = CaptureInspection.SequenceCheck(name: "trade", rule: "trade: next t = previous t + 1")
    var aggTrades = CaptureInspection.SequenceCheck(name: "agg_trade", rule: "aggTrade: next a = previous a + 1")
    var coinbase = CaptureInspection.SequenceCheck(
        name: "coinbase_sequence",
        rule: "Coinbase: next sequence_num = previous + 1 on each connection")
    var lastU: [Int64] = []
    var lastT: [Int64] = []
    var lastA: [Int64] = []
    var lastSequence: [UInt32: Int64] = [:]
    let listed: Int

    init(listed: Int) { self.listed = listed }

    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        a.count == b.count && b.withUnsafeBytes { a.elementsEqual($0) }
    }

    mutating func check(_ r: CaptureRecord, event: UnsafeRawBufferPointer, symbol: Int, symbols: ByteKeyTable) {
        if symbol >= lastU.count {
            lastU.append(contentsOf: repeatElement(Int64.min, count: symbol + 1 - lastU.count))
            lastT.append(contentsOf: repeatElement(Int64.min, count: symbol + 1 - lastT.count))
            lastA.append(contentsOf: repeatElement(Int64.min, count: symbol + 1 - lastA.count))
        }
        if Self.equal(event, Self.depthUpdate) {
            guard let first = PayloadFields.intValue(r.payload, key: Self.keyU),
                let final = PayloadFields.intValue(r.payload, key: Self.keyLowerU)
            else { return }
            depth.messages += 1
            let prev = lastU[symbol]
            if prev == .min { depth.symbols += 1 } else { note(&depth, r, symbols.key(symbol), prev: prev, next: first) }
            if final > prev { lastU[symbol] = final }
        } else if Self.equal(event, Self.trade) {
            guard let tradeID = PayloadFields.intValue(r.payload, key: Self.keyT) else { return }
            trades.messages += 1
            let prev = lastT[symbol]
            if prev == .min { trades.symbols += 1 } else { note(&trades, r, symbols.key(symbol), prev: prev, next: tradeID) }
            if tradeID > prev { lastT[symbol] = tradeID }
        } else if Self.equal(event, Self.aggTrade) {
            guard let aggregateID = PayloadFields.intValue(r.payload, key: Self.keyA) else { return }
            aggTrades.messages += 1
            let prev = lastA[symbol]
            if prev == .min { aggTrades.symbols += 1 } else { note(&aggTrades, r, symbols.key(symbol), prev: prev, next: aggregateID) }
            if aggregateID > prev { lastA[symbol] = aggregateID }
        }
    }

    /// Coinbase `sequence_num`, per connection (any message that carries one).
    mutating func checkConnectionSequence(_ r: CaptureRecord, symbol: UnsafeRawBufferPointer?) {
        guard r.payload.first == 123, let number = PayloadFields.intValue(r.payload, key: Self.keySequenceNum) else { return }
        coinbase.messages += 1
        if let prev = lastSequence[r.connection] {
            note(&coinbase, r, symbol.map { String(decoding: $0, as: UTF8.self) } ?? "-", prev: prev, next: number)
            if number > prev { lastSequence[r.connection] = number }
        } else {
            coinbase.symbols += 1
            lastSequence[r.connection] = number
        }
    }

    @inline(__always)
    private func note(
        _ c: inout CaptureInspection.SequenceCheck, _ r: CaptureRecord, _ symbol: @autoclosure () -> String,
        prev: Int64, next: Int64
    ) {
        if next == prev &+ 1 { return }
        if next <= prev { c.regressions += 1; return }
        c.gaps += 1
        let (missingIds, overflow) = c.missingIds.addingReportingOverflow(CaptureInspection.Gap.idsBetween(prev, next))
        c.missingIds = overflow ? .max : missingIds
        if c.first.count < listed {
            c.first.append(.init(symbol: symbol(), timestamp: r.timestamp, connection: r.connection, previous: prev, next: next))
        }
    }

    func result() -> [CaptureInspection.SequenceCheck] { [depth, trades, aggTrades, coinbase] }
}

/// Messages per second bucket and the busiest sliding window.
///
/// Only the buckets that hold messages are stored (the run of the current bucket, and a table of
/// the rest): the seconds in between hold none and count as zeros. A file whose times lie years
/// apart (a damaged or hostile one: a fuzz finding allocated and sorted hundreds of millions of
/// empty buckets) costs no more than one whose times are close.
struct RateTracker {
    let bucket: Int64
    let window: Int64
    /// Messages per non-empty bucket, by bucket number (`floor(time / bucket)`), apart from the
    /// current one; in time order every message lands in the current one.
    var counts: [Int64: Int] = [:]
    var currentBucket = Int64.min, currentCount = 0
    var firstBucket = Int64.max, lastBucket = Int64.min
    // Sliding window over the receive times of the last `window` ns (a ring buffer).
    var ring: [Int64] = Array(repeating: 0, count: 1024)
    var head = 0, size = 0
    var best = 0, bestStart: Int64 = 0
    var any = false

    init(bucket: Int64, window: Int64) {
        self.bucket = bucket
        self.window = window
    }

    @inline(__always)
    mutating func add(_ ts: Int64) {
        any = true
        let (quotient, remainder) = ts.quotientAndRemainder(dividingBy: bucket)
        let bucketNumber = remainder < 0 ? quotient - 1 : quotient
        if bucketNumber == currentBucket {
            currentCount += 1
        } else {
            if currentCount > 0 { counts[currentBucket, default: 0] += currentCount }
            currentBucket = bucketNumber
            currentCount = 1
            firstBucket = min(firstBucket, bucketNumber)
            lastBucket = max(lastBucket, bucketNumber)
        }
        // Drop times that are `window` or more before ts (saturating: times may lie ~2^63 apart).
        let (cutoff, cutoffOverflow) = ts.subtractingReportingOverflow(window)
        while size > 0, !cutoffOverflow, ring[head] <= cutoff {
            head = (head + 1) & (ring.count - 1)
            size -= 1
        }
        if size == ring.count { growRing() }
        ring[(head + size) & (ring.count - 1)] = ts
        size += 1
        if size > best {
            best = size
            bestStart = ring[head]
        }
    }

    private mutating func growRing() {
        var grown = [Int64](repeating: 0, count: ring.count * 2)
        for i in 0..<size { grown[i] = ring[(head + i) & (ring.count - 1)] }
        ring = grown
        head = 0
    }

    func result() -> CaptureInspection.Rate? {
        guard any else { return nil }
        var full = counts
        full[currentBucket, default: 0] += currentCount
        // At most ten years of one-second buckets; past that the times are nonsense.
        let (span, overflow) = lastBucket.subtractingReportingOverflow(firstBucket)
        guard !overflow, span < 400_000_000 else { return nil }
        let seconds = Int(span) + 1
        let sorted = full.values.sorted()
        let empty = seconds - sorted.count
        func pct(_ p: Double) -> Int {
            let rank = min(max(Int((p * Double(seconds)).rounded(.up)) - 1, 0), seconds - 1)
            return rank < empty ? 0 : sorted[rank - empty]
        }
        let total = sorted.reduce(0, +)
        return .init(
            seconds: seconds, p50: pct(0.5), p99: pct(0.99), max: sorted.last ?? 0,
            mean: Double(total) / Double(seconds),
            busiest100msStart: bestStart, busiest100msCount: best)
    }
}
