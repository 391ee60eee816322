/// A benchmark workload: what to replay, how fast, for how long, into which sinks, what to
/// measure and against which targets. Read from YAML by `WorkloadLoader`; every key and its
/// default is documented in docs/workloads.md.
package struct Workload: Sendable, Equatable {
    /// Name shown in reports (default: the file name without extension).
    package var name: String
    package var description: String
    package var source: Source
    package var pace: Pace
    /// Time replayed before measuring starts (its samples are not counted). Default 0.
    package var warmupNanos: Int64
    /// Measured time. Default 30 s.
    package var durationNanos: Int64
    /// Sinks the replay writes to (URIs as `k2 replay --to` takes them). Default `[mock://]`.
    package var sinks: [SinkSpec]
    package var probes: Probes
    /// Read the Kafka topic back and measure end-to-end latency. Default off.
    package var consumer: Consumer?
    package var watch: Watch
    /// Targets file for the verdict table (relative to the workload file). Default none.
    package var targets: String?
    /// How many times the run is repeated (repetitions feed `compare`'s statistics). Default 1.
    package var repetitions: Int
    /// Target figures (ids in the targets file) this workload is not built to test, shown as
    /// "not measured" instead of judged (e.g. a steady-rate workload and the burst figure). Default none.
    package var notTested: [String] = []
    /// A reference measured in the same run so a slower machine does not fail a gate. Default none.
    package var reference: Reference?
    /// Embedded servers the harness starts itself.
    package var embedded: Embedded
    /// Queries run against ClickHouse while the replay runs (query latency per class). Default none.
    package var queries: Queries?
    /// Storage and compression from ClickHouse's `system.parts` after each repetition. Default none.
    package var storage: Storage?
    /// HTTP requests at fixed open-loop rates during the measured window (API latency). Default none.
    package var http: HTTP? = nil
    /// A burst phase on top of a `rate:` (the burst figure, the backlog it leaves, the catch-up). Default none.
    package var burst: Burst? = nil
    /// Faults injected during the measured window (`faults:`, Workload+Faults.swift). Default none.
    package var faults: [Fault] = []
    /// `ledger: true|false`: reconcile every message stage by stage after each repetition (Kafka
    /// sinks: read the topic back by `k2-id`). Nil (the default): on exactly when there are faults.
    package var ledger: Bool?
    /// Whether the run keeps the ledger.
    package var keepsLedger: Bool { ledger ?? !faults.isEmpty }
    /// The file it was read from.
    package var path: String

    package init(name: String, source: Source) {
        self.name = name
        self.description = ""
        self.source = source
        self.pace = .speed(1)
        self.warmupNanos = 0
        self.durationNanos = 30_000_000_000
        self.sinks = [SinkSpec(uri: "mock://")]
        self.probes = Probes()
        self.consumer = nil
        self.watch = Watch()
        self.targets = nil
        self.repetitions = 1
        self.reference = nil
        self.embedded = Embedded()
        self.queries = nil
        self.storage = nil
        self.path = ""
    }

    /// Where messages come from.
    package enum Source: Sendable, Equatable {
        /// Recorded captures (paths resolved against the workload file's folder), looped to fill the duration when `loop`.
        case captures([String], loop: Bool)
        /// A K2Sim profile (a name or a profile YAML path) generated in-process with `seed`.
        case profile(String, seed: UInt64)
    }

    /// How fast messages go out.
    package enum Pace: Sendable, Equatable {
        /// A multiple of the capture's own pace (1 = real time).
        case speed(Double)
        /// A constant rate in messages per second, ignoring capture timing.
        case rate(Double)
        /// As fast as the sinks take them (no schedule: latency from intended time is not meaningful).
        case max

        package var text: String {
            switch self {
            case let .speed(speed): return "\(Units.format(speed))x"
            case let .rate(rate): return "\(Units.format(rate)) msg/s"
            case .max: return "max"
            }
        }
    }

    /// One sink: a URI and options passed to it (`acks`, `batch`, `table` …).
    package struct SinkSpec: Sendable, Equatable {
        package var uri: String
        package var options: [String: String]
        package init(uri: String, options: [String: String] = [:]) {
            self.uri = uri
            self.options = options
        }
    }

    /// Marked messages sent at a fixed interval and polled for in ClickHouse (freshness).
    package struct Probes: Sendable, Equatable {
        /// Send a probe every `intervalNanos`; 0 disables probes. Default 0 (off).
        package var intervalNanos: Int64 = 0
        /// ClickHouse HTTP URL the probe rows are polled at. Default the embedded server.
        package var clickhouse: String?
        /// Table (after the MV) that probe rows land in, columns `id UInt64, intended_ns UInt64`. Default `k2_probes`.
        package var table: String = "k2_probes"
        /// Table whose rows are counted every second (rows landed per second in ClickHouse). Default `bronze`.
        var rowsTable: String = "bronze"
        /// How often the table is polled. Default 50 ms.
        var pollNanos: Int64 = 50_000_000
        /// A probe not seen after this long counts as lost. Default 30 s.
        package var timeoutNanos: Int64 = 30_000_000_000
        package init() {}
    }

    /// A consumer that reads the topic back (end-to-end latency, consumer lag).
    package struct Consumer: Sendable, Equatable {
        /// Bootstrap servers; default: the first Kafka sink's broker.
        package var brokers: String?
        /// Topic; default: the first Kafka sink's topic.
        package var topic: String?
        package init() {}
    }

    /// Processes and cgroups whose CPU and memory are sampled every `intervalNanos`.
    package struct Watch: Sendable, Equatable {
        /// Process ids or command names (`clickhouse-server`); children are included.
        package var processes: [String] = []
        /// cgroup v2 directories (absolute, or relative to /sys/fs/cgroup), e.g. a Docker container's scope.
        var cgroups: [String] = []
        /// Whether the harness's own use is sampled (always shown apart from the system under test). Default true.
        package var harness: Bool = true
        /// Sampling interval. Default 1 s.
        package var intervalNanos: Int64 = 1_000_000_000
        package init() {}
    }

    /// A same-run reference workload: its throughput divides the measured figures in `compare`.
    package enum Reference: String, Sendable, Equatable, CaseIterable {
        /// `zstd -d` of a fixed synthetic stream, measured in MB/s by the harness.
        case zstd
    }

    /// Servers the harness starts for the run (so the workload runs on a bare machine).
    package struct Embedded: Sendable, Equatable {
        /// Start the in-process Kafka-protocol broker (`kafka://embedded/...` sinks use it). Default: when a sink needs it.
        package var broker: Bool? = nil
        /// Partitions for topics on the embedded broker. Default 4.
        package var partitions: Int = 4
        /// Brokers in the embedded cluster (ids 1…N; leader moves need more than one). Default 1.
        package var brokers: Int = 1
        /// Start a private ClickHouse server (`clickhouse://embedded/...` sinks and probes use it). Default: when needed.
        package var clickhouse: Bool? = nil
        /// SQL run on the ClickHouse server before the replay (Kafka engine table, MV, MergeTree), relative to the workload.
        var clickhouseSchema: String? = nil
        /// Settings for the embedded ClickHouse's default profile (e.g. `stream_flush_interval_ms: 500`). Default none.
        package var clickhouseSettings: [String: String] = [:]
        package init() {}
    }

    /// The query stage: per class a SQL file of query shapes and a fixed open-loop rate, run
    /// against ClickHouse during the measured window (docs/workloads.md, `queries`).
    package struct Queries: Sendable, Equatable {
        /// The classes, in file order (`simple`, `complex`, `ohlcv`, `cold` for the v2 schema).
        package var classes: [QueryClass] = []
        /// At most this many queries in flight (over all classes); a query due while all are
        /// busy starts late and its wait counts in the latency from the intended start. Default 4.
        package var concurrency: Int = 4
        /// Seed of the parameter draws (symbol, time range, query shape). Default 1.
        package var seed: UInt64 = 1
        /// Table the parameters are drawn from (columns `symbol`, `exchange_timestamp_ms`). Default `trades`.
        package var parametersFrom: String = "trades"
        /// ClickHouse HTTP URL (`http://[user:password@]HOST:PORT`); default the embedded server (or `probes.clickhouse`).
        package var clickhouse: String?
        /// How the classes' queries reach ClickHouse. Default `http` (the parameters and the
        /// server's version are read over HTTP either way).
        package var `protocol`: QueryProtocol = .http
        /// The native protocol's port (`protocol: native`); default the embedded server's, else 9000.
        package var nativePort: Int?
        /// Database; default the repetition's pipeline database (`k2_repN`), else `default`.
        package var database: String?
        /// A query not answered within this long fails. Default 30 s.
        package var timeoutNanos: Int64 = 30_000_000_000
        /// After the replay stops, the classes run again for this long with no ingestion (the
        /// query-only case, metrics `latency.query_alone.CLASS.*`); 0 = not. Default 0.
        package var aloneNanos: Int64 = 0
        package init() {}
    }

    /// The protocol of the query stage's queries.
    package enum QueryProtocol: String, Sendable, Equatable, CaseIterable {
        /// ClickHouse's HTTP interface, one keep-alive connection per worker (libcurl).
        case http
        /// ClickHouse's native TCP protocol, one connection per worker (`ClickHouseNativeClient`),
        /// what clickhouse-client and clickhouse-benchmark speak.
        case native
    }

    /// One query class: its SQL file (statements separated by `;`, one drawn per query) and rate.
    package struct QueryClass: Sendable, Equatable {
        package var name: String
        /// The SQL file (resolved like the other paths of the workload).
        package var sql: String
        /// Queries per second, started on a fixed schedule.
        package var rate: Double
        /// Length of the `{from_ms}`…`{to_ms}` range drawn per query. Default 1 h.
        package var windowNanos: Int64 = 3_600_000_000_000
        package init(name: String, sql: String, rate: Double) {
            self.name = name
            self.sql = sql
            self.rate = rate
        }
    }

    /// The HTTP stage (docs/workloads.md, `http`): requests, each at a fixed open-loop rate,
    /// through `concurrency` keep-alive connections, with a response check.
    package struct HTTP: Sendable, Equatable {
        /// The requests, in file order; each name is part of the metric names.
        package var requests: [HTTPRequest] = []
        /// At most this many requests in flight (over all requests). Default 4.
        package var concurrency: Int = 4
        /// A request not answered within this long fails. Default 10 s.
        package var timeoutNanos: Int64 = 10_000_000_000
        package init() {}
    }

    /// One HTTP request of the stage. `{clickhouse}` in the URL, headers and body is the embedded
    /// ClickHouse's base URL (`http://127.0.0.1:PORT`), `{database}` the repetition's database.
    package struct HTTPRequest: Sendable, Equatable {
        package var name: String
        package var url: String
        /// `GET` unless a body is given (then `POST`).
        package var method: String
        /// `Name: value` lines, in file order.
        package var headers: [String] = []
        package var body: String?
        /// Requests per second, started on a fixed schedule.
        package var rate: Double
        /// The status a good answer has. Default 200.
        package var status: Int = 200
        /// Text a good answer's body must hold. Default none.
        package var contains: String?
        package init(name: String, url: String, method: String, rate: Double) {
            self.name = name
            self.url = url
            self.method = method
            self.rate = rate
        }
    }

    /// A burst phase: `rate` msg/s for `lengthNanos`, starting `atNanos` into the measured
    /// window (the warm-up is before it); the workload's `rate:` before and after.
    package struct Burst: Sendable, Equatable {
        package var rate: Double
        package var atNanos: Int64
        package var lengthNanos: Int64
    }

    /// Storage accounting: which tables form which layer, and the daily volume to scale to.
    package struct Storage: Sendable, Equatable {
        /// Layers in file order (`bronze`, `silver`, `gold`), each a list of tables of the pipeline's database.
        package var layers: [Layer] = []
        /// The table whose rows are the messages landed (bytes per message = layer bytes / its rows). Default `bronze`.
        package var messagesTable: String = "bronze"
        /// Messages per day per exchange; default the source capture's at its recorded rate.
        package var messagesPerDay: [String: Double] = [:]
        package init() {}

        package struct Layer: Sendable, Equatable {
            package var name: String
            package var tables: [String]
        }
    }
}
