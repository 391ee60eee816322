import K2Core
import Testing

@testable import K2Replay

/// The Kafka sink's header numbers: `KafkaSink.decimal`, `HeaderNumber` (which rewrites
/// only the digits that changed) and `SequenceText` (which adds one in place) give the text
/// `String(v)` gives, in any order of values.
@Suite struct KafkaHeaderTextTests {
    func text(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int, length: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + length)]), as: UTF8.self)
    }

    @Test func decimalWritesEveryWidth() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        var values: [Int64] = [0, 1, 9, 10, 99, 100, -1, -10, -99, Int64.max, Int64.min, Int64.min + 1]
        var power: Int64 = 1
        for _ in 0..<18 {
            power *= 10
            values += [power - 1, power, power + 1, -power]
        }
        for value in values {
            let length = KafkaSink.decimal(value, into: buffer, at: 7)
            #expect(text(buffer, at: 7, length: length) == String(value))
        }
    }

    @Test func headerNumberFollowsAnySequenceOfTimes() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        var number = KafkaSink.HeaderNumber(offset: 32)
        var rng = SplitMix64(seed: 5)
        var value: Int64 = 1_700_000_000_999_999_990
        var values: [Int64] = [5, -3, 999_999_999, 1_000_000_000, 1_000_000_000, 9_999_999_999, 10_000_000_001, Int64.max, 0]
        for _ in 0..<2_000 {
            // Mostly small steps within a second, some across seconds, some repeats.
            value += Int64(rng.next() % 4 == 0 ? 0 : rng.next() % 300_000_000)
            values.append(value)
        }
        values += [42, 1_700_000_000_000_000_000, 1_699_999_999_999_999_999, 99_999_999_999_999_999]
        for value in values {
            let length = number.write(value, into: buffer)
            #expect(text(buffer, at: 32, length: length) == String(value))
        }
    }

    /// `SequenceText` advances the text in place from one sequence to the next, across every
    /// carry (9 → 10, 999 → 1000), and writes it whole for any other step.
    @Test func sequenceTextFollowsConsecutiveAndOtherSequences() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        var sequence = KafkaSink.SequenceText(offset: 40)
        var values = Array(Int64(0)...Int64(12_345))
        values += [99_998, 99_999, 100_000, 100_001, 7, 8, 8, 0, 1, 999_999_999_999_999_998, 999_999_999_999_999_999]
        values += [1_000_000_000_000_000_000, 1_000_000_000_000_000_001, Int64.max - 1, Int64.max, 3, 2, 10, 11]
        for value in values {
            let length = sequence.write(value, into: buffer)
            #expect(text(buffer, at: 40, length: length) == String(value))
        }
    }
}
