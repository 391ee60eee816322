import K2Core

extension PipelineSetup {
    /// Starts the workload's HTTP stage for repetition `rep` (nil without `http:`), during the
    /// measured window; `{clickhouse}` is this pipeline's ClickHouse, `{database}` the repetition's.
    func startHTTP(_ rep: Int, warmupNanos: Int64, durationNanos: Int64) throws -> HTTPStage? {
        guard let http = workload.http else { return nil }
        let stage = try HTTPStage(.init(http: http, clickhouse: port != 0 ? "http://\(host):\(port)" : nil, database: database(rep)))
        let now = SystemClock().wallNanos()
        stage.start(measureFromWall: now + warmupNanos, measureToWall: now + warmupNanos + durationNanos)
        progress?(
            "http stage: " + http.requests.map { "\($0.name) \($0.method) \(Units.format($0.rate))/s" }.joined(separator: ", ")
                + ", at most \(http.concurrency) in flight")
        return stage
    }
}
