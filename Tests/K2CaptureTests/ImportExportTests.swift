import Foundation
import K2Capture
import K2Core
import K2TestSupport
import Testing

/// Real-looking samples of each foreign format, written by the tests themselves.
enum ImportSamples {
    /// cryptofeed's AsyncFileCallback text file for one Binance connection (`BINANCE.ws.1.0`).
    static let cryptofeedText = """
        configuration: {'exchange': 'BINANCE', 'channels': ['trades'], 'symbols': ['BTC-USDT']}
        wss://stream.binance.com:9443/stream <-> 1618678132.0353117
        wss://stream.binance.com:9443/stream <- 1618678132.0361: {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}
        1618678132.29: {"result":null,"id":1}
        1618678132.3681234: {"stream":"btcusdt@trade","data":{"e":"trade","E":1618678132366,"s":"BTCUSDT","t":790000001,"p":"61234.50","q":"0.012","T":1618678132365,"m":true,"M":true}}
        1618678132.4: {"stream":"btcusdt@trade","data":{"e":"trade","E":1618678132399,"s":"BTCUSDT","t":790000002,"p":"61234.51","q":"0.500","T":1618678132398,"m":false,"M":true}}
        https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000 -> 1618678132.5: {"lastUpdateId":1027024,"bids":[["61234.50","4.0"]],"asks":[["61234.51","12.0"]]}
        1618678133.000001: b'\\x1f\\x8b\\x08\\x00zz\\n'
        wss://stream.binance.com:9443/stream <-> 1618678140.25
        1618678140.5: {"stream":"btcusdt@trade","data":{"e":"trade","E":1618678140499,"s":"BTCUSDT","t":790000010,"p":"61200.00","q":"1.000","T":1618678140498,"m":true,"M":true}}

        """

    /// cryptofeed's JSON-lines recording (format 2) for Kraken, with a binary frame and a reconnect.
    static let cryptofeedJSON = """
        {"t":"header","format":2,"exchange":"KRAKEN","config":{"trades":["BTC-USD"]},"candle_interval":"1m","recorded":1618678130.5}
        {"conn":"KRAKEN.http.0","ts":1618678132.35,"t":"http","url":"https://api.kraken.com/0/public/AssetPairs","data":"{\\"error\\":[],\\"result\\":{}}"}
        {"conn":"KRAKEN.ws.1","ts":1618678132.368,"t":"connect","addr":"wss://ws.kraken.com"}
        {"conn":"KRAKEN.ws.1","ts":1618678132.83,"t":"send","addr":"wss://ws.kraken.com","data":"{\\"event\\":\\"subscribe\\",\\"pair\\":[\\"XBT/USD\\"],\\"subscription\\":{\\"name\\":\\"trade\\"}}"}
        {"conn":"KRAKEN.ws.1","ts":1618678132.91,"t":"recv","data":"{\\"connectionID\\":1,\\"event\\":\\"systemStatus\\",\\"status\\":\\"online\\",\\"version\\":\\"1.9.0\\"}"}
        {"conn":"KRAKEN.ws.1","ts":1618678133.0200001,"t":"recv","data":"[0,[[\\"61234.50000\\",\\"0.01000000\\",\\"1618678133.001\\",\\"b\\",\\"m\\",\\"\\"]],\\"trade\\",\\"XBT/USD\\"]"}
        {"conn":"KRAKEN.ws.1","ts":1618678133.5,"t":"recv","b64":"H4sIAAAAAAAA/w=="}
        {"conn":"KRAKEN.ws.1","ts":1618678140.0,"t":"connect","addr":"wss://ws.kraken.com"}
        {"conn":"KRAKEN.ws.1","ts":1618678140.2,"t":"recv","data":"{\\"event\\":\\"heartbeat\\"}"}

        """

    /// A Tardis.dev raw file: Binance messages with 100 ns local times, a disconnect, more messages.
    static let tardis = """
        2024-03-01T00:00:00.0056353Z {"stream":"btcusdt@trade","data":{"e":"trade","E":1709251200004,"s":"BTCUSDT","t":3456000001,"p":"61500.01","q":"0.002","T":1709251200003,"m":false,"M":true}}
        2024-03-01T00:00:00.0103120Z {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1709251200009,"s":"BTCUSDT","U":4100000001,"u":4100000009,"b":[["61500.00","1.2"]],"a":[]}}

        2024-03-01T00:00:03.5000001Z {"stream":"btcusdt@trade","data":{"e":"trade","E":1709251203499,"s":"BTCUSDT","t":3456000007,"p":"61501.00","q":"0.100","T":1709251203498,"m":true,"M":true}}

        """
}

