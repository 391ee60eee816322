import K2Replay
import Testing

/// The ledger's `k2-id` (`RUNID-SEQ`) and the bitmap of sequences it is reconciled with.
struct MessageIDTests {
    @Test func writtenPrefixAndSequenceParseBack() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        let run: UInt64 = 0x00c0_ffee_0000_beef
        #expect(MessageID.writePrefix(run, into: buffer, at: 0) == 17)
        for (index, byte) in "41".utf8.enumerated() { buffer[17 + index] = byte }
        let value = UnsafeRawBufferPointer(rebasing: buffer[0..<19])
        #expect(String(decoding: value, as: UTF8.self) == "00c0ffee0000beef-41")
        #expect(MessageID.text(run: run, sequence: 41) == "00c0ffee0000beef-41")
        let parsed = MessageID.parse(value)
        #expect(parsed?.run == run && parsed?.sequence == 41)
    }

    @Test func valuesThatAreNotAnIDAreRejected() {
        for text in [
            "", "00c0ffee0000beef-", "00c0ffee0000beef41", "00C0FFEE0000BEEF-1", "00c0ffee0000beef-1x",
            "00c0ffee0000beef-99999999999999999999", "0c0ffee0000beef-1",
        ] {
            let bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBytes { MessageID.parse($0) } == nil, "\(text)")
        }
    }

    @Test func bitmapCountsDuplicatesAndTheFirstMissing() {
        var sent = SequenceBitmap()
        var read = SequenceBitmap()
        for sequence in UInt64(0)..<1000 { sent.insert(sequence) }
        var fresh = 0
        for sequence in UInt64(0)..<1000 where sequence % 100 != 7 && read.insert(sequence) { fresh += 1 }
        let again = read.insert(5)
        #expect(fresh == 990 && !again)
        #expect(sent.count == 1000 && read.count == 990)
        let missing = sent.subtracting(read, first: 3)
        #expect(missing.count == 10 && missing.first == [7, 107, 207])
        #expect(read.subtracting(sent, first: 3).count == 0)
        #expect(read.contains(999) && !read.contains(7) && !read.contains(5000))
    }
}
