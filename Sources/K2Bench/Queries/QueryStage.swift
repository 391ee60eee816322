import Foundation
import K2Core
import K2Replay

/// The query stage of a workload: query classes run against ClickHouse (its HTTP interface, or
/// its native TCP protocol with `protocol: native`) at a fixed open-loop rate each, while the
/// replay feeds the pipeline.
///
/// The model is wrk2's (`OpenLoopScheduler`, shared with the HTTP stage): query k of a class has
/// an intended start `start + k / rate`, fixed before the run; `concurrency` workers, each on its
/// own keep-alive connection, take the due queries in intended-start order; latency from the
/// intended start (corrected) and from the actual start (uncorrected).
///
/// Parameters come from the data that landed: at the start, `SELECT symbol, min(ms), max(ms)`
/// from `parametersFrom`; query k of a class draws its shape (one statement of the class's file),
/// its symbol and its time range from a generator seeded by (seed, class, k), so the same seed
/// asks the same queries whatever the timing. A query error or an empty result is a failure and
/// keeps ClickHouse's message.
final class QueryStage: @unchecked Sendable {
    // unchecked: `stopped` and `setupError` under `lock`; `stageThread` set by the owner only; the rest immutable after init.
    struct Configuration: Sendable {
        var host: String
        var port: Int
        var database: String
        var queries: Workload.Queries
        /// The native protocol's port (used with `queries.protocol == .native`).
        var nativePort: Int = 9000
        /// ClickHouse user and password (nil: the `default` user).
        var user: String? = nil
        var password: String? = nil
    }

    /// One class's statements (placeholders unsubstituted, version guards kept) and schedule.
    struct LoadedClass: Sendable {
        var spec: Workload.QueryClass
        var entries: [ClickHouseSchema.Statement]
        var statements: [String] { entries.map(\.sql) }

        /// The class with only the statements for a server of `version` (`-- k2: clickhouse …` guards).
        func admitting(_ version: ClickHouseVersion) -> LoadedClass {
            LoadedClass(spec: spec, entries: entries.filter { $0.versionGuard?.admits(version) ?? true })
        }
    }

    /// A symbol with the time range of its landed rows (exchange ms).
    struct SymbolRange: Sendable, Equatable {
        var symbol: String
        var firstMs: UInt64
        var lastMs: UInt64
    }

    /// What one class measured (`OpenLoopScheduler`'s per-class result).
    typealias ClassResult = OpenLoopScheduler.ClassResult

    let configuration: Configuration
    let classes: [LoadedClass]
    private let clock = SystemClock()
    private let lock = Lock()
    private let scheduler: OpenLoopScheduler
    private var stopped = false
    private var setupError: String?
    private var stageThread: JoinableThread?

    /// Reads every class's SQL file (statements split like a schema file).
    init(_ configuration: Configuration) throws {
        self.configuration = configuration
        var loaded: [LoadedClass] = []
        for spec in configuration.queries.classes {
            let schema: ClickHouseSchema
            do { schema = try ClickHouseSchema(path: spec.sql) } catch {
                throw BenchError(.invalidArgument, path: spec.sql, what: "query class '\(spec.name)': \(error)")
            }
            guard !schema.statements.isEmpty else {
                throw BenchError(
                    .invalidArgument, path: spec.sql, what: "query class '\(spec.name)': the file holds no statement",
                    remedy: "write one or more SELECT statements separated by ';'")
            }
            loaded.append(LoadedClass(spec: spec, entries: schema.entries))
        }
        classes = loaded
        scheduler = OpenLoopScheduler(names: loaded.map(\.spec.name), rates: loaded.map(\.spec.rate), concurrency: configuration.queries.concurrency)
    }

