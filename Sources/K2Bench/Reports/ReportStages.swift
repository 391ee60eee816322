/// The query stage, storage and the burst phase as tables for report.md and report.html: one row
/// per query class (answered, failed, rows, latency from the intended and the actual start), one
/// per storage layer (from the last repetition's `system.parts` figures), one per repetition's burst.
enum ReportStages {
    struct Table {
        var title: String
        var header: [String]
        var rows: [[String]]
    }

    /// Query classes in the report (from `queries.CLASS.count`), nil when none ran; `alone`: the
    /// run after ingestion (`queries_alone.CLASS.count`, `queries.alone`).
    static func queries(_ r: BenchReport, alone: Bool = false) -> Table? {
        let (counts, kind) = alone ? ("queries_alone", "query_alone") : ("queries", "query")
        let classes = r.metrics.keys.compactMap { name -> String? in
            guard name.hasPrefix(counts + "."), name.hasSuffix(".count") else { return nil }
            return String(name.dropFirst(counts.count + 1).dropLast(".count".count))
        }.sorted()
        guard !classes.isEmpty else { return nil }
        func value(_ name: String) -> String { r.metrics[name].map { Units.format($0.value) } ?? "–" }
        let rows = classes.map { className in
            [
                className, value("\(counts).\(className).count"), value("\(counts).\(className).errors"), value("\(counts).\(className).rows"),
                value("latency.\(kind).\(className).p50"), value("latency.\(kind).\(className).p99"),
                value("latency.\(kind)_uncorrected.\(className).p99"),
            ]
        }
        return Table(
            title: alone ? "Queries alone after ingestion (open loop)" : "Queries while ingesting (open loop)",
            header: ["class", "answered", "failed", "rows", "p50 ms (intended)", "p99 ms (intended)", "p99 ms (actual start)"], rows: rows)
    }

    /// Storage layers of the last repetition (from `storage.LAYER.bytes_on_disk`), nil without storage figures.
    static func storage(_ r: BenchReport) -> Table? {
        guard let metrics = r.runs.last?.metrics else { return nil }
        let layers = metrics.keys.compactMap { name -> String? in
            guard name.hasPrefix("storage."), name.hasSuffix(".bytes_on_disk"), !name.hasPrefix("storage.table.") else { return nil }
            return String(name.dropFirst("storage.".count).dropLast(".bytes_on_disk".count))
        }.sorted()
        guard !layers.isEmpty else { return nil }
        func value(_ name: String, scale: Double = 1) -> String { metrics[name].map { Units.format($0.value / scale) } ?? "–" }
        let rows = layers.map { layer in
            [
                layer, value("storage.\(layer).rows"), value("storage.\(layer).bytes_on_disk", scale: 1e6),
                value("storage.\(layer).compressed_bytes", scale: 1e6),
                value("storage.\(layer).uncompressed_bytes", scale: 1e6), value("compression.\(layer).ratio"),
                value("storage.\(layer).bytes_per_message"),
                value("storage.\(layer).mb_per_exchange_day"),
            ]
        }
        var title = "Storage per layer (system.parts, last repetition)"
        if let capture = metrics["compression.capture.ratio"] { title += "; the source capture's zstd ratio: \(Units.format(capture.value))" }
        return Table(
            title: title,
            header: ["layer", "rows", "MB on disk", "MB compressed", "MB uncompressed", "ratio", "B per message", "MB per exchange-day"], rows: rows)
    }

    /// HTTP requests in the report (from `http.NAME.count`), nil when none ran.
    static func http(_ r: BenchReport) -> Table? {
        let names = r.metrics.keys.compactMap { name -> String? in
            guard name.hasPrefix("http."), name.hasSuffix(".count") else { return nil }
            return String(name.dropFirst("http.".count).dropLast(".count".count))
        }.sorted()
        guard !names.isEmpty else { return nil }
        func value(_ name: String) -> String { r.metrics[name].map { Units.format($0.value) } ?? "–" }
        let rows = names.map { request in
            let statuses = r.metrics.keys.filter { $0.hasPrefix("http.\(request).status.") }.sorted()
                .map { "\($0.dropFirst("http.\(request).status.".count)): \(value($0))" }.joined(separator: ", ")
            return [
                request, value("http.\(request).count"), value("http.\(request).errors"), statuses.isEmpty ? "–" : statuses,
                value("latency.http.\(request).p50"), value("latency.http.\(request).p99"), value("latency.http_uncorrected.\(request).p99"),
            ]
        }
        return Table(
            title: "HTTP requests (open loop)",
            header: ["request", "good answers", "failed", "status codes", "p50 ms (intended)", "p99 ms (intended)", "p99 ms (actual start)"],
            rows: rows)
    }

