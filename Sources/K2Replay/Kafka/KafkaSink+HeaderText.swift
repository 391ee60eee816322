import K2Core

/// The Kafka sink's header values written as decimal text into reused buffers (no allocation
/// per message), and the sink's entry in the registry.
extension KafkaSink {
    /// Writes `v` as decimal ASCII at `offset` (at most 20 bytes); returns the length.
    @inline(__always)
    static func decimal(_ v: Int64, into buf: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        let base = buf.baseAddress! + offset
        let sign = v < 0 ? 1 : 0
        if v < 0 { base.storeBytes(of: 45, as: UInt8.self) }
        let magnitude = v.magnitude
        let digitCount = DecimalDigits.count(magnitude)
        DecimalDigits.write(magnitude, count: digitCount, endingAt: base + sign + digitCount)
        return sign + digitCount
    }

    /// A time header's decimal text at a fixed place in the sink's number buffer, rewritten only
    /// as far as it changed: at `--speed max` the intended time repeats for a batch of messages,
    /// and consecutive receive times mostly share their second, so only the 9 digits of the
    /// nanoseconds are written again.
    struct HeaderNumber {
        let offset: Int
        private var value = Int64.min
        private var second = Int64.min
        private var length = 0

        init(offset: Int) { self.offset = offset }

        /// Makes the text at `offset` that of `v`; returns its length (at most 20).
        @inline(__always)
        mutating func write(_ v: Int64, into buf: UnsafeMutableRawBufferPointer) -> Int {
            if v == value { return length }
            value = v
            guard v >= 1_000_000_000 else {
                second = .min
                length = KafkaSink.decimal(v, into: buf, at: offset)
                return length
            }
            let seconds = v / 1_000_000_000
            if seconds != second {
                second = seconds
                length = KafkaSink.decimal(seconds, into: buf, at: offset) + 9
            }
            DecimalDigits.write(UInt64(v &- seconds &* 1_000_000_000), count: 9, endingAt: buf.baseAddress! + offset + length)
            return length
        }
    }

    /// The `k2-id` sequence's decimal text at a fixed place in the number buffer. Each message's
    /// sequence is the last one plus one: the text is advanced in place (the last digit goes up,
    /// a 9 carries), about one store instead of writing every digit again; any other value, and
    /// a carry out of the first digit (999 → 1000), writes the whole number.
    struct SequenceText {
        let offset: Int
        private var value = Int64.min
        private var length = 0

        init(offset: Int) { self.offset = offset }

        /// Makes the text at `offset` that of `v`; returns its length (at most 20).
        @inline(__always)
        mutating func write(_ v: Int64, into buf: UnsafeMutableRawBufferPointer) -> Int {
            let follows = v > 0 && v == value &+ 1
            value = v
            if follows && addOne(buf.baseAddress! + offset) { return length }
            length = KafkaSink.decimal(v, into: buf, at: offset)
            return length
        }

        /// Adds one to the `length` digits at `text`; false when all were nines (now zeros).
        @inline(__always)
        private func addOne(_ text: UnsafeMutableRawPointer) -> Bool {
            var index = length - 1
            while index >= 0 {
                let digit = text.load(fromByteOffset: index, as: UInt8.self)
                if digit != 57 {
                    text.storeBytes(of: digit &+ 1, toByteOffset: index, as: UInt8.self)
                    return true
                }
                text.storeBytes(of: 48, toByteOffset: index, as: UInt8.self)
                index -= 1
            }
            return false
        }
    }
}

/// `kafka://host:port[,host:port]?topic=TEMPLATE` in the sink registry; `-X` properties go to librdkafka.
enum KafkaSinkMaker: SinkMaker {
    static let schemes = ["kafka"]
    static let usage =
        "kafka://[user:pass@]host:port[,host:port]?topic=TEMPLATE[&headers=off]  librdkafka producer (userinfo: SASL PLAIN); -X key=value for any librdkafka property"

    static func make(_ uri: SinkURI, options: SinkOptions) throws -> any ReplaySink {
        try KafkaSink(parsed: uri, properties: options.properties.map { KafkaSink.KeyValue($0.0, $0.1) }, clock: options.clock)
    }
}
