#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Interns short byte strings (stream names, symbols) as small integer ids without allocating
/// for keys already seen: open addressing over FNV-1a hashes, compared with `memcmp`.
struct ByteKeyTable {
    private(set) var keys: [[UInt8]] = []
    private var slots: [Int32]
    private var hashes: [UInt64] = []
    private var mask: Int

    init(capacity: Int = 64) {
        var c = 16
        while c < capacity * 2 { c <<= 1 }
        slots = Array(repeating: -1, count: c)
        mask = c - 1
    }

    var count: Int { keys.count }

    func key(_ id: Int) -> String { String(decoding: keys[id], as: UTF8.self) }

    @inline(__always)
    static func hash(_ b: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in b { h = (h ^ UInt64(c)) &* 0x100_0000_01b3 }
        return h
    }

    /// The id of `b`, adding it when new.
    @inline(__always)
    mutating func id(for b: UnsafeRawBufferPointer) -> Int {
        let h = Self.hash(b)
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = Int(slots[i])
            if s < 0 { break }
            if hashes[s] == h, equal(keys[s], b) { return s }
            i = (i + 1) & mask
        }
        let id = keys.count
        keys.append([UInt8](b))
        hashes.append(h)
        slots[i] = Int32(id)
        if keys.count * 2 > slots.count { grow() }
        return id
    }

    @inline(__always)
    private func equal(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { memcmp($0.baseAddress!, b.baseAddress!, b.count) == 0 }
    }

    private mutating func grow() {
        let c = slots.count * 2
        slots = Array(repeating: -1, count: c)
        mask = c - 1
        for (id, h) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = Int32(id)
        }
    }
}
