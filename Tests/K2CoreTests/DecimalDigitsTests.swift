import K2Core
import Testing

@Suite struct DecimalDigitsTests {
    static func text(_ value: UInt64, count: Int) -> String {
        var bytes = [UInt8](repeating: 0x2A, count: count + 2)
        bytes.withUnsafeMutableBytes { DecimalDigits.write(value, count: count, endingAt: $0.baseAddress! + 1 + count) }
        // The bytes either side stay untouched.
        #expect(bytes.first == 0x2A && bytes.last == 0x2A)
        return String(decoding: bytes[1...count], as: UTF8.self)
    }

    @Test func countsTheDigitsAtEveryPowerOfTen() {
        #expect(DecimalDigits.count(0) == 1)
        #expect(DecimalDigits.count(.max) == 20)
        var power: UInt64 = 1
        for digits in 1...19 {
            #expect(DecimalDigits.count(power) == digits)
            #expect(DecimalDigits.count(power - 1) == max(digits - 1, 1))
            power &*= 10
        }
    }

    @Test func writesWhatStringDescribingWritesForSeededValuesOfEveryLength() {
        var random = SplitMix64(seed: 17)
        for _ in 0..<20_000 {
            let value = random.next() >> UInt64.random(in: 0..<64, using: &random)
            let count = DecimalDigits.count(value)
            #expect(Self.text(value, count: count) == String(value))
        }
        #expect(Self.text(.max, count: 20) == "18446744073709551615")
        #expect(Self.text(0, count: 1) == "0")
    }

    @Test func padsWithZerosAndKeepsOnlyTheLastDigits() {
        #expect(Self.text(7, count: 9) == "000000007")
        #expect(Self.text(1_234, count: 3) == "234")
        #expect(Self.text(1_234, count: 4) == "1234")
        #expect(Self.text(0, count: 4) == "0000")
    }
}
