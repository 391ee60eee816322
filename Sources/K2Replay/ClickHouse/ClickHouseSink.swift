import Foundation
import K2Capture
import K2Core

/// `clickhouse://host:8123/db?mode=raw|trades[&table=…][&batch=N][&flush_ms=M][&create_tables=1][&sort=off][&stream=on]`
/// — replays into ClickHouse over HTTP (libcurl), RowBinary inserts batched by size and time on
/// the sink's own thread.
///
/// By default the engine encodes a whole batch (`batch` rows, or what came in `flush_ms` after
/// its first row), the writer thread puts its rows in the table's key order (`RowSorter`: the
/// server then skips its own sort) and posts it while the engine encodes the next one.
/// `stream=on`: the engine encodes rows into chunks of `chunkRows` and the writer opens the
/// insert (chunked transfer encoding) as soon as the first chunk is ready, handing each chunk to
/// the server as it closes, so the server parses while the engine encodes (rows unsorted; the
/// batch still lands as one part). `sort=off`: rows in arrival order.
///
/// - `raw` (default table `raw_messages`): the bronze shape — exchange, connection, stream,
///   receive_ns, payload — one row per message.
/// - `trades` (default table `trades`): Binance trade/aggTrade, Kraken v1 trade arrays and
///   Coinbase market_trades in the MarketDataV2 shape (symbol, exchange, exchange_timestamp_ms,
///   price, quantity, side, trade_id, message_id `{exchange}:{timestamp_ms}:{symbol}:{trade_id}`).
///   Messages without a trade (order book, heartbeats) are delivered with nothing to write and
///   counted in `skipped`.
///
/// Accounting: a message is delivered when the insert holding it returns 200, failed with
/// ClickHouse's message (or the transport error) when the insert still fails after
/// `retries` attempts. When an insert could not reach the server after its retries, the
/// server counts as gone: batches still queued fail without more attempts and the next `send`
/// throws (the replay stops; the engine counts the rest as never sent).
public final class ClickHouseSink: ReplaySink, @unchecked Sendable {
    // unchecked: batches and counters under `cond`; send/finish from the engine's thread, the rest on the writer thread.
    public enum Mode: String, Sendable { case raw, trades }

    /// Settings of the ClickHouse sink (from the URI).
    public struct Options: Sendable {
        public var host: String
        public var port: Int
        public var database: String
        public var mode: Mode
        public var table: String
        /// Rows per insert.
        public var batchRows: Int = 50_000
        /// A non-empty batch is inserted at the latest this long after its first row.
        public var flushMillis: Int = 1000
        /// Issue `CREATE DATABASE/TABLE IF NOT EXISTS` in `open()`.
        public var createTables: Bool = false
        /// Attempts per insert before its messages count as failed.
        public var retries: Int = 3
        /// Batches' worth of rows waiting for the writer before `send` waits (backpressure, never drops).
        public var maxPendingBatches: Int = 4
        /// Rows per chunk handed to the writer while an insert streams (`batchRows` when not streaming).
        public var chunkRows: Int = 4096
        /// Stream each insert's rows to the server while they are encoded (chunked transfer
        /// encoding); the rows then go in arrival order.
        public var streaming: Bool = false
        /// Each whole insert's rows in the table's key order (`RowSorter`).
        public var sortRows: Bool = true

        public init(host: String, port: Int = 8123, database: String = "default", mode: Mode = .raw, table: String? = nil) {
            self.host = host
            self.port = port
            self.database = database
            self.mode = mode
            self.table = table ?? (mode == .raw ? "raw_messages" : "trades")
        }
    }

