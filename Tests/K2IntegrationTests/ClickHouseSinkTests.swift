import Foundation
import K2Capture
import K2Core
import K2Replay
import K2TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The clickhouse:// sink against a real clickhouse-server, checked over HTTP with curl.
@Suite(.serialized)
struct ClickHouseSinkTests {
    @Test func rawModeWritesEveryMessage() throws {
        let server = try ClickHouseServer.start()
        defer { server.stop() }
        let records = SampleTraffic(seed: 5).records(count: 12_345)
        let sink = try ClickHouseSink(uri: server.sinkURI(database: "k2", query: "mode=raw&create_tables=1&batch=5000"))
        let sent = try SinkDriver.run(sink, records: records)
        let c = sink.counts
        #expect(c.delivered == UInt64(sent), "failures: \(c.failureReasons)")
        #expect(c.failed == 0)
        #expect(sink.batchesWritten == 3)
        #expect(try server.query("SELECT count() FROM k2.raw_messages").trimmingCharacters(in: .whitespacesAndNewlines) == "\(sent)")
        // Spot check: the 1000th received message, byte for byte.
        let r = records.filter { $0.kind == .recv }[999]
        let row = try server.query("SELECT exchange, connection, stream, payload FROM k2.raw_messages WHERE receive_ns = \(r.timestamp) FORMAT TSV")
        let payload = String(decoding: r.payload, as: UTF8.self)
        let stream = payload.split(separator: "\"")[3]
        #expect(row.trimmingCharacters(in: .newlines) == "binance\t0\t\(stream)\t\(payload)")
        #expect(sink.insertLatency.totalCount == 3)
        #expect(sink.stats.latencyFromIntended.totalCount == UInt64(sent))
        // The ledger id: one distinct RUNID-SEQ per row, read with the server's own functions.
        let ids = try server.query(
            "SELECT count(), uniqExact(k2_id), countIf(match(k2_id, '^[0-9a-f]{16}-[0-9]+$')), uniqExact(substring(k2_id, 1, 16)) FROM k2.raw_messages FORMAT TSV"
        )
        #expect(ids.trimmingCharacters(in: .whitespacesAndNewlines) == "\(sent)\t\(sent)\t\(sent)\t1")
        let reconciled = try #require(try sink.reconcileByID())
        #expect(reconciled.rows == UInt64(sent) && reconciled.distinct == UInt64(sent))
        let idStats = sink.stats.details.first { $0.0 == "ids" }?.1
        #expect(idStats?["written_twice"]?.int64Value == 0 && idStats?["rows"]?.int64Value == Int64(sent))
    }