    /// Starts the stage: waits until `measureFromWall`, draws the parameters, then runs the
    /// schedule until `measureToWall`. Returns at once.
    func start(measureFromWall: Int64, measureToWall: Int64) {
        stageThread = JoinableThread.start { [self] in
            let offset = clock.monotonicNanos() - clock.wallNanos()
            let from = measureFromWall + offset, to = measureToWall + offset
            scheduler.sleep(until: from)
            let drawn: [SymbolRange]
            let classes: [LoadedClass]
            do {
                drawn = try drawParameters(deadline: to)
                classes = try classesForServer()
            } catch {
                lock.withLock { setupError = "\(error)" }
                return
            }
            if lock.withLock({ stopped }) { return }
            let configuration = configuration
            scheduler.run(until: to) {
                let execute = try Self.client(configuration)
                return { classIndex, index in
                    let sql = Self.statement(
                        classes[classIndex], classIndex: classIndex, index: index, seed: configuration.queries.seed, parameters: drawn)
                    return Self.run(sql, execute: execute)
                }
            }
        }
    }

    /// Stops taking new queries, waits for those in flight, and returns per class what was measured.
    func stop() -> (classes: [ClassResult], error: String?) {
        lock.withLock { stopped = true }
        scheduler.stop()
        stageThread?.join()
        stageThread = nil
        let (results, clientError) = scheduler.finish()
        return (results, lock.withLock { setupError } ?? clientError)
    }

    /// Per symbol the range of its landed rows; waits (until `deadline`) for the first rows.
    func drawParameters(deadline: Int64) throws -> [SymbolRange] {
        let http = try ClickHouseHTTP(
            host: configuration.host, port: configuration.port, place: "queries.parameters_from", user: configuration.user,
            password: configuration.password)
        let table = configuration.queries.parametersFrom
        let sql =
            "SELECT symbol, min(exchange_timestamp_ms), max(exchange_timestamp_ms) FROM \(table) GROUP BY symbol ORDER BY symbol FORMAT TabSeparated"
        while true {
            let body = try http.execute(sql, database: configuration.database)
            let ranges = Self.parseRanges(body)
            if !ranges.isEmpty { return ranges }
            if clock.monotonicNanos() >= deadline || lock.withLock({ stopped }) {
                throw BenchError(
                    .run, what: "no rows in \(configuration.database).\(table) to draw query parameters from before the window ended",
                    remedy: "check that the pipeline lands data (a longer warmup helps) or set queries.parameters_from")
            }
            usleep(200_000)
        }
    }

    /// The classes with the statements for the server's version (`SELECT version()`); a class
    /// left with none is an error.
    func classesForServer() throws -> [LoadedClass] {
        guard classes.contains(where: { $0.entries.contains { $0.versionGuard != nil } }) else { return classes }
        let http = try ClickHouseHTTP(
            host: configuration.host, port: configuration.port, place: "queries", user: configuration.user, password: configuration.password)
        let version = try ClickHouseSchema.serverVersion(http, place: "queries")
        let chosen = classes.map { $0.admitting(version) }
        if let empty = chosen.first(where: { $0.entries.isEmpty }) {
            throw BenchError(
                .invalidArgument, path: empty.spec.sql,
                what: "query class '\(empty.spec.name)' has no statement for ClickHouse \(version) (all are guarded for other versions)",
                remedy: "add an unguarded statement or one whose '-- k2: clickhouse' guard admits \(version)")
        }
        return chosen
    }