    public let uri: String
    public let options: Options
    private let clock: any NanoClock
    private var http: ClickHouseHTTP?
    private let cond = Condition()
    // Guarded by cond:
    private var current = Batch()
    /// Closed chunks the writer has not taken yet, and their rows.
    private var pending: [Batch] = []
    private var pendingRows = 0
    /// Rows of the insert being filled in chunks already closed (the insert ends at `batchRows`).
    private var insertRows = 0
    private var stopping = false
    private var writerDone = false
    /// Set when an insert still failed to reach the server after its retries: the server is gone.
    private var gone: String?
    private let recorder: SinkRecorder
    private var _skipped: UInt64 = 0
    private var localSent: UInt64 = 0
    private var localBytes: UInt64 = 0
    private var _rows: UInt64 = 0
    private var _batches: UInt64 = 0
    private var insertTime = Histogram(unit: .nanoseconds)
    private var writer: JoinableThread?
    /// Writer thread only: orders the rows of whole (non-streamed) inserts, into `sortedRows`.
    private var sorter: RowSorter
    private var sortedRows = RowBinary(capacity: 0)
    private var spare: [Batch] = []

    struct Batch {
        var rows = RowBinary(capacity: 0)
        var rowCount = 0
        /// Where each row starts in `rows`.
        var rowStarts: [Int] = []
        var intended: [Int64] = []
        var actual: [Int64] = []
        var bytes: UInt64 = 0
        var startedMono: Int64 = 0
        /// The last chunk of its insert.
        var endsInsert = false
        var messages: Int { intended.count }

        /// Encodes the message's row(s); returns how many (0: nothing to write, nothing kept).
        @inline(__always)
        mutating func add(_ message: borrowing ReplayMessage, mode: Mode) -> Int {
            let rec = message.record
            var n = 0
            switch mode {
            case .raw:
                rowStarts.append(rows.count)
                rows.string(message.exchange)
                rows.uint32(rec.connection)
                if let s = message.fields.stream { rows.string(s) } else { rows.varint(0) }
                rows.uint64(UInt64(bitPattern: message.captureNanos))
                rows.string(rec.payload)
                n = 1
            case .trades:
                let exchange = message.exchange
                let receive = UInt64(bitPattern: message.captureNanos)
                let w = rows
                n = TradeParser.parse(rec.payload, fields: message.fields) { t in
                    rowStarts.append(w.count)
                    ClickHouseSink.encode(t, exchange: exchange, receive: receive, into: w)
                }
            }
            guard n > 0 else { return 0 }
            rowCount += n
            intended.append(message.intendedNanos)
            actual.append(message.actualNanos)
            bytes &+= UInt64(rec.payload.count)
            return n
        }
    }

    public convenience init(uri: String, clock: any NanoClock = SystemClock()) throws {
        try self.init(parsed: try SinkURI(parsing: uri), createTables: false, clock: clock)
    }

    convenience init(parsed u: SinkURI, createTables: Bool, clock: any NanoClock) throws {
        let uri = u.text
        guard u.scheme == "clickhouse" else {
            throw ReplayError(.invalidArgument, place: uri, what: "not a clickhouse:// URI", remedy: "write clickhouse://host:8123/db?mode=raw")
        }
        try u.checkParameters(["mode", "table", "batch", "flush_ms", "create_tables", "retries", "stream", "sort"])
        let hp = u.authority.split(separator: ":", maxSplits: 1)
        guard let host = hp.first, !host.isEmpty else {
            throw ReplayError(.invalidArgument, place: uri, what: "missing host", remedy: "write clickhouse://127.0.0.1:8123/default?mode=raw")
        }
        let port = hp.count > 1 ? Int(hp[1]) : 8123
        guard let port, port > 0, port < 65536 else {
            throw ReplayError(.invalidArgument, place: uri, what: "bad port '\(hp.count > 1 ? String(hp[1]) : "")'", remedy: "e.g. clickhouse://127.0.0.1:8123/default")
        }
        let modeText = u.parameter("mode") ?? "raw"
        guard let mode = Mode(rawValue: modeText) else {
            throw ReplayError(.invalidArgument, place: uri, what: "unknown mode '\(modeText)'", remedy: "use mode=raw or mode=trades")
        }
        let path = u.path.hasPrefix("/") ? String(u.path.dropFirst()) : u.path
        let db = path.isEmpty ? "default" : path
        var o = Options(host: String(host), port: port, database: db, mode: mode, table: u.parameter("table"))
        func int(_ k: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let t = u.parameter(k) else { return nil }
            guard let v = Int(t), range.contains(v) else {
                throw ReplayError(.invalidArgument, place: uri, what: "\(k)=\(t) is not a number in \(range.lowerBound)…\(range.upperBound)")
            }
            return v
        }
        if let v = try int("batch", 1...10_000_000) { o.batchRows = v }
        if let v = try int("flush_ms", 1...3_600_000) { o.flushMillis = v }
        if let v = try int("retries", 1...100) { o.retries = v }
        func flag(_ k: String) throws -> Bool? {
            guard let t = u.parameter(k) else { return nil }
            guard let on = ["on": true, "1": true, "true": true, "off": false, "0": false, "false": false][t] else {
                throw ReplayError(.invalidArgument, place: uri, what: "\(k)=\(t) is not on or off")
            }
            return on
        }
        if let v = try flag("sort") { o.sortRows = v }
        if let v = try flag("stream") { o.streaming = v }
        o.createTables = createTables
        if let c = u.parameter("create_tables") { o.createTables = c == "1" || c == "true" || c == "yes" || c.isEmpty }
        try self.init(uri: uri, options: o, clock: clock)
    }

