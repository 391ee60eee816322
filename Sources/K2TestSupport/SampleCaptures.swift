import K2Capture
import K2Core

#if canImport(Glibc)
import Glibc
#endif

/// Small deterministic Binance-like traffic for tests: combined-stream `trade` and
/// `depthUpdate` messages with continuous ids, from a seeded generator.
package struct SampleTraffic {
    package var seed: UInt64
    package var symbols: [String]
    package var startNanos: Int64
    /// Mean gap between messages, ns.
    package var gapNanos: Int64

    package init(
        seed: UInt64 = 42, symbols: [String] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
        startNanos: Int64 = 1_700_000_000_000_000_000, gapNanos: Int64 = 1_000_000
    ) {
        self.seed = seed
        self.symbols = symbols
        self.startNanos = startNanos
        self.gapNanos = gapNanos
    }

    /// `count` receive records on connection 0, preceded by a connect and a send record.
    package func records(count: Int, depthEvery: Int = 4) -> [OwnedRecord] {
        var rng = SplitMix64(seed: seed)
        var out: [OwnedRecord] = []
        out.reserveCapacity(count + 2)
        let streams = symbols.flatMap { ["\($0.lowercased())@trade", "\($0.lowercased())@depth@100ms"] }
        out.append(
            OwnedRecord(
                kind: .connect, timestamp: startNanos, connection: 0,
                url: "wss://stream.binance.com:9443/stream?streams=" + streams.joined(separator: "/"), text: ""))
        out.append(
            OwnedRecord(
                kind: .send, timestamp: startNanos + 1000, connection: 0,
                text: #"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#))
        var tradeId = [Int64](repeating: 1_000_000, count: symbols.count)
        var updateId = [Int64](repeating: 5_000_000, count: symbols.count)
        var ts = startNanos + 2000
        for i in 0..<count {
            ts += Int64(rng.next() % UInt64(2 * gapNanos))
            let symbolIndex = Int(rng.next() % UInt64(symbols.count))
            let sym = symbols[symbolIndex]
            let ms = ts / 1_000_000
            let text: String
            if depthEvery > 0 && i % depthEvery == depthEvery - 1 {
                let first = updateId[symbolIndex] + 1
                let last = first + Int64(rng.next() % 5)
                updateId[symbolIndex] = last
                text =
                    #"{"stream":"\#(sym.lowercased())@depth@100ms","data":{"e":"depthUpdate","E":\#(ms),"s":"\#(sym)","U":\#(first),"u":\#(last),"b":[["\#(price(&rng)).10","0.500"]],"a":[["\#(price(&rng)).20","1.250"]]}}"#
            } else {
                tradeId[symbolIndex] += 1
                text =
                    #"{"stream":"\#(sym.lowercased())@trade","data":{"e":"trade","E":\#(ms),"s":"\#(sym)","t":\#(tradeId[symbolIndex]),"p":"\#(price(&rng)).12","q":"0.0\#(rng.next() % 900 + 100)","T":\#(ms),"m":\#(rng.next() % 2 == 0),"M":true}}"#
            }
            out.append(OwnedRecord(kind: .recv, timestamp: ts, connection: 0, text: text))
        }
        return out
    }

    private func price(_ rng: inout SplitMix64) -> Int { 30_000 + Int(rng.next() % 5_000) }

    /// Writes the records into a capture at `path` and returns them.
    @discardableResult
    package func write(to path: String, count: Int, options: CaptureWriter.Options = .init()) throws -> [OwnedRecord] {
        let recs = records(count: count)
        let writer = try CaptureWriter(
            path: path,
            header: CaptureHeader(
                createdNanos: startNanos, host: "test",
                metadata: [("exchange", .string("binance"))]), options: options)
        for record in recs { try writer.append(record) }
        try writer.close()
        return recs
    }
}

/// Damages a file for tests: XORs the byte at `offset` with 0x5A.
package func flipByte(in path: String, at offset: Int64) {
    let fd = open(path, O_RDWR)
    precondition(fd >= 0, "open \(path)")
    defer { close(fd) }
    var byte: UInt8 = 0
    precondition(pread(fd, &byte, 1, off_t(offset)) == 1, "read byte \(offset) of \(path)")
    byte ^= 0x5A
    precondition(pwrite(fd, &byte, 1, off_t(offset)) == 1, "write byte \(offset) of \(path)")
}

/// A temporary directory removed when the value is released.
package final class TemporaryDirectory: Sendable {
    package let path: String

    package init(prefix: String = "k2test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = created.map { String(cString: $0) } ?? "/tmp/\(prefix)-\(getpid())"
    }

    package func file(_ name: String) -> String { path + "/" + name }

    deinit {
        _ = system("rm -rf '\(path)'")
    }
}
