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
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { keys.count }

    func key(_ id: Int) -> String { String(decoding: keys[id], as: UTF8.self) }

    @inline(__always)
    static func hash(_ b: UnsafeRawBufferPointer) -> UInt64 {
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in b { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return digest
    }

    /// The id of `b`, adding it when new.
    @inline(__always)
    mutating func id(for b: UnsafeRawBufferPointer) -> Int {
        let digest = Self.hash(b)
        var slot = Int(truncatingIfNeeded: digest) & mask
        while true {
            let keyID = Int(slots[slot])
            if keyID < 0 { break }
            if hashes[keyID] == digest, equal(keys[keyID], b) { return keyID }
            slot = (slot + 1) & mask
        }
        let id = keys.count
        keys.append([UInt8](b))
        hashes.append(digest)
        slots[slot] = Int32(id)
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
        let size = slots.count * 2
        slots = Array(repeating: -1, count: size)
        mask = size - 1
        for (id, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id)
        }
    }
}