    public init(uri: String, options: Options, clock: any NanoClock = SystemClock()) throws {
        for name in [options.database, options.table] where !Self.isIdentifier(name) {
            throw ReplayError(.invalidArgument, place: uri, what: "'\(name)' is not a plain ClickHouse identifier", remedy: "use letters, digits and _")
        }
        self.uri = uri
        self.options = options
        self.clock = clock
        recorder = SinkRecorder(clock: clock)
        sorter = RowSorter(layout: options.mode == .trades ? .trades : .raw)
    }

    static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
    }

    public var qualifiedTable: String { "\(options.database).\(options.table)" }

    /// DDL for the sink's table; runs on ClickHouse 18.16 and current releases.
    public static func createTableSQL(mode: Mode, table: String) -> String {
        switch mode {
        case .raw:
            return """
                CREATE TABLE IF NOT EXISTS \(table) (exchange String, connection UInt32, stream String, \
                receive_ns UInt64, payload String) ENGINE = MergeTree ORDER BY (exchange, stream, receive_ns)
                """
        case .trades:
            return """
                CREATE TABLE IF NOT EXISTS \(table) (message_id String, exchange String, symbol String, \
                exchange_timestamp_ms UInt64, price Float64, quantity Float64, side Nullable(String), \
                trade_id String, receive_ns UInt64) ENGINE = MergeTree ORDER BY (exchange, symbol, exchange_timestamp_ms)
                """
        }
    }

    /// The recorder's outcomes plus what `send` counted under `cond` (sent, and skipped messages
    /// as delivered). Read under `cond`: every outcome in the recorder is of a message counted here.
    public var counts: SinkCounts { cond.withLock { merged(recorder.snapshot) } }

    /// Adds the counts kept under `cond` (call with `cond` held).
    private func merged(_ c: SinkCounts) -> SinkCounts {
        var c = c
        c.sent &+= localSent
        c.bytes &+= localBytes
        c.delivered &+= _skipped
        return c
    }
    /// Messages with nothing to write in `trades` mode (no trade in them).
    public var skipped: UInt64 { cond.withLock { _skipped } }
    /// Rows and inserts that succeeded.
    public var rowsWritten: UInt64 { cond.withLock { _rows } }
    public var batchesWritten: UInt64 { cond.withLock { _batches } }

    /// Per successful insert: from handing its last row to libcurl until the server's answer (ns)
    /// — what the server still needed after the body ended (with streaming it parsed the rest meanwhile).
    public var insertLatency: Histogram { cond.withLock { insertTime } }

    /// Counts, per-message latency until its insert returned (from the intended and from the
    /// actual send time), and the insert figures.
    public var stats: SinkStats {
        func us(_ v: Int64) -> JSONValue { .number(String(v / 1000)) }
        cond.lock()
        defer { cond.unlock() }
        let (rows, batches, skipped, ins) = (_rows, _batches, _skipped, insertTime)
        var s = recorder.stats(details: [
            ("table", .string(qualifiedTable)), ("mode", .string(options.mode.rawValue)),
            ("rows", .number(String(rows))), ("inserts", .number(String(batches))),
            ("skipped_no_trade", .number(String(skipped))),
            ("insert_us_p50", us(ins.valueAtPercentile(50))), ("insert_us_p99", us(ins.valueAtPercentile(99))),
            ("insert_us_max", us(ins.max)),
        ])
        s.counts = merged(s.counts)
        return s
    }

    public func open() throws {
        let h = try ClickHouseHTTP(host: options.host, port: options.port, place: uri)
        try h.execute("SELECT 1")
        if options.createTables {
            try h.execute("CREATE DATABASE IF NOT EXISTS \(options.database)")
            try h.execute(Self.createTableSQL(mode: options.mode, table: qualifiedTable))
        }
        do {
            try h.execute("SELECT * FROM \(qualifiedTable) LIMIT 0")
        } catch let e as ReplayError {
            throw ReplayError(e.code, place: uri, what: "table \(qualifiedTable) is not usable: " + e.what, remedy: e.remedy)
        }
        http = h
        current = newBatch()
        writer = JoinableThread.start { [self] in writerLoop() }
    }

    /// Rows per chunk: `chunkRows` when streaming, else the whole batch.
    private var chunkRows: Int { options.streaming ? max(1, min(options.chunkRows, options.batchRows)) : options.batchRows }
    /// `send` waits while this many rows are closed but not taken by the writer.
    private var maxPendingRows: Int { max(1, options.maxPendingBatches) &* options.batchRows }

    private func newBatch() -> Batch {
        if var b = spare.popLast() {
            b.rows.removeAll()
            b.rowCount = 0
            b.rowStarts.removeAll(keepingCapacity: true)
            b.intended.removeAll(keepingCapacity: true)
            b.actual.removeAll(keepingCapacity: true)
            b.bytes = 0
            b.endsInsert = false
            return b
        }
        var b = Batch()
        b.rows = RowBinary(capacity: min(chunkRows * 256, 64 << 20))
        b.intended.reserveCapacity(chunkRows)
        b.rowStarts.reserveCapacity(chunkRows)
        b.actual.reserveCapacity(chunkRows)
        return b
    }

    public func send(_ message: borrowing ReplayMessage) throws {
        cond.lock()
        defer { cond.unlock() }
        while pendingRows >= maxPendingRows && !writerDone { cond.wait() }
        // Sent and skipped are counted here under `cond` (merged into `counts`), not with a
        // lock of their own per message.
        localSent &+= 1
        localBytes &+= UInt64(message.record.payload.count)
        if let gone {
            // Stop the replay: this message fails, the engine counts the rest as never sent.
            recorder.failed(reason: "not inserted: ClickHouse unreachable")
            throw ReplayError(.unreachable, place: uri, what: "ClickHouse went away: \(gone)",
                              remedy: "check that clickhouse-server runs at \(options.host):\(options.port); messages not yet sent are counted as never sent")
        }
        if writerDone {
            recorder.failed(reason: "sink closed")
            return
        }
        if current.messages == 0 { current.startedMono = clock.monotonicNanos() }
        // One access to `current` for the whole row (not one exclusivity check per field).
        if current.add(message, mode: options.mode) == 0 {
            // Nothing to write for this message: it is done.
            _skipped &+= 1
            return
        }
        if insertRows + current.rowCount >= options.batchRows {
            // The batch is full: this chunk ends its insert.
            current.endsInsert = true
            insertRows = 0
            closeCurrent()
        } else if current.rowCount >= chunkRows {
            insertRows += current.rowCount
            closeCurrent()
        }
    }

    /// Hands the current chunk to the writer (call with `cond` held).
    private func closeCurrent() {
        pendingRows += current.rowCount
        pending.append(current)
        current = newBatch()
        cond.broadcast()
    }

    /// The oldest closed chunk (call with `cond` held, `pending` not empty).
    private func takePending() -> Batch {
        let b = pending.removeFirst()
        pendingRows -= b.rowCount
        cond.broadcast()
        return b
    }

    /// The chunk being filled, as the last of its insert (call with `cond` held).
    private func takeCurrentAsLast() -> Batch {
        var b = current
        b.endsInsert = true
        insertRows = 0
        current = newBatch()
        return b
    }

    @inline(__always)
    static func encode(_ t: TradeRow, exchange: String, receive: UInt64, into w: RowBinary) {
        // message_id = {exchange}:{timestamp_ms}:{symbol}:{trade_id}
        let len = exchange.utf8.count + RowBinary.digits(t.timestampMillis) + t.symbol.count + t.tradeID.count + 3
        w.varint(len)
        w.raw(exchange)
        w.byte(58)
        w.decimal(t.timestampMillis)
        w.byte(58)
        t.symbol.append(to: w)
        w.byte(58)
        t.tradeID.append(to: w)
        w.string(exchange)
        w.varint(t.symbol.count)
        t.symbol.append(to: w)
        w.uint64(t.timestampMillis)
        w.float64(t.price)
        w.float64(t.quantity)
        switch t.side {
        case .buy: w.byte(0); w.string("buy")
        case .sell: w.byte(0); w.string("sell")
        case .unknown: w.byte(1)
        }
        w.varint(t.tradeID.count)
        t.tradeID.append(to: w)
        w.uint64(receive)
    }

    private func writerLoop() {
        let flushNanos = Int64(options.flushMillis) * 1_000_000
        while true {
            cond.lock()
            var first: Batch?
            while true {
                if !pending.isEmpty { first = takePending(); break }
                let age = clock.monotonicNanos() - current.startedMono
                if current.messages > 0 && (stopping || age >= flushNanos) {
                    first = takeCurrentAsLast()
                    break
                }
                if stopping { break }
                let waitNanos = current.messages > 0 ? max(1_000_000, flushNanos - age) : flushNanos
                cond.wait(timeoutNanos: waitNanos)
            }
            cond.unlock()
            guard let first else { break }
            let chunks = insert(first)
            cond.withLock {
                for var c in chunks where spare.count < 64 {
                    c.endsInsert = false
                    spare.append(c)
                }
            }
        }
        cond.withLock {
            writerDone = true
            cond.broadcast()
        }
    }

    /// One insert starting with `first`: the other chunks are taken as the engine closes them
    /// (streaming) until the chunk that ends the insert, or until `flush_ms` after the first row
    /// (then the chunk being filled is taken as the last). Returns all of them (for reuse); every
    /// message in them is delivered or failed.
    private func insert(_ first: Batch) -> [Batch] {
        let flushNanos = Int64(options.flushMillis) * 1_000_000
        let deadline = first.startedMono &+ flushNanos
        var chunks = [first]
        var ended = first.endsInsert
        /// The next chunk of this insert; nil when the insert is complete (`wait`), or when none
        /// is ready yet (`!wait`).
        func takeNext(wait: Bool) -> Batch? {
            guard !ended else { return nil }
            cond.lock()
            defer { cond.unlock() }
            while true {
                if !pending.isEmpty {
                    let b = takePending()
                    ended = b.endsInsert
                    return b
                }
                guard wait else { return nil }
                let now = clock.monotonicNanos()
                if stopping || now >= deadline {
                    ended = true
                    if current.messages > 0 { return takeCurrentAsLast() }
                    insertRows = 0
                    return nil
                }
                cond.wait(timeoutNanos: max(100_000, deadline - now))
            }
        }
        func collectRest() { while let c = takeNext(wait: true) { chunks.append(c) } }
        func messages() -> Int { chunks.reduce(0) { $0 + $1.messages } }

        guard let http else { return chunks }
        if cond.withLock({ gone != nil }) {
            collectRest()
            recorder.failed(reason: "not inserted: ClickHouse unreachable", count: UInt64(messages()))
            return chunks
        }
        if options.sortRows, chunks.count == 1, ended,
           sorter.sort(chunks[0].rows, starts: chunks[0].rowStarts, into: sortedRows) {
            // The whole insert is here: send it in the table's key order (the server then
            // skips its sort). The unsorted buffer becomes the next insert's scratch.
            swap(&chunks[0].rows, &sortedRows)
        }
        let params = [("query", "INSERT INTO \(qualifiedTable) FORMAT RowBinary")]
        let timeout = (options.streaming ? options.flushMillis : 0) + http.timeoutMillis
        var failure: String?
        var unreachable = false
        for attempt in 0..<options.retries {
            if attempt > 0 {
                collectRest()
                usleep(UInt32(min(2_000_000, 250_000 << attempt)))
            }
            // The body: the chunks in order, more of them as the engine closes them.
            var index = 0, offset = 0
            var bodyEnded: Int64 = 0
            let read: (UnsafeMutableRawBufferPointer) -> Int = { [self] buf in
                var written = 0
                while written < buf.count {
                    if index == chunks.count {
                        // Hand over what is here rather than wait with it.
                        guard let c = takeNext(wait: written == 0) else { break }
                        chunks.append(c)
                    }
                    let src = chunks[index].rows.bytes
                    let n = min(buf.count - written, src.count - offset)
                    (buf.baseAddress! + written).copyMemory(from: src.baseAddress! + offset, byteCount: n)
                    written += n
                    offset += n
                    if offset == src.count { index += 1; offset = 0 }
                }
                if written == 0 { bodyEnded = clock.monotonicNanos() }
                return written
            }
            do {
                let reply = try http.postStreaming(params: params, timeoutMillis: timeout, read: read)
                let t1 = clock.monotonicNanos()
                if reply.status == 200 && ended && index == chunks.count {
                    recorder.outcomes { o in
                        for b in chunks {
                            for i in 0..<b.messages {
                                o.delivered(intendedNanos: b.intended[i], actualNanos: b.actual[i], now: t1)
                            }
                        }
                    }
                    let rows = chunks.reduce(0) { $0 + $1.rowCount }
                    cond.withLock {
                        insertTime.record(t1 - (bodyEnded > 0 ? bodyEnded : t1))
                        _rows &+= UInt64(rows)
                        _batches &+= 1
                    }
                    return chunks
                }
                unreachable = false
                if reply.status == 200 {
                    failure = "ClickHouse answered before the insert's body ended"
                    continue
                }
                failure = ClickHouseHTTP.serverError(reply, place: "", what: "insert failed").what
                if reply.status >= 400 && reply.status < 500 { break }   // the request is wrong: retrying will not help
            } catch let e as ReplayError {
                failure = e.what
                unreachable = true
            } catch {
                failure = "\(error)"
                unreachable = true
            }
        }
        collectRest()
        let reason = failure ?? "insert failed"
        recorder.failed(reason: reason, count: UInt64(messages()))
        if unreachable {
            let n = options.retries
            cond.withLock {
                if gone == nil { gone = "\(reason) (\(n) attempt\(n == 1 ? "" : "s"))" }
                cond.broadcast()
            }
        }
        return chunks
    }

    public func finish(timeoutNanos: Int64) throws {
        guard let w = writer else { return }
        cond.withLock {
            stopping = true
            cond.broadcast()
        }
        w.join(timeoutNanos: max(0, timeoutNanos))
        writer = nil
    }
}

/// `clickhouse://host:8123/db?mode=raw|trades[&table=…]` in the sink registry; `--create-tables` issues the DDL.
public enum ClickHouseSinkMaker: SinkMaker {
    public static let schemes = ["clickhouse"]
    public static let usage = "clickhouse://host:8123/db?mode=raw|trades[&table=T][&batch=N][&flush_ms=M][&stream=off]  RowBinary inserts over HTTP"

    public static func make(_ uri: SinkURI, options: SinkOptions) throws -> any ReplaySink {
        try ClickHouseSink(parsed: uri, createTables: options.createTables, clock: options.clock)
    }
}
