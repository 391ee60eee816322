#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Puts a batch of RowBinary rows into the order of the table's sorting key before the insert.
///
/// ClickHouse sorts every inserted block by the table's `ORDER BY` before writing its part,
/// unless the block already is in that order (it checks first). Rows arrive by receive time, so
/// a batch of trades is not: sorting it here saves the server its permutation and the permuted
/// copy of every column (one 203,333-row insert of the bench's trades: 166 → 110 ms, server CPU
/// 0.13 → 0.09 s; docs/sinks.md). The key is the sink's own table shape:
///
/// - `trades`: `(exchange, symbol, exchange_timestamp_ms)`;
/// - `raw`: `(exchange, stream, receive_ns)`.
///
/// The work is linear: rows are grouped by their two string columns (a small hash table; a
/// batch holds tens to a few thousand distinct pairs), the groups are ordered as ClickHouse
/// compares strings (bytes, then length), rows keep their arrival order inside a group, and a
/// group whose times go backwards is sorted by time (stable). Then the rows are copied in order.
struct RowSorter {
    enum Layout: Sendable {
        /// message_id String, exchange String, symbol String, exchange_timestamp_ms UInt64, …
        case trades
        /// exchange String, connection UInt32, stream String, receive_ns UInt64, …
        case raw
    }

    let layout: Layout
    // Scratch, kept between batches (no allocation per batch once grown).
    private var slots: [Int32] = []  // hash slot → group + 1 (0 = empty)
    private var groupFirst: [Int] = []  // per group: offsets of its two strings in the batch
    private var groupSecond: [Int] = []
    private var groupOfRow: [Int32] = []
    private var timeOfRow: [UInt64] = []
    private var order: [Int32] = []
    private var firstOfGroup: [Int] = []
    private var rank: [Int32] = []
    private var byKey: [Int] = []
    private var next: [Int] = []

    init(layout: Layout) { self.layout = layout }

