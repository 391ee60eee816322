import K2Core
import Testing

@testable import K2Replay

/// The ClickHouse sink's pre-insert sort: its output must be the rows of the batch, each intact,
/// in the order ClickHouse would give them (a stable sort by the table's key, strings compared
/// as bytes then length), whatever the input.
struct RowSorterTests {
    /// One encoded row and its key, as a reference sort sees it.
    struct Row {
        var first: [UInt8], second: [UInt8], time: UInt64
        var bytes: [UInt8]
    }

    static func encode(_ layout: RowSorter.Layout, first: [UInt8], second: [UInt8], time: UInt64, tail: [UInt8]) -> Row {
        let writer = RowBinary(capacity: 64)
        func string(_ s: [UInt8]) { s.withUnsafeBytes { writer.string($0) } }
        switch layout {
        case .trades:
            string(Array("id-\(time)".utf8))  // message_id, not part of the key
            string(first)  // exchange
            string(second)  // symbol
            writer.uint64(time)  // exchange_timestamp_ms
        case .raw:
            string(first)  // exchange
            writer.uint32(7)  // connection, not part of the key
            string(second)  // stream
            writer.uint64(time)  // receive_ns
        }
        string(tail)  // the other columns
        return Row(first: first, second: second, time: time, bytes: Array(writer.bytes))
    }

    /// Sorts `rows` with the sorter (rows concatenated, as the sink's batch holds them): what the
    /// sink sends, the sorter's output or, when it declines, the batch as it is.
    static func sorted(_ layout: RowSorter.Layout, _ rows: [Row], sorter: inout RowSorter) -> [UInt8] {
        let src = RowBinary(capacity: 64)
        var starts: [Int] = []
        for row in rows {
            starts.append(src.count)
            row.bytes.withUnsafeBytes { src.raw($0) }
        }
        let dst = RowBinary(capacity: 0)
        return Array(sorter.sort(src, starts: starts, into: dst) ? dst.bytes : src.bytes)
    }

    /// The reference: Swift's stable sort on the decoded keys, byte-wise lexicographic strings.
    static func referenceOrder(_ rows: [Row]) -> [Int] {
        rows.indices.sorted { left, right in
            let lhs = rows[left], rhs = rows[right]
            if lhs.first != rhs.first { return lhs.first.lexicographicallyPrecedes(rhs.first) }
            if lhs.second != rhs.second { return lhs.second.lexicographicallyPrecedes(rhs.second) }
            if lhs.time != rhs.time { return lhs.time < rhs.time }
            return left < right
        }
    }

    static func reference(_ rows: [Row]) -> [UInt8] { referenceOrder(rows).flatMap { rows[$0].bytes } }

    /// nil when equal, else where the two byte strings first differ (a failing `#expect(a == b)`
    /// on megabyte arrays spends many minutes printing their diff).
    static func difference(_ a: [UInt8], _ b: [UInt8]) -> String? {
        guard a != b else { return nil }
        let offset = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        return "first difference at byte \(offset) (\(a.count) vs \(b.count) bytes)"
    }

    static let exchanges: [[UInt8]] = ["binance", "kraken", "coinbase", "bin", "", "binance2"].map { Array($0.utf8) }
    static let symbols: [[UInt8]] =
        ["BTCUSDT", "BTC", "ETHUSDT", "btcusdt@trade", "BTC/USD", ""].map { Array($0.utf8) }
        + [[0xC3, 0xA9, 0x41], [0x41, 0xFF], [0x41], Array(repeating: 0x5A, count: 200)]

    static func randomRows(_ layout: RowSorter.Layout, count: Int, seed: UInt64, times: ClosedRange<UInt64>) -> [Row] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let tail = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return encode(
                layout, first: exchanges.randomElement(using: &rng)!, second: symbols.randomElement(using: &rng)!,
                time: UInt64.random(in: times, using: &rng), tail: tail)
        }
    }

    @Test(arguments: [RowSorter.Layout.trades, .raw])
    func ordersSeededRandomBatchesLikeAStableSort(layout: RowSorter.Layout) {
        var sorter = RowSorter(layout: layout)
        // Reused across batches of different sizes (scratch kept between batches); narrow
        // time ranges give many equal keys, where arrival order must be kept.
        for (seed, count, times) in [
            (1, 1, 0...10), (2, 2, 0...1), (3, 500, 0...3), (4, 5_000, 0...1_000_000), (5, 37, 5...5),
            (6, 20_000, 0...50),
        ] as [(UInt64, Int, ClosedRange<UInt64>)] {
            let rows = Self.randomRows(layout, count: count, seed: seed, times: times)
            #expect(Self.difference(Self.sorted(layout, rows, sorter: &sorter), Self.reference(rows)) == nil, "seed \(seed), \(count) rows")
        }
    }

    @Test func keepsOrderedAndTimeOrderedGroupsAsTheyAre() {
        var sorter = RowSorter(layout: .trades)
        // Already in key order: copied unchanged.
        let shuffled = Self.randomRows(.trades, count: 3_000, seed: 11, times: 0...100)
        let rows = Self.referenceOrder(shuffled).map { shuffled[$0] }
        let inOrder = rows.flatMap(\.bytes)
        #expect(Self.difference(Self.sorted(.trades, rows, sorter: &sorter), inOrder) == nil)
        // Groups interleaved, times rising inside each (the usual batch: rows by receive time).
        let interleaved = (0..<4_000).map { i in
            Self.encode(.trades, first: Array("binance".utf8), second: Self.symbols[i % 5], time: UInt64(i / 3), tail: [UInt8(i & 0xff)])
        }
        #expect(Self.difference(Self.sorted(.trades, interleaved, sorter: &sorter), Self.reference(interleaved)) == nil)
    }

    @Test func tooManyKeysLeavesTheBatchAsItIs() {
        // More distinct keys than the table takes: the rows go out in arrival order (the server sorts).
        var sorter = RowSorter(layout: .raw)
        let rows = (0..<3_000).reversed().map { i in
            Self.encode(.raw, first: Array("x".utf8), second: Array("s\(i)".utf8), time: UInt64(i), tail: [])
        }
        #expect(Self.difference(Self.sorted(.raw, rows, sorter: &sorter), rows.flatMap(\.bytes)) == nil)
        // And the sorter still sorts the next batch.
        let next = Self.randomRows(.raw, count: 800, seed: 12, times: 0...9)
        #expect(Self.difference(Self.sorted(.raw, next, sorter: &sorter), Self.reference(next)) == nil)
    }
}