@Suite struct ImportExportTests {
    let dir = TemporaryDirectory()

    func readAll(_ path: String) throws -> [OwnedRecord] {
        let reader = try CaptureReader(path: path)
        var out: [OwnedRecord] = []
        while let rec = try reader.next() { out.append(rec.owned()) }
        return out
    }

    func cat(_ path: String) throws -> [UInt8] {
        let reader = try CaptureReader(path: path)
        var out: [UInt8] = []
        while let rec = try reader.next() { NDJSONRecord.append(rec, to: &out) }
        return out
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir.file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func text(_ r: OwnedRecord) -> String { String(decoding: r.payload, as: UTF8.self) }

    @Test func decimalSecondsBecomeExactNanoseconds() {
        #expect(DecimalTime.nanos(fromSeconds: "1618678132.3681234") == 1_618_678_132_368_123_400)
        #expect(DecimalTime.nanos(fromSeconds: "1618678132.368") == 1_618_678_132_368_000_000)
        #expect(DecimalTime.nanos(fromSeconds: "1618678132") == 1_618_678_132_000_000_000)
        #expect(DecimalTime.nanos(fromSeconds: "1618678132.1234567891") == 1_618_678_132_123_456_789)  // 10th digit dropped
        #expect(DecimalTime.nanos(fromSeconds: "1.618678132368e9") == 1_618_678_132_368_000_000)
        #expect(DecimalTime.nanos(fromSeconds: "-0.5") == -500_000_000)
        #expect(DecimalTime.nanos(fromSeconds: "1e30") == nil)
        #expect(DecimalTime.nanos(fromSeconds: "abc") == nil)
        #expect(DecimalTime.nanos(fromSeconds: "12.5x") == nil)
    }

    @Test func catThenImportRoundTripsByteForByte() throws {
        let path = dir.file("orig.k2cap")
        let writer = try CaptureWriter(path: path, header: .now(metadata: [("exchange", .string("binance"))]))
        for record in SampleTraffic().records(count: 2000) { try writer.append(record) }
        try writer.append(OwnedRecord(kind: .recv, timestamp: 1_800_000_000_000_000_000, connection: 3, isBinary: true, payload: [0, 1, 2, 255, 10]))
        try writer.append(
            OwnedRecord(
                kind: .http, timestamp: 1_800_000_000_000_000_001, connection: 4, url: "https://api.binance.com/api/v3/depth?symbol=BTCUSDT",
                text: "{\"lastUpdateId\":1,\"note\":\"tab\\there \u{e9} \\\"q\\\"\"}"))
        try writer.append(OwnedRecord(kind: .marker, timestamp: 1_800_000_000_000_000_002, connection: 0, text: "gap detected\nsecond line"))
        try writer.append(OwnedRecord(kind: .disconnect, timestamp: 1_800_000_000_000_000_003, connection: 0, text: #"{"code":1006,"reason":""}"#))
        try writer.close()
        let printed = try cat(path)
        let nd = dir.file("orig.ndjson")
        try Data(printed).write(to: URL(fileURLWithPath: nd))
        let back = dir.file("back.k2cap")
        let summary = try CaptureImporter.run(format: .ndjson, inputs: [nd], output: back)
        #expect(summary.records == 2006)
        #expect(try cat(back) == printed)
        #expect(try readAll(back) == readAll(path))
    }

    @Test func tardisLinesKeep100nsTimesAndDisconnects() throws {
        let plain = try write("binance.json", ImportSamples.tardis)
        _ = try Shell.run("gzip -k -c '\(plain)' > '\(plain).gz'")
        let out = dir.file("tardis.k2cap")
        let summary = try CaptureImporter.run(format: .tardis, inputs: [plain + ".gz"], output: out, exchange: "binance")
        #expect(summary.inputs.first?.compression == "gzip")
        let recs = try readAll(out)
        #expect(recs.map(\.kind) == [.recv, .recv, .disconnect, .recv])
        #expect(recs.map(\.connection) == [0, 0, 0, 1])
        let t0 = TimeText.parseISO8601("2024-03-01T00:00:00Z")!
        #expect(recs[0].timestamp == t0 + 5_635_300)
        #expect(recs[3].timestamp == t0 + 3_500_000_100)
        #expect(recs[2].timestamp == recs[1].timestamp)
        let lines = ImportSamples.tardis.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(text(recs[0]) == String(lines[0].dropFirst(29)))
        #expect(try CaptureReader(path: out).header.metadataValue("exchange") == .string("binance"))
    }

    @Test func cryptofeedTextKeepsEveryKindAndTheBytes() throws {
        let plain = try write("BINANCE.ws.1.0", ImportSamples.cryptofeedText)
        _ = try Shell.run("zstd -q -c '\(plain)' > '\(plain).zst'")
        let out = dir.file("cf.k2cap")
        let summary = try CaptureImporter.run(format: .cryptofeed, inputs: [plain + ".zst"], output: out)
        #expect(summary.inputs.first?.compression == "zstd")
        let recs = try readAll(out)
        #expect(recs.map(\.kind) == [.connect, .send, .recv, .recv, .recv, .http, .recv, .connect, .recv])
        #expect(recs.map(\.connection) == [0, 0, 0, 0, 0, 0, 0, 1, 1])
        #expect(recs[0].timestamp == 1_618_678_132_035_311_700)
        #expect(recs[0].url == Array("wss://stream.binance.com:9443/stream".utf8))
        #expect(text(recs[1]) == #"{"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}"#)
        #expect(recs[3].timestamp == 1_618_678_132_368_123_400)
        #expect(text(recs[3]).hasPrefix(#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1618678132366"#))
        #expect(recs[5].url == Array("https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000".utf8))
        #expect(text(recs[5]).hasPrefix(#"{"lastUpdateId":1027024"#))
        #expect(recs[6].isBinary && recs[6].payload == [0x1F, 0x8B, 0x08, 0x00, 0x7A, 0x7A, 0x0A])
        #expect(recs[6].timestamp == 1_618_678_133_000_001_000)
        let header = try CaptureReader(path: out).header
        #expect(header.metadataValue("cryptofeed_configuration")?.stringValue?.hasPrefix("{'exchange': 'BINANCE'") == true)
        #expect(header.metadataValue("source")?["format"]?.stringValue == "cryptofeed")
    }

    @Test func cryptofeedJSONLinesMapConnectionsAndBase64() throws {
        let plain = try write("KRAKEN.jsonl", ImportSamples.cryptofeedJSON)
        _ = try Shell.run("zstd -q -c '\(plain)' > '\(plain).zst'")
        let out = dir.file("cf3.k2cap")
        let summary = try CaptureImporter.run(format: .cryptofeedV3, inputs: [plain + ".zst"], output: out)
        let recs = try readAll(out)
        #expect(recs.map(\.kind) == [.http, .connect, .send, .recv, .recv, .recv, .connect, .recv])
        #expect(recs.map(\.connection) == [0, 1, 1, 1, 1, 1, 2, 2])
        #expect(summary.inputs[0].connections.map(\.name) == ["KRAKEN.http.0", "KRAKEN.ws.1", "KRAKEN.ws.1"])
        #expect(recs[0].url == Array("https://api.kraken.com/0/public/AssetPairs".utf8))
        #expect(text(recs[0]) == #"{"error":[],"result":{}}"#)
        #expect(recs[1].url == Array("wss://ws.kraken.com".utf8) && recs[1].payload.isEmpty)
        #expect(recs[2].url.isEmpty)
        #expect(recs[4].timestamp == 1_618_678_133_020_000_100)
        #expect(text(recs[4]) == #"[0,[["61234.50000","0.01000000","1618678133.001","b","m",""]],"trade","XBT/USD"]"#)
        #expect(recs[5].isBinary && recs[5].payload == Base64.decode("H4sIAAAAAAAA/w=="))
        let header = try CaptureReader(path: out).header
        #expect(header.metadataValue("exchange") == .string("kraken"))
        #expect(header.metadataValue("cryptofeed_config")?["trades"] != nil)
    }

    /// cryptofeed-v3 lines name things the capture has no field for: where sends went (`addr`)
    /// and the header's `format` / `converted_from`. They are kept in the header's metadata,
    /// even though the first send comes after the first record.
    @Test func cryptofeedJSONKeepsSendAddressesAndHeaderFormat() throws {
        let text =
            ImportSamples.cryptofeedJSON.replacingOccurrences(
                of: #""recorded":1618678130.5}"#, with: #""recorded":1618678130.5,"converted_from":"AsyncFileCallback"}"#)
            + #"{"conn":"KRAKEN.ws.1","ts":1618678140.3,"t":"send","addr":"wss://ws-auth.kraken.com","data":"{}"}"# + "\n"
        let input = try write("KRAKEN-addr.jsonl", text)
        let out = dir.file("cf3-addr.k2cap")
        let summary = try CaptureImporter.run(format: .cryptofeedV3, inputs: [input], output: out)
        let header = try CaptureReader(path: out).header
        #expect(header.metadataValue("cryptofeed_format") == .number("2"))
        #expect(header.metadataValue("cryptofeed_converted_from") == .string("AsyncFileCallback"))
        // One address per connection name, the first it sent to.
        #expect(header.metadataValue("cryptofeed_send_addr") == .object([("KRAKEN.ws.1", .string("wss://ws.kraken.com"))]))
        #expect(header.metadataValue("exchange") == .string("kraken"))
        // The frames were copied under the new header: every record is still there, intact.
        #expect(try readAll(out).count == summary.records)
        #expect(try CaptureVerifier.verify(path: out).intact)
    }

    @Test func severalInputsMergeByTime() throws {
        let first = try write("a.tardis", "2024-03-01T00:00:01.0000000Z A1\n2024-03-01T00:00:03.0000000Z A3\n")
        let second = try write("b.tardis", "2024-03-01T00:00:02.0000000Z B2\n2024-03-01T00:00:03.0000000Z B3\n")
        let out = dir.file("ab.k2cap")
        let summary = try CaptureImporter.run(format: .tardis, inputs: [first, second], output: out)
        let recs = try readAll(out)
        #expect(recs.map(text) == ["A1", "B2", "A3", "B3"])
        #expect(recs.map(\.connection) == [0, 1, 0, 1])
        #expect(summary.renumbered.count == 1)
        #expect(!FileManager.default.fileExists(atPath: out + ".import-0.tmp"))
    }

    @Test func wrongFormatNamesTheFileLineAndTheLikelyFormat() throws {
        let path = try write("really-tardis.ndjson", ImportSamples.tardis)
        let error = #expect(throws: CaptureError.self) {
            try CaptureImporter.run(format: .ndjson, inputs: [path], output: dir.file("x.k2cap"))
        }
        #expect(error?.code == .importFormat)
        #expect(error?.line == 1)
        #expect(error?.description.hasPrefix("\(path):1: expected a `k2 capture cat` line") == true)
        #expect(error?.description.hasSuffix("this looks like --format tardis") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.file("x.k2cap")))

        let cf = try write("cf-as-tardis", ImportSamples.cryptofeedText)
        let e2 = #expect(throws: CaptureError.self) {
            try CaptureImporter.run(format: .tardis, inputs: [cf], output: dir.file("y.k2cap"))
        }
        #expect(e2?.description.contains("\(cf):1: expected a Tardis line") == true)
        #expect(e2?.description.hasSuffix("this looks like --format cryptofeed") == true)

        let nd = try write("bad.ndjson", "{\"kind\":\"recv\",\"ts_ns\":1,\"conn\":0,\"data\":\"x\"}\n{\"kind\":\"recv\",\"conn\":0}\n")
        let e3 = #expect(throws: CaptureError.self) {
            try CaptureImporter.run(format: .ndjson, inputs: [nd], output: dir.file("z.k2cap"))
        }
        #expect(e3?.line == 2)
        #expect(e3?.description.contains("ts_ns") == true)
    }

    @Test func truncatedCompressedInputIsReported() throws {
        var rng = SplitMix64(seed: 9)
        var lines = ""
        for k in 0..<5000 { lines += "2024-03-01T00:00:\(10 + k / 1000).\(1_000_000 + k)Z {\"v\":\(rng.next())}\n" }
        let plain = try write("cut.json", lines)
        _ = try Shell.run("gzip -c '\(plain)' | head -c 3000 > '\(plain).gz'")
        let error = #expect(throws: CaptureError.self) {
            try CaptureImporter.run(format: .tardis, inputs: [plain + ".gz"], output: dir.file("cut.k2cap"))
        }
        #expect(error?.code == .truncated)
        #expect(error?.description.contains("the gzip data ends before its trailer") == true)
    }

    @Test func exportTardisThenImportKeepsMessagesAt100ns() throws {
        let path = dir.file("ex.k2cap")
        let recs = try SampleTraffic().write(to: path, count: 500)
        let tardisPath = dir.file("ex.tardis")
        let fd = open(tardisPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let summary = try CaptureExporter.export(input: path, format: .tardis, filter: RecordFilter(), to: FDOutput(fd: fd))
        close(fd)
        #expect(summary.written == 500 && summary.skipped == 2)  // the connect and send records have no Tardis form
        let back = dir.file("ex-back.k2cap")
        try CaptureImporter.run(format: .tardis, inputs: [tardisPath], output: back)
        let got = try readAll(back)
        let want = recs.filter { $0.kind == .recv }
        #expect(got.map(\.payload) == want.map(\.payload))
        #expect(got.map(\.timestamp) == want.map { $0.timestamp - $0.timestamp % 100 })
    }
}