    /// The same rows whichever way the inserts go: streamed (many chunks per insert), whole
    /// batches sorted by the table's key (the default), whole batches in arrival order. Every
    /// message lands, one insert per batch; every column of every row is the same.
    @Test func streamedSortedAndUnsortedInsertsWriteTheSameRows() throws {
        let server = try ClickHouseServer.start()
        defer { server.stop() }
        let records = SampleTraffic(seed: 7).records(count: 6_000)
        let variants = [("chunked", "stream=on"), ("sorted", "sort=on"), ("unsorted", "sort=off")]
        for mode in [ClickHouseSink.Mode.raw, .trades] {
            for (table, query) in variants {
                var o = ClickHouseSink.Options(host: "127.0.0.1", port: server.httpPort, database: "k2", mode: mode, table: "\(mode)_\(table)")
                o.streaming = query == "stream=on"
                o.sortRows = query != "sort=off"
                o.createTables = true
                o.batchRows = 2_500
                o.chunkRows = 300
                let sink = try ClickHouseSink(uri: "clickhouse://127.0.0.1:\(server.httpPort)/k2?\(query)", options: o)
                let sent = try SinkDriver.run(sink, records: records)
                #expect(sink.counts.delivered == UInt64(sent), "failures: \(sink.counts.failureReasons)")
                if mode == .raw { #expect(sink.batchesWritten == UInt64((sent + 2_499) / 2_500)) }
            }
            let columns =
                mode == .raw
                ? "exchange, connection, stream, receive_ns, payload"
                : "message_id, exchange, symbol, exchange_timestamp_ms, price, quantity, side, trade_id, receive_ns"
            let sums = try variants.map { t, _ in
                try server.query("SELECT count(), sum(cityHash64(\(columns))) FROM k2.\(mode)_\(t) FORMAT TSV")
            }
            #expect(Set(sums).count == 1, "\(mode): \(sums)")
            let expected = mode == .raw ? records.filter { $0.kind == .recv }.count : SinkDriver.count(records, containing: "\"e\":\"trade\"")
            #expect(sums[0].hasPrefix("\(expected)\t"), "\(mode): \(sums[0])")
        }
        for bad in ["stream=maybe", "sort=yes"] {
            #expect(throws: ReplayError.self) { _ = try ClickHouseSink(uri: "clickhouse://127.0.0.1:8123/db?\(bad)") }
        }
    }

    /// A table of the old shape (no `k2_batch` column) still takes the rows; the sink then
    /// cannot check an ambiguous failure and says so in its details.
    @Test func tableWithoutTheBatchColumnStillTakesTheRows() throws {
        let server = try ClickHouseServer.start()
        defer { server.stop() }
        try server.query(
            """
            CREATE TABLE default.old_raw (exchange String, connection UInt32, stream String, receive_ns UInt64, payload String, \
            extra String DEFAULT 'x') ENGINE = MergeTree ORDER BY (exchange, stream, receive_ns)
            """)
        let records = SampleTraffic(seed: 6).records(count: 3_000)
        let sink = try ClickHouseSink(uri: server.sinkURI(query: "mode=raw&table=old_raw&batch=1000"))
        let sent = try SinkDriver.run(sink, records: records)
        #expect(sink.counts.delivered == UInt64(sent), "failures: \(sink.counts.failureReasons)")
        #expect(try server.query("SELECT count() FROM default.old_raw").trimmingCharacters(in: .whitespacesAndNewlines) == "\(sent)")
        #expect(sink.stats.details.contains { $0.0 == "batch_ids" && $0.1 == .bool(false) })
        // The tables k2 creates carry the insert id: one distinct k2_batch per insert.
        let withIDs = try ClickHouseSink(uri: server.sinkURI(query: "mode=raw&table=new_raw&batch=1000&create_tables=1"))
        let sentNew = try SinkDriver.run(withIDs, records: records)
        #expect(withIDs.stats.details.contains { $0.0 == "batch_ids" && $0.1 == .bool(true) })
        let ids = try server.query("SELECT uniqExact(k2_batch), countIf(k2_batch = 0) FROM default.new_raw FORMAT TSV")
        #expect(ids.trimmingCharacters(in: .newlines) == "\((sentNew + 999) / 1000)\t0")
    }

    @Test func tradesModeParsesTheMarketDataV2Shape() throws {
        let server = try ClickHouseServer.start()
        defer { server.stop() }
        let records = SampleTraffic(seed: 9).records(count: 8_000)
        let trades = SinkDriver.count(records, containing: "\"e\":\"trade\"")
        let sink = try ClickHouseSink(uri: server.sinkURI(query: "mode=trades&create_tables=1&flush_ms=200"))
        let sent = try SinkDriver.run(sink, records: records)
        #expect(sink.counts.delivered == UInt64(sent))
        #expect(sink.skipped == UInt64(sent - trades))
        #expect(sink.rowsWritten == UInt64(trades))
        #expect(try server.query("SELECT count() FROM default.trades").trimmingCharacters(in: .whitespacesAndNewlines) == "\(trades)")
        // Spot check one trade against its source message.
        let src = records.first { $0.kind == .recv && String(decoding: $0.payload, as: UTF8.self).contains("\"e\":\"trade\"") }!
        let v = try JSONParser.parse(src.payload)
        let d = v["data"]!
        let tid = d["t"]!.numberText!, sym = d["s"]!.stringValue!, ms = d["T"]!.numberText!
        let row = try server.query(
            "SELECT message_id, symbol, exchange_timestamp_ms, price, quantity, side, trade_id FROM default.trades WHERE trade_id = '\(tid)' AND symbol = '\(sym)' FORMAT TSV"
        )
        let side = d["m"]! == .bool(true) ? "sell" : "buy"
        let expected =
            "binance:\(ms):\(sym):\(tid)\t\(sym)\t\(ms)\t\(Double(d["p"]!.stringValue!)!)\t\(Double(d["q"]!.stringValue!)!)\t\(side)\t\(tid)"
        #expect(row.trimmingCharacters(in: .newlines) == expected)
    }

    @Test func krakenAndCoinbaseTradesLand() throws {
        let server = try ClickHouseServer.start()
        defer { server.stop() }
        let kraken = OwnedRecord(
            kind: .recv, timestamp: 1_700_000_000_000_000_000, connection: 1,
            text:
                #"[337,[["37080.10000","0.00015891","1700000000.123456","b","m",""],["37080.20000","0.5","1700000000.223456","s","l",""]],"trade","XBT/USD"]"#
        )
        let coinbase = OwnedRecord(
            kind: .recv, timestamp: 1_700_000_000_100_000_000, connection: 2,
            text:
                #"{"channel":"market_trades","client_id":"","timestamp":"2023-11-14T22:13:20.1Z","sequence_num":0,"events":[{"type":"update","trades":[{"trade_id":"5555","product_id":"BTC-USD","price":"37000.5","size":"0.01","side":"SELL","time":"2023-11-14T22:13:20.05Z"}]}]}"#
        )
        let sinkK = try ClickHouseSink(uri: server.sinkURI(query: "mode=trades&create_tables=1"))
        try SinkDriver.run(sinkK, records: [kraken], exchange: "kraken")
        let sinkC = try ClickHouseSink(uri: server.sinkURI(query: "mode=trades"))
        try SinkDriver.run(sinkC, records: [coinbase], exchange: "coinbase")
        let rows = try server.query(
            "SELECT exchange, symbol, exchange_timestamp_ms, price, quantity, side, message_id FROM default.trades ORDER BY exchange_timestamp_ms FORMAT TSV"
        )
        #expect(
            rows == """
                coinbase\tBTC-USD\t1700000000050\t37000.5\t0.01\tsell\tcoinbase:1700000000050:BTC-USD:5555
                kraken\tXBT/USD\t1700000000123\t37080.1\t0.00015891\tbuy\tkraken:1700000000123:XBT/USD:1700000000123456-0
                kraken\tXBT/USD\t1700000000223\t37080.2\t0.5\tsell\tkraken:1700000000223:XBT/USD:1700000000223456-1

                """)
    }