    /// Writes the rows of `src` (starting at `starts`, in order, ending at `src.count`) into
    /// `dst` in key order and returns true; returns false, with `dst` untouched, when `src` is to
    /// go as it is (already in key order, or more distinct keys than the table takes).
    mutating func sort(_ src: RowBinary, starts: [Int], into dst: RowBinary) -> Bool {
        let rowCount = starts.count
        guard rowCount > 1 else { return false }
        let base = UnsafePointer(src.base)
        let end = src.count
        groupFirst.removeAll(keepingCapacity: true)
        groupSecond.removeAll(keepingCapacity: true)
        groupOfRow.removeAll(keepingCapacity: true)
        timeOfRow.removeAll(keepingCapacity: true)
        var tableSize = 1024
        while tableSize < rowCount / 2 { tableSize <<= 1 }
        if slots.count != tableSize {
            slots = [Int32](repeating: 0, count: tableSize)
        } else {
            for i in slots.indices { slots[i] = 0 }
        }
        let mask = tableSize - 1
        var ordered = true  // rows already in key order (nothing to do but copy)
        var prevGroup: Int32 = -1
        var prevTime: UInt64 = 0
        for r in 0..<rowCount {
            // The two strings of the key and the time after them.
            var offset = starts[r]
            if layout == .trades { offset = Self.skipString(base, offset) }
            let first = offset
            offset = Self.skipString(base, offset)
            if layout == .raw { offset += 4 }
            let second = offset
            offset = Self.skipString(base, offset)
            let time = UnsafeRawPointer(base + offset).loadUnaligned(as: UInt64.self)
            // Find or add the group of (first string, second string): FNV-1a over both, with
            // their length prefixes (so ("ab","c") and ("a","bc") differ).
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for i in first..<(second - (layout == .raw ? 4 : 0)) { hash = (hash ^ UInt64(base[i])) &* 0x100_0000_01b3 }
            for i in second..<offset { hash = (hash ^ UInt64(base[i])) &* 0x100_0000_01b3 }
            var slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
            var group: Int32
            while true {
                let entry = slots[slot]
                if entry == 0 {
                    group = Int32(groupFirst.count)
                    groupFirst.append(first)
                    groupSecond.append(second)
                    slots[slot] = group + 1
                    break
                }
                let candidate = Int(entry - 1)
                if Self.equal(base, groupFirst[candidate], first), Self.equal(base, groupSecond[candidate], second) { group = entry - 1; break }
                slot = (slot + 1) & mask
            }
            groupOfRow.append(group)
            timeOfRow.append(time)
            if ordered, r > 0, group != prevGroup || time < prevTime {
                ordered = group == prevGroup ? false : less(base, Int(prevGroup), Int(group))
            }
            prevGroup = group
            prevTime = time
            if groupFirst.count * 2 > tableSize {
                return false  // too many groups for the table: the server sorts this batch
            }
        }
        if ordered { return false }
        // Rank the groups in ClickHouse's string order.
        let groups = groupFirst.count
        var keys: [Int] = []  // the scratch moved out while `less` reads self
        swap(&keys, &byKey)
        keys.removeAll(keepingCapacity: true)
        keys.append(contentsOf: 0..<groups)
        keys.sort { less(base, $0, $1) }
        if rank.count < groups { rank = [Int32](repeating: 0, count: groups) }
        for (i, g) in keys.enumerated() { rank[g] = Int32(i) }
        swap(&keys, &byKey)
        // Stable counting sort by rank.
        firstOfGroup.removeAll(keepingCapacity: true)
        firstOfGroup.append(contentsOf: repeatElement(0, count: groups + 1))
        for r in 0..<rowCount { firstOfGroup[Int(rank[Int(groupOfRow[r])]) + 1] += 1 }
        for i in 0..<groups { firstOfGroup[i + 1] += firstOfGroup[i] }
        if order.count < rowCount { order = [Int32](repeating: 0, count: rowCount) }
        next.removeAll(keepingCapacity: true)
        next.append(contentsOf: firstOfGroup)
        for r in 0..<rowCount {
            let groupRank = Int(rank[Int(groupOfRow[r])])
            order[next[groupRank]] = Int32(r)
            next[groupRank] += 1
        }
        // Inside a group: by time (stable), when the times are not already in order.
        let times = timeOfRow
        for k in 0..<groups {
            let lo = firstOfGroup[k], hi = firstOfGroup[k + 1]
            var sorted = true
            var position = lo + 1
            while position < hi {
                if times[Int(order[position])] < times[Int(order[position - 1])] { sorted = false; break }
                position += 1
            }
            if !sorted {
                order[lo..<hi].sort { lhs, rhs in
                    let ta = times[Int(lhs)], tb = times[Int(rhs)]
                    return ta < tb || (ta == tb && lhs < rhs)
                }
            }
        }
        // Copy the rows in order.
        dst.removeAll()
        dst.reserve(end)
        for i in 0..<rowCount {
            let row = Int(order[i])
            let from = starts[row]
            let to = row + 1 < rowCount ? starts[row + 1] : end
            dst.raw(UnsafeRawBufferPointer(start: base + from, count: to - from))
        }
        return true
    }

    /// The offset just past the LEB128-prefixed string at `p`.
    @inline(__always)
    static func skipString(_ b: UnsafePointer<UInt8>, _ p: Int) -> Int {
        let (len, at) = varint(b, p)
        return at + len
    }

    @inline(__always)
    static func varint(_ b: UnsafePointer<UInt8>, _ p: Int) -> (Int, Int) {
        var value = 0, shift = 0, position = p
        while true {
            let byte = b[position]
            value |= Int(byte & 0x7f) << shift
            position += 1
            if byte < 0x80 { return (value, position) }
            shift += 7
        }
    }

    /// Whether the strings (length-prefixed) at `a` and `b` are equal.
    @inline(__always)
    static func equal(_ base: UnsafePointer<UInt8>, _ a: Int, _ b: Int) -> Bool {
        let aEnd = skipString(base, a), bEnd = skipString(base, b)
        guard aEnd - a == bEnd - b else { return false }
        return memcmp(base + a, base + b, aEnd - a) == 0
    }

    /// ClickHouse's order of groups `a` and `b`: first strings, then second ones.
    private func less(_ base: UnsafePointer<UInt8>, _ a: Int, _ b: Int) -> Bool {
        let comparison = Self.compare(base, groupFirst[a], groupFirst[b])
        if comparison != 0 { return comparison < 0 }
        return Self.compare(base, groupSecond[a], groupSecond[b]) < 0
    }

    /// ClickHouse's string order of the strings at `a` and `b`: by bytes, a prefix before the
    /// longer string.
    @inline(__always)
    static func compare(_ base: UnsafePointer<UInt8>, _ a: Int, _ b: Int) -> Int {
        let (la, pa) = varint(base, a)
        let (lb, pb) = varint(base, b)
        let comparison = memcmp(base + pa, base + pb, min(la, lb))
        if comparison != 0 { return Int(comparison) }
        return la - lb
    }
}