    /// The burst phase per repetition (from `burst.offered.msgs_per_s`), nil without a burst.
    static func burst(_ r: BenchReport) -> Table? {
        let runs = r.runs.filter { $0.metrics["burst.offered.msgs_per_s"] != nil }
        guard !runs.isEmpty else { return nil }
        let rows = runs.map { run in
            [String(run.index + 1)]
                + [
                    "burst.offered.msgs_per_s", "burst.achieved.peak_msgs_per_s", "burst.backlog.broker.max.messages",
                    "burst.backlog.clickhouse.max.rows",
                ].map { run.metrics[$0].map { Units.format($0.value) } ?? "–" }
                + [run.metrics["burst.catch_up.s"].map { Units.format($0.value) } ?? "not caught up"]
        }
        return Table(
            title: "Burst phase: peak absorbed, backlog, ClickHouse catch-up",
            header: [
                "repetition", "offered msg/s", "best 1 s acknowledged msg/s", "broker backlog max (messages)",
                "ClickHouse behind max (rows)", "catch-up s after the burst",
            ], rows: rows)
    }

    /// Per repetition: harness-bound or system-bound, with the evidence; nil without labels.
    static func bound(_ r: BenchReport) -> Table? {
        let runs = r.runs.filter { $0.bound != nil }
        guard !runs.isEmpty else { return nil }
        let rows = runs.map { run -> [String] in
            let label = run.bound!
            let late = run.boundIntervals?.filter { $0.bound != label.bound }.count ?? 0
            return [String(run.index + 1)] + boundCells(label) + ["\(late) of \(run.boundIntervals?.count ?? 0)", label.reason]
        }
        return Table(
            title: "Harness or system? (what limited each repetition's figures)",
            header: ["repetition"] + boundHeader + ["intervals labelled otherwise", "why"], rows: rows)
    }

    /// The last repetition's intervals, labelled; nil without them.
    static func boundIntervals(_ r: BenchReport) -> Table? {
        guard let intervals = r.runs.last?.boundIntervals, !intervals.isEmpty else { return nil }
        let rows = intervals.map { b in
            ["\(Units.format(b.startSeconds))–\(Units.format(b.startSeconds + b.lengthSeconds))"] + boundCells(b)
        }
        return Table(title: "Harness or system? (last repetition, per interval)", header: ["interval (s)"] + boundHeader, rows: rows)
    }

    static let boundHeader = ["bound", "sending thread busy", "blocked in sinks", "lateness p99 / budget (ms)", "k2 CPU (cores)", "waited for a CPU"]

    static func boundCells(_ b: BenchReport.BoundLabel) -> [String] {
        func pct(_ share: Double) -> String { Units.format(share * 100) + " %" }
        return [
            b.bound, pct(b.busyFraction), pct(b.blockedFraction),
            b.latenessP99Ms.map { "\(Units.format($0)) / \(Units.format(b.latenessBudgetMs ?? 0))" } ?? "– (max)",
            "\(Units.format(b.cpuCores)) of \(b.cores)", b.runQueueFraction.map(pct) ?? "–",
        ]
    }

    static func markdown(_ t: Table) -> String {
        var out = "\n### \(t.title)\n\n| " + t.header.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: t.header.count) + "\n"
        for row in t.rows { out += "| " + row.joined(separator: " | ") + " |\n" }
        return out
    }

    static func html(_ t: Table) -> String {
        var out = "<h2>\(HTMLText.escape(t.title))</h2><table><tr>" + t.header.map { "<th>\(HTMLText.escape($0))</th>" }.joined() + "</tr>"
        for row in t.rows { out += "<tr>" + row.map { "<td>\(HTMLText.escape($0))</td>" }.joined() + "</tr>" }
        return out + "</table>"
    }
}