    /// Coinbase Exchange (`ws-feed`): `last_match` after subscribing, then `match` messages, mixed
    /// with the feed's other messages. Every match is a row; book, ticker, heartbeat and ack
    /// messages are skipped; a message kind nobody knows fails by kind (it was delivered before).
    @Test func coinbaseExchangeFeedMatchesLandAndUnreadableMessagesFail() throws {
        let server = try ClickHouseServer.start()
        defer { server.stop() }
        let texts = [
            #"{"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD"]},{"name":"level2_batch","product_ids":["BTC-USD"]}]}"#,
            #"{"type":"last_match","trade_id":740000001,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","side":"buy","size":"0.00513","price":"37000.01","product_id":"BTC-USD","sequence":68000000001,"time":"2023-11-14T22:13:20.000100Z"}"#,
            #"{"type":"snapshot","product_id":"BTC-USD","bids":[["37000.00","0.5"]],"asks":[["37000.02","0.25"]]}"#,
            #"{"type":"match","trade_id":740000002,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e9","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea2","side":"sell","size":"0.1","price":"37000.02","product_id":"BTC-USD","sequence":68000000005,"time":"2023-11-14T22:13:20.200Z"}"#,
            #"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","37000.00","0.4"]],"time":"2023-11-14T22:13:20.210Z"}"#,
            #"{"type":"ticker","sequence":68000000005,"product_id":"BTC-USD","price":"37000.02","side":"buy","time":"2023-11-14T22:13:20.200Z","trade_id":740000002,"last_size":"0.1"}"#,
            #"{"type":"heartbeat","last_trade_id":740000002,"product_id":"BTC-USD","sequence":68000000006,"time":"2023-11-14T22:13:20.900Z"}"#,
            #"{"type":"match","trade_id":740000003,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60ea","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea3","side":"buy","size":"2","price":"36999.99","product_id":"BTC-USD","sequence":68000000007,"time":"2023-11-14T22:13:21.300Z"}"#,
            #"{"type":"auction","product_id":"BTC-USD","sequence":68000000008,"auction_state":"collection"}"#,
        ]
        let records = texts.enumerated().map { i, t in
            OwnedRecord(kind: .recv, timestamp: 1_700_000_000_000_000_000 + Int64(i) * 1_000_000, connection: 1, text: t)
        }
        let sink = try ClickHouseSink(uri: server.sinkURI(query: "mode=trades&create_tables=1"))
        try SinkDriver.run(sink, records: records, exchange: "coinbase")
        #expect(sink.rowsWritten == 3)
        #expect(sink.skipped == 5)
        #expect(sink.counts.delivered == 8)
        #expect(sink.counts.failed == 1)
        #expect(sink.counts.failureReasons == ["mode=trades cannot read auction messages": 1])
        let rows = try server.query(
            "SELECT symbol, exchange_timestamp_ms, price, quantity, side, trade_id, message_id FROM default.trades ORDER BY exchange_timestamp_ms FORMAT TSV"
        )
        // side: the maker's side in the feed, the taker's in the row.
        #expect(
            rows == """
                BTC-USD	1700000000000	37000.01	0.00513	sell	740000001	coinbase:1700000000000:BTC-USD:740000001
                BTC-USD	1700000000200	37000.02	0.1	buy	740000002	coinbase:1700000000200:BTC-USD:740000002
                BTC-USD	1700000001300	36999.99	2	sell	740000003	coinbase:1700000001300:BTC-USD:740000003

                """)
    }

    @Test func wrongTableIsOneLineWithClickHousesMessage() throws {
        let server = try ClickHouseServer.start()
        defer { server.stop() }
        let sink = try ClickHouseSink(uri: server.sinkURI(query: "mode=raw&table=no_such_table"))
        do {
            try sink.open()
            Issue.record("open() accepted a missing table")
        } catch let e as ReplayError {
            #expect(e.code == .unreachable)
            #expect(e.description.contains("no_such_table"))
            #expect(e.description.contains("doesn't exist"))
            #expect(!e.description.contains("\n"))
        }
    }

    @Test func unreachableServerIsOneLine() throws {
        let sink = try ClickHouseSink(uri: "clickhouse://127.0.0.1:\(FreePort.next())/default?mode=raw")
        #expect {
            try sink.open()
        } throws: { e in
            (e as? ReplayError)?.code == .unreachable && !"\(e)".contains("\n")
        }
        #expect(throws: ReplayError.self) { _ = try ClickHouseSink(uri: "clickhouse://127.0.0.1:8123/db?mode=gold") }
    }

    /// The server is paused while an insert is out and `finish`'s wait ends first: the
    /// unanswered insert's messages are unknown (the server may still write them), the queued
    /// ones failed, none in flight — before this they stayed "in flight" with no reason.
    @Test func finishGivingUpReportsTheUnansweredInsertAsUnknown() throws {
        let server = try ClickHouseServer.start()
        defer {
            if server.pid > 0 { kill(server.pid, SIGCONT) }
            server.stop()
        }
        let records = SampleTraffic(seed: 17).records(count: 3_000)
        let sink = try ClickHouseSink(uri: server.sinkURI(query: "mode=raw&create_tables=1&batch=1000&timeout_ms=20000"))
        try sink.open()
        kill(server.pid, SIGSTOP)
        try SinkDriver.sendAll(sink, records: records)
        try sink.finish(timeoutNanos: 2_000_000_000)
        let c = sink.counts
        #expect(c.sent == UInt64(records.filter { $0.kind == .recv }.count))
        #expect(c.delivered == 0)
        #expect(c.unknown > 0 && c.unknown <= 1_000, "\(c.unknownReasons)")
        #expect(c.unknownReasons.keys.contains { $0.contains("still unanswered when the 2 s finish wait ended") }, "\(c.unknownReasons)")
        #expect(c.failed == c.sent - c.unknown, "\(c.failureReasons)")
        #expect(c.inFlight == 0)
    }

    /// ClickHouse goes away mid-run: the inserts still pending fail after bounded retries and
    /// every message is accounted for.
    @Test func serverGoneMidRunAccountsForEveryMessage() throws {
        let server = try ClickHouseServer.start()
        let records = SampleTraffic(seed: 13).records(count: 4_000)
        let sink = try ClickHouseSink(uri: server.sinkURI(query: "mode=raw&create_tables=1&batch=1000&retries=2"))
        try sink.open()
        try SinkDriver.sendAll(sink, records: Array(records.prefix(2_000)))
        let t0 = Date()
        while sink.counts.inFlight > 0, Date().timeIntervalSince(t0) < 20 { usleep(20_000) }
        server.stop()
        try SinkDriver.sendAll(sink, records: Array(records.suffix(from: 2_000)))
        try sink.finish(timeoutNanos: 30_000_000_000)
        let c = sink.counts
        #expect(c.sent == UInt64(records.filter { $0.kind == .recv }.count))
        #expect(c.delivered + c.failed == c.sent)
        #expect(c.delivered >= 1_998)
        #expect(c.failed >= 2_000)
    }
}