    static func parseRanges(_ tsv: String) -> [SymbolRange] {
        tsv.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[0].isEmpty, let first = UInt64(fields[1]), let last = UInt64(fields[2]) else { return nil }
            return SymbolRange(symbol: String(fields[0]), firstMs: first, lastMs: last)
        }
    }

    /// The statement query `index` of class `classIndex` runs: its shape, symbol and range drawn
    /// from a generator seeded by (seed, class, index).
    static func statement(_ loaded: LoadedClass, classIndex: Int, index: Int, seed: UInt64, parameters: [SymbolRange]) -> String {
        var generator = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(classIndex) &* 0xBF58_476D_1CE4_E5B9 &+ UInt64(index))
        let shape = loaded.statements[Int(generator.next() % UInt64(loaded.statements.count))]
        let symbol = parameters[Int(generator.next() % UInt64(parameters.count))]
        let windowMs = UInt64(max(1, loaded.spec.windowNanos / 1_000_000))
        let span = symbol.lastMs - symbol.firstMs
        // The range ends at a landed time of the symbol and lies within its landed rows when it can.
        let toMs = span > windowMs ? symbol.firstMs + windowMs + generator.next() % (span - windowMs + 1) : symbol.lastMs
        let fromMs = toMs - min(windowMs, toMs - symbol.firstMs)
        let values = [
            "symbol": symbol.symbol, "from_ms": "\(fromMs)", "to_ms": "\(toMs)",
            "from_s": "\(fromMs / 1000)", "to_s": "\((toMs + 999) / 1000)",
        ]
        var sql = shape
        for (key, value) in values { sql = sql.replacingOccurrences(of: "{\(key)}", with: value) }
        return sql
    }

    /// One worker's connection to ClickHouse over the configured protocol, as a function from a
    /// statement to the rows it returned (throws with ClickHouse's message). The native client
    /// connects here, so a server that cannot be reached is a setup error.
    static func client(_ configuration: Configuration) throws -> (String) throws -> Int {
        let timeoutMillis = Int(configuration.queries.timeoutNanos / 1_000_000)
        switch configuration.queries.protocol {
        case .http:
            let http = try ClickHouseHTTP(
                host: configuration.host, port: configuration.port, place: "queries", user: configuration.user, password: configuration.password)
            http.timeoutMillis = timeoutMillis
            let database = configuration.database
            return { sql in
                let body = try http.execute(sql, database: database)
                return body.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            }
        case .native:
            let native = ClickHouseNativeClient(
                host: configuration.host, port: configuration.nativePort, place: "queries (native protocol)", user: configuration.user,
                password: configuration.password, database: configuration.database)
            native.timeoutMillis = timeoutMillis
            try native.connect()
            return { sql in try native.query(sql).rows }
        }
    }

    /// Runs one query; an error or an empty result is a failure with ClickHouse's message and the query.
    static func run(_ sql: String, execute: (String) throws -> Int) -> OpenLoopScheduler.Outcome {
        do {
            let rows = try execute(sql)
            return rows == 0 ? .init(failure: "empty result: " + oneLine(sql)) : .init(rows: rows)
        } catch let error as ReplayError {
            return .init(failure: error.what + " — query: " + oneLine(sql))
        } catch {
            return .init(failure: "\(error) — query: " + oneLine(sql))
        }
    }

    static func oneLine(_ sql: String) -> String {
        let flat = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return flat.count > 160 ? flat.prefix(160) + "…" : flat
    }

}

extension QueryStage {
    /// The stage's figures for the report: latency histograms keyed `query.CLASS` (from the
    /// intended start) and `query_uncorrected.CLASS` (from the actual start), so the metrics are
    /// `latency.query.CLASS.p99` and `latency.query_uncorrected.CLASS.p99`; per class
    /// `queries.CLASS.count` (answered), `.errors` (failed or empty), `.rows` (rows returned);
    /// and a note per class that failed, with ClickHouse's message.
    /// `alone`: the figures of the run after ingestion (`query_alone.CLASS`, `queries_alone.CLASS.*`).
    static func figures(_ results: [ClassResult], error: String?, alone: Bool = false) -> StageFigures {
        let (kind, counts, phase) = alone ? ("query_alone", "queries_alone", " alone after ingestion") : ("query", "queries", "")
        var figures = StageFigures(
            results, error: error, stage: "queries\(phase)", latency: kind, metric: counts, unit: "queries",
            failedNote: {
                "query class \($0.name)\(phase): \($0.failed) of \($0.failed + $0.succeeded) queries failed: "
                    + $0.failures.joined(separator: "; ")
            },
            notStartedNote: {
                "query class \($0.name)\(phase): \($0.notStarted) queries due in the window never started (all \($0.name) workers busy until it ended)"
            })
        guard error == nil else { return figures }
        for result in results {
            figures.metrics["\(counts).\(result.name).rows"] = .init(value: Double(result.rows), unit: "rows", better: .higher)
        }
        return figures
    }
}
