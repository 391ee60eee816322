import Foundation
import K2Core
import K2Replay

/// The HTTP stage of a workload: requests at a fixed open-loop rate each, during the measured
/// window, on `OpenLoopScheduler` (the query stage's scheduler): latency from each request's
/// intended start (corrected) and from its actual start (uncorrected), answers per status code,
/// and a response check (status, optional text in the body). Locally it targets ClickHouse's HTTP
/// interface as the stand-in API; pointed at the platform's API it measures the real figure.
final class HTTPStage: @unchecked Sendable {
    // unchecked: immutable after init but for `stageThread`, which start/stop use from the owner only.
    struct Configuration: Sendable {
        var http: Workload.HTTP
        /// `{clickhouse}`: the ClickHouse base URL (`http://127.0.0.1:PORT`), when there is one.
        var clickhouse: String?
        /// `{database}`: the repetition's database.
        var database: String
    }

    /// A request with its placeholders filled in.
    struct Prepared: Sendable {
        var spec: Workload.HTTPRequest
        var url: String
        var headers: [String]
        var body: [UInt8]?
    }

    let configuration: Configuration
    let requests: [Prepared]
    private let clock = SystemClock()
    private let scheduler: OpenLoopScheduler
    private var stageThread: JoinableThread?

    init(_ configuration: Configuration) throws {
        self.configuration = configuration
        func fill(_ text: String, name: String) throws -> String {
            if text.contains("{clickhouse}") && configuration.clickhouse == nil {
                throw BenchError(
                    .invalidArgument, what: "http request '\(name)' names {clickhouse} and the workload has no ClickHouse server",
                    remedy: "set embedded.clickhouse: true or write the API's URL")
            }
            return text.replacingOccurrences(of: "{clickhouse}", with: configuration.clickhouse ?? "")
                .replacingOccurrences(of: "{database}", with: configuration.database)
        }
        requests = try configuration.http.requests.map { spec in
            Prepared(
                spec: spec, url: try fill(spec.url, name: spec.name), headers: try spec.headers.map { try fill($0, name: spec.name) },
                body: try spec.body.map { Array(try fill($0, name: spec.name).utf8) })
        }
        scheduler = OpenLoopScheduler(names: requests.map(\.spec.name), rates: requests.map(\.spec.rate), concurrency: configuration.http.concurrency)
    }

    /// Starts the stage: waits until `measureFromWall`, then runs the schedule until `measureToWall`. Returns at once.
    func start(measureFromWall: Int64, measureToWall: Int64) {
        let (requests, timeoutMillis) = (requests, Int(configuration.http.timeoutNanos / 1_000_000))
        stageThread = JoinableThread.start { [self] in
            let offset = clock.monotonicNanos() - clock.wallNanos()
            scheduler.sleep(until: measureFromWall + offset)
            scheduler.run(until: measureToWall + offset) {
                // One handle (one keep-alive connection) per worker; the host comes with each URL.
                let http = try ClickHouseHTTP(host: "127.0.0.1", port: 0, place: "http")
                http.timeoutMillis = timeoutMillis
                return { requestIndex, _ in Self.send(requests[requestIndex], http: http) }
            }
        }
    }

    /// Stops taking new requests, waits for those in flight, returns per request what was measured.
    func stop() -> (requests: [OpenLoopScheduler.ClassResult], error: String?) {
        scheduler.stop()
        stageThread?.join()
        stageThread = nil
        let (results, error) = scheduler.finish()
        return (results, error)
    }

    /// Sends one request and checks the answer: the expected status, and the expected text when given.
    static func send(_ request: Prepared, http: ClickHouseHTTP) -> OpenLoopScheduler.Outcome {
        let reply: (status: Int, body: String)
        do {
            reply = try http.request(method: request.spec.method, url: request.url, headers: request.headers, body: request.body)
        } catch let error as ReplayError {
            return .init(failure: error.what)
        } catch {
            return .init(failure: "\(error)")
        }
        if reply.status != request.spec.status {
            let first = reply.body.split(whereSeparator: \.isNewline).first.map { String($0.prefix(160)) } ?? ""
            return .init(failure: "HTTP \(reply.status), expected \(request.spec.status)" + (first.isEmpty ? "" : ": \(first)"), status: reply.status)
        }
        if let text = request.spec.contains, !reply.body.contains(text) {
            return .init(failure: "the answer does not contain '\(text)'", status: reply.status)
        }
        return .init(rows: 1, status: reply.status)
    }

    /// The stage's figures for the report: latency histograms keyed `http.NAME` (from the
    /// intended start) and `http_uncorrected.NAME` (from the actual start), so the metrics are
    /// `latency.http.NAME.p99` …; per request `http.NAME.count` (good answers), `.errors` (no
    /// answer or a failed check), `http.NAME.status.CODE` (answers per status); a note per
    /// request that failed, with the first reasons.
    static func figures(_ results: [OpenLoopScheduler.ClassResult], error: String?) -> StageFigures {
        var figures = StageFigures(
            results, error: error, stage: "http requests", latency: "http", metric: "http", unit: "requests",
            failedNote: {
                "http request \($0.name): \($0.failed) of \($0.failed + $0.succeeded) failed: " + $0.failures.joined(separator: "; ")
            },
            notStartedNote: {
                "http request \($0.name): \($0.notStarted) requests due in the window never started (every connection busy until it ended)"
            })
        guard error == nil else { return figures }
        for result in results {
            for (status, count) in result.statuses {
                figures.metrics["http.\(result.name).status.\(status)"] = .init(value: Double(count), unit: "requests", better: .higher)
            }
        }
        return figures
    }
}
