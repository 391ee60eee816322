/// The ledger's message id, carried in the `k2-id` Kafka header: `RUNID-SEQ`, the sending
/// sink's run id as 16 lowercase hex digits, '-', and the message's sequence from 0 in decimal
/// (`00c0ffee00c0ffee-41`). Written into a reused buffer and parsed without allocating.
package enum MessageID {
    /// The Kafka header's name.
    package static let header: StaticString = "k2-id"
    /// The run id and '-' (bytes before the sequence).
    package static let prefixLength = 17

    /// Writes the run id's 16 hex digits and '-' at `offset`; returns `prefixLength`.
    @discardableResult
    package static func writePrefix(_ run: UInt64, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        for index in 0..<16 {
            let nibble = UInt8((run >> UInt64(60 - 4 * index)) & 0xF)
            buffer[offset + index] = nibble < 10 ? 48 + nibble : 87 + nibble
        }
        buffer[offset + 16] = 45
        return prefixLength
    }

    /// (run, sequence) from a header value, nil when it is not `RUNID-SEQ`.
    package static func parse(_ bytes: UnsafeRawBufferPointer) -> (run: UInt64, sequence: UInt64)? {
        guard bytes.count > prefixLength, bytes.count <= prefixLength + 20, bytes[16] == 45 else { return nil }
        var run: UInt64 = 0
        for index in 0..<16 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case 48...57: digit = byte - 48
            case 97...102: digit = byte - 87
            default: return nil
            }
            run = run << 4 | UInt64(digit)
        }
        var sequence: UInt64 = 0
        for index in prefixLength..<bytes.count {
            let byte = bytes[index]
            guard byte >= 48, byte <= 57 else { return nil }
            let (times10, overflow1) = sequence.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.addingReportingOverflow(UInt64(byte - 48))
            guard !overflow1, !overflow2 else { return nil }
            sequence = next
        }
        return (run, sequence)
    }

    /// `RUNID-SEQ` as text (reports, tests).
    package static func text(run: UInt64, sequence: UInt64) -> String {
        let hex = String(run, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + "-" + String(sequence)
    }
}
