/// A set of message sequences (0, 1, 2 … of one run id) as a bitmap: one bit per sequence up
/// to the highest inserted, 1.25 MB per 10M messages (a `Set` would take ~50× that).
package struct SequenceBitmap: Sendable, Equatable {
    private var words: [UInt64] = []
    /// Sequences in the set.
    package private(set) var count = 0

    package init() {}

    /// Adds `sequence`; false when it was already there (a duplicate). Grows by whole words
    /// (amortised: one reallocation per doubling).
    @discardableResult
    package mutating func insert(_ sequence: UInt64) -> Bool {
        let word = Int(sequence >> 6)
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: word + 1 - words.count)) }
        let bit = UInt64(1) << (sequence & 63)
        if words[word] & bit != 0 { return false }
        words[word] |= bit
        count += 1
        return true
    }

    package func contains(_ sequence: UInt64) -> Bool {
        let word = Int(sequence >> 6)
        return word < words.count && words[word] & (UInt64(1) << (sequence & 63)) != 0
    }

    /// How many sequences of `self` are not in `other`, and the first `limit` of them in order.
    package func subtracting(_ other: SequenceBitmap, first limit: Int) -> (count: Int, first: [UInt64]) {
        var total = 0
        var first: [UInt64] = []
        for index in words.indices {
            let missing = words[index] & ~(index < other.words.count ? other.words[index] : 0)
            guard missing != 0 else { continue }
            total += missing.nonzeroBitCount
            var rest = missing
            while rest != 0, first.count < limit {
                first.append(UInt64(index) << 6 | UInt64(rest.trailingZeroBitCount))
                rest &= rest - 1
            }
        }
        return (total, first)
    }
}
