import Foundation
import K2Capture
import K2Core

/// `clickhouse://[user:password@]host:8123/db?mode=raw|trades[&table=…][&batch=N][&flush_ms=M][&create_tables=1][&sort=off][&stream=on]`
/// — replays into ClickHouse over HTTP (libcurl), RowBinary inserts batched by size and time on
/// the sink's own thread.
///
/// Authentication: `user:password@` in the URI, or `user=`/`password=` parameters (HTTP basic
/// auth, which ClickHouse 18.16 and current releases take). `clickhouses://` (default port
/// 8443) talks HTTPS, verifying the server's certificate against the system's CAs, or against
/// `ca_file=PEM` (or `--ca-file`) for a private CA or a self-signed certificate.
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
///   counted in `skipped`; messages it cannot read (an unknown event, a trade message missing
///   its fields) fail with the reason `mode=trades cannot read <kind> messages`, counted by
///   kind (`TradeParser.unreadableKind`), and in `unreadable`.
///
/// Accounting: a message is delivered when the insert holding it returns 200, failed with
/// ClickHouse's message (or the transport error) when the insert still fails after
/// `retries` attempts. When an insert could not reach the server after its retries, the
/// server counts as gone: batches still queued fail without more attempts and the next `send`
/// throws (the replay stops; the engine counts the rest as never sent).
///
/// No insert lands twice. A request that failed after reaching the server (a timeout, a reset,
/// no answer) may still be written by it — a paused server runs the insert the client gave up
/// on when it continues. Before re-sending such an insert the sink checks: every row of an
/// insert carries the insert's id in the table's last column `k2_batch UInt64` (the tables
/// `--create-tables` makes have it) and the insert runs under the query id `k2-<id>`; the sink
/// waits until the server answers and no query with that id runs
/// (`system.processes`), then counts the rows with that `k2_batch`: all of them → delivered,
/// none (twice, 0.5 s apart) → re-sent under the same ids, anything else → unknown. Works on
/// 18.16 and current releases alike (plain MergeTree has no insert deduplication; a
/// `insert_deduplication_token` needs a deduplication window on the table). A table without
/// the column gets the rows without it, and an ambiguous failure is not re-sent: its messages
/// count as unknown. Messages still in an unanswered insert when `finish` gives up are unknown
/// too (`SinkCounts.unknown`, never delivered: the replay exits 1 and says why).
package final class ClickHouseSink: ReplaySink, @unchecked Sendable {
    // unchecked: batches and counters under `cond`; send/finish from the engine's thread, the rest on the writer thread.
    package enum Mode: String, Sendable { case raw, trades }

    /// Settings of the ClickHouse sink (from the URI).
    package struct Options: Sendable {
        package var host: String
        package var port: Int
        package var database: String
        package var mode: Mode
        package var table: String
        /// Rows per insert.
        package var batchRows: Int = 50_000
        /// A non-empty batch is inserted at the latest this long after its first row.
        var flushMillis: Int = 1000
        /// Issue `CREATE DATABASE/TABLE IF NOT EXISTS` in `open()`.
        package var createTables: Bool = false
        /// Attempts per insert before its messages count as failed.
        package var retries: Int = 3
        /// Batches' worth of rows waiting for the writer before `send` waits (backpressure, never drops).
        var maxPendingBatches: Int = 4
        /// Rows per chunk handed to the writer while an insert streams (`batchRows` when not streaming).
        package var chunkRows: Int = 4096
        /// Stream each insert's rows to the server while they are encoded (chunked transfer
        /// encoding); the rows then go in arrival order.
        package var streaming: Bool = false
        /// Each whole insert's rows in the table's key order (`RowSorter`).
        package var sortRows: Bool = true
        /// How long one request (an insert, a check) may take before the client gives up (`timeout_ms`).
        package var timeoutMillis: Int = 60_000
        /// HTTP basic auth: user (nil: ClickHouse's `default` user) and password.
        package var user: String?
        package var password: String?
        /// HTTPS (`clickhouses://`).
        package var tls: Bool = false
        /// CA certificates (PEM) to verify the server with instead of the system's.
        package var caFile: String?

        package init(host: String, port: Int = 8123, database: String = "default", mode: Mode = .raw, table: String? = nil) {
            self.host = host
            self.port = port
            self.database = database
            self.mode = mode
            self.table = table ?? (mode == .raw ? "raw_messages" : "trades")
        }
    }

    package let uri: String
    package let options: Options
    private let clock: any NanoClock
    private var http: ClickHouseHTTP?
    private let cond = Condition()
    // Guarded by cond:
    /// The chunk being filled. Unchecked exclusivity: only touched with `cond` held, and
    /// `send` modifies it once per message (a dynamic check there cost ~130 instructions per message).
    @exclusivity(unchecked) private var current = Batch()
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
    /// trades mode: messages with no row that are not a known message without trades (failed, by kind).
    private var _unreadable: UInt64 = 0
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
    /// Set by `open()`: the table has `k2_batch UInt64`, every row carries its insert's id.
    private var batchIDs = false
    /// Set by `open()` (raw mode): the table has `k2_id String`, every row carries its message's
    /// ledger id `RUNID-SEQ` (`MessageID`), so a run can be reconciled row by row (`reconcileByID`).
    private var messageIDs = false
    /// This sink's ledger run id, and `RUNID-` as bytes (written before each row's sequence).
    package let runID = UInt64.random(in: 1...UInt64.max)
    private let idPrefix: UnsafeMutableRawBufferPointer
    /// The insert's column list, set by `open()`.
    private var insertColumns = ""
    /// High 32 bits of every insert id of this sink (random), low 32 bits count inserts (writer thread only).
    private let runTag = UInt64(UInt32.random(in: 1...UInt32.max)) << 32
    private var insertCounter: UInt64 = 0
    /// Messages the writer has taken and not settled yet (guarded by cond).
    private var heldMessages = 0
    /// `finish` gave up waiting: the writer's later outcomes are not recorded (guarded by cond).
    private var abandoned = false
    /// Inserts that failed after reaching the server (then checked), and those the check found landed (guarded by cond).
    private var _ambiguous: UInt64 = 0
    private var _landedOnCheck: UInt64 = 0
    /// `reconcileByID` at `finish` (guarded by cond): nil before, or without a `k2_id` column.
    private var idCheck: Result<(rows: UInt64, distinct: UInt64)?, any Error>?

    /// The last column of the sink's tables: the id of the insert that wrote the row.
    static let batchColumn = "k2_batch"
    /// The raw table's ledger id column (before `k2_batch`).
    static let idColumn = "k2_id"

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
        /// `idPrefix` (raw mode, a `k2_id` column): the row's `k2_id` is it followed by the
        /// message's sequence. `batchIDs`: each row ends with 8 bytes for `k2_batch`, stamped by the writer.
        @inline(__always)
        mutating func add(_ message: borrowing ReplayMessage, mode: Mode, idPrefix: UnsafeRawBufferPointer?, batchIDs: Bool) -> Int {
            let rec = message.record
            var added = 0
            switch mode {
            case .raw:
                rowStarts.append(rows.count)
                rows.string(message.exchange)
                rows.uint32(rec.connection)
                if let stream = message.fields.stream { rows.string(stream) } else { rows.varint(0) }
                rows.uint64(UInt64(bitPattern: message.captureNanos))
                rows.string(rec.payload)
                if let idPrefix {
                    rows.varint(idPrefix.count + RowBinary.digits(message.sequence))
                    rows.raw(idPrefix)
                    rows.decimal(message.sequence)
                }
                if batchIDs { rows.uint64(0) }
                added = 1
            case .trades:
                var exchange = message.exchange
                let receive = UInt64(bitPattern: message.captureNanos)
                let rowWriter = rows
                let fields = message.fields
                added = exchange.withUTF8 { exchangeBytes in
                    TradeParser.parse(rec.payload, fields: fields) { row in
                        rowStarts.append(rowWriter.count)
                        ClickHouseSink.encode(
                            row, exchange: UnsafeRawBufferPointer(exchangeBytes), receive: receive, batchID: batchIDs, into: rowWriter)
                    }
                }
            }
            guard added > 0 else { return 0 }
            rowCount += added
            intended.append(message.intendedNanos)
            actual.append(message.actualNanos)
            bytes &+= UInt64(rec.payload.count)
            return added
        }
    }

    package convenience init(uri: String, clock: any NanoClock = SystemClock()) throws {
        try self.init(parsed: try SinkURI(parsing: uri), createTables: false, clock: clock)
    }

    convenience init(parsed u: SinkURI, createTables: Bool, caFile: String? = nil, clock: any NanoClock) throws {
        let uri = u.display
        guard u.scheme == "clickhouse" || u.scheme == "clickhouses" else {
            throw ReplayError(.invalidArgument, place: uri, what: "not a clickhouse:// URI", remedy: "write clickhouse://host:8123/db?mode=raw")
        }
        try u.checkParameters([
            "mode", "table", "batch", "flush_ms", "create_tables", "retries", "stream", "sort", "timeout_ms",
            "user", "password", "ca_file",
        ])
        let hp = u.authority.split(separator: ":", maxSplits: 1)
        guard let host = hp.first, !host.isEmpty else {
            throw ReplayError(.invalidArgument, place: uri, what: "missing host", remedy: "write clickhouse://127.0.0.1:8123/default?mode=raw")
        }
        let tls = u.scheme == "clickhouses"
        let port = hp.count > 1 ? Int(hp[1]) : (tls ? 8443 : 8123)
        guard let port, port > 0, port < 65536 else {
            throw ReplayError(
                .invalidArgument, place: uri, what: "bad port '\(hp.count > 1 ? String(hp[1]) : "")'",
                remedy: "e.g. clickhouse://127.0.0.1:8123/default")
        }
        let modeText = u.parameter("mode") ?? "raw"
        guard let mode = Mode(rawValue: modeText) else {
            throw ReplayError(.invalidArgument, place: uri, what: "unknown mode '\(modeText)'", remedy: "use mode=raw or mode=trades")
        }
        let path = u.path.hasPrefix("/") ? String(u.path.dropFirst()) : u.path
        let db = path.isEmpty ? "default" : path
        var parsedOptions = Options(host: String(host), port: port, database: db, mode: mode, table: u.parameter("table"))
        parsedOptions.tls = tls
        parsedOptions.user = u.parameter("user") ?? u.user
        parsedOptions.password = u.parameter("password") ?? u.password
        parsedOptions.caFile = u.parameter("ca_file") ?? caFile
        if let ca = parsedOptions.caFile {
            guard access(ca, R_OK) == 0 else {
                throw ReplayError(
                    .invalidArgument, place: uri, what: "cannot read the CA file '\(ca)': \(String(cString: strerror(errno)))",
                    remedy: "give a readable PEM file with the CA (or self-signed) certificate")
            }
            guard tls else {
                throw ReplayError(.invalidArgument, place: uri, what: "a CA file without HTTPS", remedy: "write clickhouses://host:8443/… to use TLS")
            }
        }
        func int(_ k: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let text = u.parameter(k) else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw ReplayError(.invalidArgument, place: uri, what: "\(k)=\(text) is not a number in \(range.lowerBound)…\(range.upperBound)")
            }
            return value
        }
        if let value = try int("batch", 1...10_000_000) { parsedOptions.batchRows = value }
        if let value = try int("flush_ms", 1...3_600_000) { parsedOptions.flushMillis = value }
        if let value = try int("retries", 1...100) { parsedOptions.retries = value }
        if let value = try int("timeout_ms", 100...3_600_000) { parsedOptions.timeoutMillis = value }
        func flag(_ k: String) throws -> Bool? {
            guard let text = u.parameter(k) else { return nil }
            guard let on = ["on": true, "1": true, "true": true, "off": false, "0": false, "false": false][text] else {
                throw ReplayError(.invalidArgument, place: uri, what: "\(k)=\(text) is not on or off")
            }
            return on
        }
        if let value = try flag("sort") { parsedOptions.sortRows = value }
        if let value = try flag("stream") { parsedOptions.streaming = value }
        parsedOptions.createTables = createTables
        if let setting = u.parameter("create_tables") {
            parsedOptions.createTables = setting == "1" || setting == "true" || setting == "yes" || setting.isEmpty
        }
        try self.init(uri: uri, options: parsedOptions, clock: clock)
    }

    package init(uri: String, options: Options, clock: any NanoClock = SystemClock()) throws {
        for name in [options.database, options.table] where !Self.isIdentifier(name) {
            throw ReplayError(
                .invalidArgument, place: uri, what: "'\(name)' is not a plain ClickHouse identifier", remedy: "use letters, digits and _")
        }
        self.uri = Secrets.mask(uri)
        self.options = options
        self.clock = clock
        if let password = options.password { Secrets.register(password) }
        recorder = SinkRecorder(clock: clock)
        sorter = RowSorter(layout: options.mode == .trades ? .trades : .raw)
        idPrefix = .allocate(byteCount: MessageID.prefixLength, alignment: 1)
        MessageID.writePrefix(runID, into: idPrefix, at: 0)
    }

    deinit { idPrefix.deallocate() }

    /// Rows of this run in the table, and how many distinct `k2_id`s they hold (raw mode with a
    /// `k2_id` column; nil otherwise): rows − distinct were written twice, delivered − distinct
    /// were acknowledged and are missing. Asked of the server after `finish`.
    package func reconcileByID() throws -> (rows: UInt64, distinct: UInt64)? {
        guard messageIDs, let http else { return nil }
        let prefix = MessageID.text(run: runID, sequence: 0).dropLast()
        let answer = try http.execute(
            "SELECT count(), uniqExact(\(Self.idColumn)) FROM \(qualifiedTable) WHERE startsWith(\(Self.idColumn), '\(prefix)') FORMAT TSV")
        let fields = answer.split(whereSeparator: { $0 == "\t" || $0 == "\n" }).compactMap { UInt64($0) }
        guard fields.count == 2 else {
            throw ReplayError(.sinkFailed, place: uri, what: "unexpected answer to the k2_id count: \(answer.prefix(200))")
        }
        return (fields[0], fields[1])
    }

    static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
    }

    var qualifiedTable: String { "\(options.database).\(options.table)" }

    /// DDL for the sink's table; runs on ClickHouse 18.16 and current releases.
    static func createTableSQL(mode: Mode, table: String) -> String {
        switch mode {
        case .raw:
            return """
                CREATE TABLE IF NOT EXISTS \(table) (exchange String, connection UInt32, stream String, \
                receive_ns UInt64, payload String, \(idColumn) String, \(batchColumn) UInt64) ENGINE = MergeTree ORDER BY (exchange, stream, receive_ns)
                """
        case .trades:
            return """
                CREATE TABLE IF NOT EXISTS \(table) (message_id String, exchange String, symbol String, \
                exchange_timestamp_ms UInt64, price Float64, quantity Float64, side Nullable(String), \
                trade_id String, receive_ns UInt64, \(batchColumn) UInt64) ENGINE = MergeTree ORDER BY (exchange, symbol, exchange_timestamp_ms)
                """
        }
    }

    /// The columns the sink writes, in its row order (without `k2_id` and `k2_batch`).
    static func columns(mode: Mode) -> String {
        switch mode {
        case .raw: return "exchange, connection, stream, receive_ns, payload"
        case .trades: return "message_id, exchange, symbol, exchange_timestamp_ms, price, quantity, side, trade_id, receive_ns"
        }
    }

    /// The recorder's outcomes plus what `send` counted under `cond` (sent, and skipped messages
    /// as delivered). Read under `cond`: every outcome in the recorder is of a message counted here.
    package var counts: SinkCounts { cond.withLock { merged(recorder.snapshot) } }

    /// Adds the counts kept under `cond` (call with `cond` held).
    private func merged(_ c: SinkCounts) -> SinkCounts {
        var total = c
        total.sent &+= localSent
        total.bytes &+= localBytes
        total.delivered &+= _skipped
        return total
    }
    /// Messages with nothing to write in `trades` mode (no trade in them).
    package var skipped: UInt64 { cond.withLock { _skipped } }
    /// Rows and inserts that succeeded.
    package var rowsWritten: UInt64 { cond.withLock { _rows } }
    package var batchesWritten: UInt64 { cond.withLock { _batches } }

    /// Per successful insert: from handing its last row to libcurl until the server's answer (ns)
    /// — what the server still needed after the body ended (with streaming it parsed the rest meanwhile).
    package var insertLatency: Histogram { cond.withLock { insertTime } }

    /// Counts, per-message latency until its insert returned (from the intended and from the
    /// actual send time), and the insert figures.
    package var stats: SinkStats {
        func us(_ v: Int64) -> JSONValue { .number(String(v / 1000)) }
        cond.lock()
        defer { cond.unlock() }
        let (rows, batches, skipped, unreadable, ins) = (_rows, _batches, _skipped, _unreadable, insertTime)
        let (ambiguous, landedOnCheck) = (_ambiguous, _landedOnCheck)
        var sinkStats = recorder.stats(details: [
            ("table", .string(qualifiedTable)), ("mode", .string(options.mode.rawValue)),
            ("rows", .number(String(rows))), ("inserts", .number(String(batches))),
            ("skipped_no_trade", .number(String(skipped))), ("unreadable", .number(String(unreadable))),
            ("insert_us_p50", us(ins.valueAtPercentile(50))), ("insert_us_p99", us(ins.valueAtPercentile(99))),
            ("insert_us_max", us(ins.max)), ("batch_ids", .bool(batchIDs)),
            ("ambiguous_failures", .number(String(ambiguous))), ("landed_on_check", .number(String(landedOnCheck))),
        ])
        switch idCheck {
        case let .success(found?):
            sinkStats.details.append(
                (
                    "ids",
                    .object([
                        ("rows", .number(String(found.rows))), ("distinct", .number(String(found.distinct))),
                        ("written_twice", .number(String(found.rows - found.distinct))),
                    ])
                ))
        case let .failure(error): sinkStats.details.append(("ids_error", .string("\(error)")))
        default: break
        }
        sinkStats.counts = merged(sinkStats.counts)
        return sinkStats
    }

    package func open() throws {
        let client = try ClickHouseHTTP(
            host: options.host, port: options.port, place: uri, tls: options.tls, caFile: options.caFile,
            user: options.user, password: options.password)
        client.timeoutMillis = options.timeoutMillis
        client.connectTimeoutMillis = min(client.connectTimeoutMillis, options.timeoutMillis)
        if options.createTables {
            try client.execute("CREATE DATABASE IF NOT EXISTS \(options.database)")
            try client.execute(Self.createTableSQL(mode: options.mode, table: qualifiedTable))
        }
        // One round trip before the first row (it also tells an unreachable server or a wrong
        // password): the table's columns. None listed: ask the table itself, for ClickHouse's
        // own message on why it cannot be used.
        let described = try client.execute(
            """
            SELECT name, type FROM system.columns WHERE database = '\(options.database)' AND table = '\(options.table)' FORMAT TSV
            """)
        let columnLines = described.split(separator: "\n")
        if columnLines.isEmpty {
            do {
                try client.execute("SELECT * FROM \(qualifiedTable) LIMIT 0")
            } catch let replayError as ReplayError {
                throw ReplayError(
                    replayError.code, place: uri, what: "table \(qualifiedTable) is not usable: " + replayError.what, remedy: replayError.remedy)
            }
        }
        batchIDs = columnLines.contains { $0 == "\(Self.batchColumn)\tUInt64" }
        messageIDs = options.mode == .raw && columnLines.contains { $0 == "\(Self.idColumn)\tString" }
        insertColumns =
            Self.columns(mode: options.mode) + (messageIDs ? ", \(Self.idColumn)" : "") + (batchIDs ? ", \(Self.batchColumn)" : "")
        http = client
        current = newBatch()
        writer = JoinableThread.start { [self] in writerLoop() }
    }

    /// Rows per chunk: `chunkRows` when streaming, else the whole batch.
    private var chunkRows: Int { options.streaming ? max(1, min(options.chunkRows, options.batchRows)) : options.batchRows }
    /// Time `send` waited for the writer (back-pressure), ns; sending thread only.
    private var _blockedNanos: Int64 = 0
    package var blockedNanos: Int64 { _blockedNanos }

    /// `send` waits while this many rows are closed but not taken by the writer.
    private var maxPendingRows: Int { max(1, options.maxPendingBatches) &* options.batchRows }

    private func newBatch() -> Batch {
        if var batch = spare.popLast() {
            batch.rows.removeAll()
            batch.rowCount = 0
            batch.rowStarts.removeAll(keepingCapacity: true)
            batch.intended.removeAll(keepingCapacity: true)
            batch.actual.removeAll(keepingCapacity: true)
            batch.bytes = 0
            batch.endsInsert = false
            return batch
        }
        var batch = Batch()
        batch.rows = RowBinary(capacity: min(chunkRows * 256, 64 << 20))
        batch.intended.reserveCapacity(chunkRows)
        batch.rowStarts.reserveCapacity(chunkRows)
        batch.actual.reserveCapacity(chunkRows)
        return batch
    }

    package func send(_ message: borrowing ReplayMessage) throws {
        cond.lock()
        defer { cond.unlock() }
        if pendingRows >= maxPendingRows && !writerDone {
            // Back-pressure: the writer is behind by `maxPendingBatches`; the wait is counted.
            let since = clock.monotonicNanos()
            while pendingRows >= maxPendingRows && !writerDone { cond.wait() }
            _blockedNanos &+= clock.monotonicNanos() &- since
        }
        // Sent and skipped are counted here under `cond` (merged into `counts`), not with a
        // lock of their own per message.
        localSent &+= 1
        localBytes &+= UInt64(message.record.payload.count)
        if let gone {
            // Stop the replay: this message fails, the engine counts the rest as never sent.
            recorder.failed(reason: "not inserted: ClickHouse unreachable")
            throw ReplayError(
                .unreachable, place: uri, what: "ClickHouse went away: \(gone)",
                remedy: "check that clickhouse-server runs at \(options.host):\(options.port); messages not yet sent are counted as never sent")
        }
        if writerDone {
            recorder.failed(reason: "sink closed")
            return
        }
        if current.messages == 0 { current.startedMono = clock.monotonicNanos() }
        // One access to `current` for the whole row (not one exclusivity check per field).
        if current.add(message, mode: options.mode, idPrefix: messageIDs ? UnsafeRawBufferPointer(idPrefix) : nil, batchIDs: batchIDs) == 0 {
            // trades mode: a message it cannot read fails, by kind (never delivered silently).
            if options.mode == .trades, let kind = TradeParser.unreadableKind(message.record.payload, fields: message.fields) {
                recorder.failed(reason: "mode=trades cannot read \(kind) messages")
                _unreadable &+= 1
                return
            }
            // Nothing to write for this message (a book update, a heartbeat): it is done.
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

    /// The oldest closed chunk (writer, with `cond` held, `pending` not empty).
    private func takePending() -> Batch {
        let batch = pending.removeFirst()
        pendingRows -= batch.rowCount
        heldMessages += batch.messages
        cond.broadcast()
        return batch
    }

    /// The chunk being filled, as the last of its insert (writer, with `cond` held).
    private func takeCurrentAsLast() -> Batch {
        var batch = current
        batch.endsInsert = true
        insertRows = 0
        heldMessages += batch.messages
        current = newBatch()
        return batch
    }

    /// Writes the insert id into the `k2_batch` column (the last 8 bytes) of every row of `chunk`.
    private static func stamp(_ chunk: Batch, id: UInt64) {
        let rowCount = chunk.rowStarts.count
        for i in 0..<rowCount {
            chunk.rows.store(id, at: (i + 1 < rowCount ? chunk.rowStarts[i + 1] : chunk.rows.count) - 8)
        }
    }

    /// How an insert's messages ended.
    private enum Settlement {
        /// The insert returned 200 at `now` (monotonic ns); `bodyEnded` when its last byte went out (0: unknown).
        case delivered(now: Int64, bodyEnded: Int64)
        case failed(String)
        case unknown(String)
    }

    /// Records the outcome of every message in `chunks` (writer), unless `finish` gave up on them.
    private func settle(_ chunks: [Batch], _ outcome: Settlement) {
        let messages = UInt64(chunks.reduce(0) { $0 + $1.messages })
        cond.withLock {
            heldMessages = 0
            guard !abandoned else { return }
            switch outcome {
            case let .delivered(now, bodyEnded):
                recorder.outcomes { outcomes in
                    for chunk in chunks {
                        for i in 0..<chunk.messages {
                            outcomes.delivered(intendedNanos: chunk.intended[i], actualNanos: chunk.actual[i], now: now)
                        }
                    }
                }
                insertTime.record(now - (bodyEnded > 0 ? bodyEnded : now))
                _rows &+= UInt64(chunks.reduce(0) { $0 + $1.rowCount })
                _batches &+= 1
            case let .failed(reason):
                recorder.failed(reason: reason, count: messages)
            case let .unknown(reason):
                recorder.unknown(reason: reason, count: messages)
            }
        }
    }

    /// What the server did with an insert whose request failed after reaching it.
    private enum Check {
        case landed
        case absent
        /// The server answers but the rows cannot be told (or only some are there).
        case unknown(String)
        /// The server did not answer the check.
        case unreachable(String)
    }

    /// Waits until the server answers and runs no query `queryID` any more, then counts the rows
    /// with `k2_batch = id` (`id` nil: the table has no such column, the answer is `unknown`).
    /// Bounded: 2 × `retries` + 2 rounds, 0.25 s to 2 s apart.
    private func check(_ http: ClickHouseHTTP, queryID: String, id: UInt64?, rows: Int) -> Check {
        var absentOnce = false
        var lastError = "no answer"
        for round in 0..<(2 * options.retries + 2) {
            usleep(UInt32(min(2_000_000, 250_000 << min(round, 3))))
            do {
                let running = try http.execute("SELECT count() FROM system.processes WHERE query_id = '\(queryID)'")
                if (Int(running.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0 {
                    lastError = "the insert (query id \(queryID)) was still running on the server"
                    continue
                }
                guard let id else {
                    return .unknown(
                        "\(qualifiedTable) has no \(Self.batchColumn) column to check whether it landed, so k2 did not re-send it "
                            + "(ALTER TABLE \(qualifiedTable) ADD COLUMN \(Self.batchColumn) UInt64 makes retries safe)")
                }
                let text = try http.execute("SELECT count() FROM \(qualifiedTable) WHERE \(Self.batchColumn) = \(id)")
                let landed = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
                if landed == rows { return .landed }
                if landed == 0 {
                    if absentOnce { return .absent }
                    absentOnce = true
                    continue
                }
                return .unknown("\(qualifiedTable) holds \(landed) of the insert's \(rows) rows (\(Self.batchColumn) = \(id))")
            } catch let replayError as ReplayError {
                lastError = replayError.what
            } catch {
                lastError = "\(error)"
            }
        }
        return .unreachable(lastError)
    }

    /// One trade row in the `trades` columns' order, then (`batchID`) 8 bytes for `k2_batch`,
    /// stamped by the writer. One capacity check for the whole row.
    @inline(__always)
    static func encode(_ t: TradeRow, exchange: UnsafeRawBufferPointer, receive: UInt64, batchID: Bool, into w: RowBinary) {
        t.symbol.withBytes { symbol in
            t.tradeID.withBytes { tradeID in
                // message_id = {exchange}:{timestamp_ms}:{symbol}:{trade_id}
                let timeDigits = RowBinary.digits(t.timestampMillis)
                let idLength = exchange.count + timeDigits + symbol.count + tradeID.count + 3
                // Room for the four length prefixes (≤ 10 bytes each), the strings, timestamp,
                // price, quantity and receive_ns (32), the side's one 8-byte store, k2_batch.
                let maxBytes = 50 + idLength + exchange.count + symbol.count + tradeID.count + 32 + 8 + 8
                w.append(maxBytes: maxBytes) { out in
                    out.varint(idLength)
                    out.raw(exchange)
                    out.byte(58)
                    out.decimal(t.timestampMillis, digits: timeDigits)
                    out.byte(58)
                    out.raw(symbol)
                    out.byte(58)
                    out.raw(tradeID)
                    out.string(exchange)
                    out.string(symbol)
                    out.uint64(t.timestampMillis)
                    out.uint64(t.price.bitPattern)
                    out.uint64(t.quantity.bitPattern)
                    // Nullable(String): 0 (not null), length, text — as one store, the cursor
                    // then moved past what belongs to the row (the rest is overwritten next).
                    switch t.side {
                    case .buy:
                        out.uint64(0x0000_0079_7562_0300)  // 00 03 "buy"
                        out.at -= 3
                    case .sell:
                        out.uint64(0x0000_6c6c_6573_0400)  // 00 04 "sell"
                        out.at -= 2
                    case .unknown: out.byte(1)
                    }
                    out.string(tradeID)
                    out.uint64(receive)
                    if batchID { out.uint64(0) }
                }
            }
        }
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
                for var chunk in chunks where spare.count < 64 {
                    chunk.endsInsert = false
                    spare.append(chunk)
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
                    let batch = takePending()
                    ended = batch.endsInsert
                    return batch
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
        func collectRest() { while let chunk = takeNext(wait: true) { chunks.append(chunk) } }
        func messages() -> Int { chunks.reduce(0) { $0 + $1.messages } }

        guard let http else { return chunks }
        if cond.withLock({ gone != nil }) {
            collectRest()
            settle(chunks, .failed("not inserted: ClickHouse unreachable"))
            return chunks
        }
        let id = runTag | (insertCounter & 0xFFFF_FFFF)
        insertCounter &+= 1
        let queryID = "k2-" + String(id, radix: 16)
        var stamped = 0
        /// Stamps the chunks taken since the last call with the insert's id.
        func stampNew() {
            guard batchIDs else { return }
            while stamped < chunks.count { Self.stamp(chunks[stamped], id: id); stamped += 1 }
        }
        stampNew()
        if options.sortRows, chunks.count == 1, ended,
            sorter.sort(chunks[0].rows, starts: chunks[0].rowStarts, into: sortedRows)
        {
            // The whole insert is here: send it in the table's key order (the server then
            // skips its sort). The unsorted buffer becomes the next insert's scratch.
            swap(&chunks[0].rows, &sortedRows)
        }
        let params = [("query", "INSERT INTO \(qualifiedTable) (\(insertColumns)) FORMAT RowBinary"), ("query_id", queryID)]
        let timeout = (options.streaming ? options.flushMillis : 0) + http.timeoutMillis
        var failure: String?
        var unreachable = false
        for attempt in 0..<options.retries {
            if attempt > 0 {
                collectRest()
                stampNew()
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
                        guard let chunk = takeNext(wait: written == 0) else { break }
                        chunks.append(chunk)
                        stampNew()
                    }
                    let src = chunks[index].rows.bytes
                    let length = min(buf.count - written, src.count - offset)
                    (buf.baseAddress! + written).copyMemory(from: src.baseAddress! + offset, byteCount: length)
                    written += length
                    offset += length
                    if offset == src.count { index += 1; offset = 0 }
                }
                if written == 0 { bodyEnded = clock.monotonicNanos() }
                return written
            }
            /// Whether this attempt may have written rows although it did not return 200.
            var mayHaveLanded = false
            do {
                let reply = try http.postStreaming(params: params, timeoutMillis: timeout, read: read)
                let t1 = clock.monotonicNanos()
                if reply.status == 200 && ended && index == chunks.count {
                    settle(chunks, .delivered(now: t1, bodyEnded: bodyEnded))
                    return chunks
                }
                unreachable = false
                if reply.status == 200 {
                    failure = "ClickHouse answered before the insert's body ended"
                    mayHaveLanded = true
                } else {
                    failure = ClickHouseHTTP.serverError(reply, place: "", what: "insert failed").what
                    // The same query id still runs: an earlier attempt of this insert.
                    mayHaveLanded = reply.body.contains("is already running")
                    if !mayHaveLanded && reply.status >= 400 && reply.status < 500 { break }  // the request is wrong: retrying will not help
                }
            } catch let replayError as ReplayError {
                failure = replayError.what
                unreachable = true
                mayHaveLanded = http.lastFailureMayHaveReachedServer
            } catch {
                failure = "\(error)"
                unreachable = true
                mayHaveLanded = http.lastFailureMayHaveReachedServer
            }
            guard mayHaveLanded else { continue }
            // Before anything else: did the server write it after all?
            collectRest()
            stampNew()
            let rows = chunks.reduce(0) { $0 + $1.rowCount }
            let why = failure ?? "insert failed"
            cond.withLock { _ambiguous &+= 1 }
            switch check(http, queryID: queryID, id: batchIDs ? id : nil, rows: rows) {
            case .landed:
                cond.withLock { _landedOnCheck &+= 1 }
                settle(chunks, .delivered(now: clock.monotonicNanos(), bodyEnded: 0))
                return chunks
            case .absent:
                continue
            case let .unknown(reason):
                settle(chunks, .unknown("\(why); \(reason)"))
                return chunks
            case let .unreachable(reason):
                settle(chunks, .unknown("\(why); ClickHouse did not answer the check whether it landed: \(reason)"))
                markGone("\(why); then \(reason)")
                return chunks
            }
        }
        collectRest()
        let reason = failure ?? "insert failed"
        settle(chunks, .failed(reason))
        if unreachable {
            let attempts = options.retries
            markGone("\(reason) (\(attempts) attempt\(attempts == 1 ? "" : "s"))")
        }
        return chunks
    }

    /// The server counts as gone: queued inserts fail, the next `send` throws.
    private func markGone(_ reason: String) {
        cond.withLock {
            if gone == nil { gone = reason }
            cond.broadcast()
        }
    }

    package func finish(timeoutNanos: Int64) throws {
        guard let writerThread = writer else { return }
        cond.withLock {
            stopping = true
            cond.broadcast()
        }
        writerThread.join(timeoutNanos: max(0, timeoutNanos))
        writer = nil
        if writerThread.isFinished {
            // The ledger by id (raw mode with `k2_id`): what the table holds of this run now.
            guard messageIDs else { return }
            let checked: Result<(rows: UInt64, distinct: UInt64)?, any Error> = Result { try reconcileByID() }
            cond.withLock { idCheck = checked.map { $0 } }
            return
        }
        // The writer is still busy (an insert unanswered, a check waiting): what it holds may
        // still land, what is queued never went out. Its later outcomes are not recorded.
        let waited = "\(timeoutNanos / 1_000_000_000) s"
        cond.withLock {
            abandoned = true
            if heldMessages > 0 {
                recorder.unknown(
                    reason: "insert still unanswered when the \(waited) finish wait ended; ClickHouse may still write it",
                    count: UInt64(heldMessages))
            }
            let queued = pending.reduce(0) { $0 + $1.messages } + current.messages
            if queued > 0 { recorder.failed(reason: "not inserted: the \(waited) finish wait ended first", count: UInt64(queued)) }
            pending.removeAll()
            pendingRows = 0
            current = Batch()
            cond.broadcast()
        }
    }
}

/// `clickhouse://host:8123/db?mode=raw|trades[&table=…]` in the sink registry; `--create-tables` issues the DDL.
enum ClickHouseSinkMaker: SinkMaker {
    static let schemes = ["clickhouse", "clickhouses"]
    static let usage =
        "clickhouse[s]://[user:pass@]host:8123/db?mode=raw|trades[&table=T][&batch=N][&flush_ms=M][&retries=N][&timeout_ms=M][&stream=on][&ca_file=PEM]  RowBinary inserts over HTTP(S)"

    static func make(_ uri: SinkURI, options: SinkOptions) throws -> any ReplaySink {
        try ClickHouseSink(parsed: uri, createTables: options.createTables, caFile: options.caFile, clock: options.clock)
    }
}
