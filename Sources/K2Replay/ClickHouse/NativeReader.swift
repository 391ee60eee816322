/// Buffered reads of the native protocol's primitives (little-endian integers, LEB128 varints,
/// length-prefixed strings) from a byte source: one 64 KiB buffer, refilled by `fill`, so
/// skipping values allocates nothing.
final class NativeReader {
    enum Failure: Error, Equatable {
        /// The source ended (the peer closed the connection).
        case closed
        /// The bytes do not follow the protocol.
        case malformed(String)
        /// The source reported an error (timeout, reset, …).
        case source(String)
    }

    /// Fills the buffer it is given; returns the bytes written (0: the source ended).
    typealias Fill = (UnsafeMutableRawBufferPointer) throws(Failure) -> Int

    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
    private var start = 0
    private var end = 0
    var fill: Fill
    /// Bytes consumed since `resetCount()` (whether an answer has begun).
    private(set) var consumed = 0

    init(fill: @escaping Fill) { self.fill = fill }

    deinit { buffer.deallocate() }

    /// Drops what is buffered (a new connection).
    func reset() {
        start = 0
        end = 0
        consumed = 0
    }

    func resetCount() { consumed = 0 }

    private func refill() throws(Failure) {
        if start == end {
            start = 0
            end = 0
        }
        if end == buffer.count {
            // Move the unread tail to the front.
            let unread = end - start
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: unread)
            start = 0
            end = unread
        }
        let count = try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        guard count > 0 else { throw .closed }
        end += count
    }

    func byte() throws(Failure) -> UInt8 {
        if start == end { try refill() }
        defer {
            start += 1
            consumed += 1
        }
        return buffer[start]
    }

    func varUInt() throws(Failure) -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            let next = try byte()
            value |= UInt64(next & 0x7F) << UInt64(shift)
            if next & 0x80 == 0 { return value }
        }
        throw .malformed("a varint longer than 10 bytes")
    }

    /// A varint length that must fit in memory (at most 1 GiB).
    func length() throws(Failure) -> Int {
        let value = try varUInt()
        guard value <= 1 << 30 else { throw .malformed("a length of \(value) bytes") }
        return Int(value)
    }

    private func fixed<T: FixedWidthInteger>(_: T.Type) throws(Failure) -> T {
        let size = MemoryLayout<T>.size
        while end - start < size { try refill() }
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + size)])) }
        start += size
        consumed += size
        return T(littleEndian: value)
    }

    func int32() throws(Failure) -> Int32 { try fixed(Int32.self) }
    func uint64() throws(Failure) -> UInt64 { try fixed(UInt64.self) }

    func string() throws(Failure) -> String {
        let count = try length()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        var left = count
        while left > 0 {
            if start == end { try refill() }
            let take = min(left, end - start)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + take)]))
            start += take
            consumed += take
            left -= take
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func skip(_ count: Int) throws(Failure) {
        var left = count
        while left > 0 {
            if start == end { try refill() }
            let take = min(left, end - start)
            start += take
            consumed += take
            left -= take
        }
    }
}
