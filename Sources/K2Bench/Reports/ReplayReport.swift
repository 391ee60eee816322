import K2Core
import K2Replay

/// The pictures of a `k2 replay --report DIR`: `summary.md` (a CI job summary) and
/// `summary.html` (lateness over time, latency by percentile, the sinks' accounting), next to
/// the `summary.json`, `latency.hlog` and `lateness.hgrm` the replay engine writes.
package enum ReplayReport {
    /// Writes `summary.md` and `summary.html` into `dir` (created) and returns the paths.
    @discardableResult
    package static func write(_ s: ReplaySummary, to dir: String) throws(BenchError) -> [String] {
        var folder = try ReportFiles.Folder(dir, what: "replay report")
        try folder.put("summary.md", markdown(s))
        try folder.put("summary.html", html(s))
        return folder.written
    }

    static func ms(_ ns: Int64) -> String { Units.format(Double(ns) / 1e6) }

    /// Lateness p99 and max per interval (ms), from the engine's interval histograms.
    static func latenessSeries(_ s: ReplaySummary) -> (p99: [(x: Double, y: Double)], max: [(x: Double, y: Double)]) {
        var p99: [(x: Double, y: Double)] = []
        var mx: [(x: Double, y: Double)] = []
        for i in s.latenessIntervals {
            let endSeconds = i.startSeconds + i.lengthSeconds
            if let histogram = try? Histogram.decode(base64: i.base64), histogram.totalCount > 0 {
                p99.append((endSeconds, Double(histogram.valueAtPercentile(99)) / 1e6))
            }
            mx.append((endSeconds, i.maxMilliseconds))
        }
        return (p99, mx)
    }

    /// The headline: outcome, volumes, speed, lateness, scheduling.
    static func headline(_ s: ReplaySummary) -> [(String, String)] {
        var rows: [(String, String)] = [
            ("outcome", s.outcome.rawValue + (s.stopReason.map { ": " + $0 } ?? "")),
            ("captures", s.files.joined(separator: ", ")),
        ]
        // Damage the replay went past (--allow-torn): a torn tail, damaged frames skipped.
        for damage in s.inputDamage + s.skippedFrames { rows.append(("input damage", damage)) }
        rows += [
            ("messages", "\(s.messages) (\(SizeText.human(bytes: Int64(s.bytes))))" + (s.neverSent > 0 ? ", \(s.neverSent) never sent" : "")),
            ("duration", TimeText.humanDuration(nanos: s.durationNanos)),
            ("speed", "requested \(s.pace), achieved \(Units.format(s.achievedSpeed))x, \(Units.format(s.messagesPerSecond)) msg/s"),
        ]
        if s.lateness.totalCount > 0 {
            let lateness = s.lateness
            rows.append(
                (
                    "lateness (ms)",
                    "p50 \(ms(lateness.valueAtPercentile(50))), p99 \(ms(lateness.valueAtPercentile(99))), "
                        + "p99.9 \(ms(lateness.valueAtPercentile(99.9))), max \(ms(lateness.max))"
                ))
            rows.append(("scheduling", s.realtimePriority.map { "SCHED_FIFO \($0)" } ?? "normal"))
        }
        if let load = s.harness {
            let (bound, reason) = load.classification
            rows.append(("bound", "\(bound.rawValue): \(reason)"))
        }
        return rows
    }

    static let boundColumns = [
        "interval (s)", "sent", "busy", "blocked in sinks", "lateness p99 / budget (ms)", "k2 CPU (cores)", "waited for a CPU", "bound",
    ]

    /// One row per harness interval: what the sending thread did and the label it gives.
    static func boundRow(_ load: HarnessLoad) -> [String] {
        func pct(_ share: Double) -> String { Units.format(share * 100) + " %" }
        return [
            "\(Units.format(Double(load.startNanos) / 1e9))–\(Units.format(Double(load.startNanos + load.lengthNanos) / 1e9))",
            "\(load.sent)", pct(load.busyFraction), pct(load.blockedFraction),
            load.latenessP99Nanos.map { "\(ms($0)) / \(ms(load.latenessBudgetNanos ?? 0))" } ?? "– (max)",
            "\(Units.format(load.cpuCores)) of \(load.cores)", load.runQueueFraction.map(pct) ?? "–", load.bound.rawValue,
        ]
    }

    static let sinkColumns = [
        "#", "sink", "sent", "delivered", "failed", "in flight", "never sent",
        "from intended p50 / p99 / max (ms)", "from actual p99 (ms)",
    ]

    static func sinkRow(_ n: Int, _ k: SinkSummary) -> [String] {
        let counts = k.stats.counts
        let fi = k.stats.latencyFromIntended, fa = k.stats.latencyFromActual
        return [
            "\(n)", k.uri, "\(counts.sent)", "\(counts.delivered)", "\(counts.failed)", "\(counts.inFlight)", "\(k.neverSent)",
            fi.totalCount > 0 ? "\(ms(fi.valueAtPercentile(50))) / \(ms(fi.valueAtPercentile(99))) / \(ms(fi.max))" : "–",
            fa.totalCount > 0 ? ms(fa.valueAtPercentile(99)) : "–",
        ]
    }

    static func problems(_ s: ReplaySummary) -> [String] {
        var out: [String] = []
        for k in s.sinks {
            for (reason, count) in k.stats.counts.failureReasons.sorted(by: { $0.value > $1.value }).prefix(5) {
                out.append("\(k.uri): \(count) failed: \(reason)")
            }
            for (reason, count) in k.stats.counts.unknownReasons.sorted(by: { $0.value > $1.value }).prefix(5) {
                out.append("\(k.uri): \(count) unknown (may or may not have landed): \(reason)")
            }
            if let error = k.error { out.append("\(k.uri): \(error)") }
        }
        return out
    }

    package static func markdown(_ s: ReplaySummary) -> String {
        func cell(_ t: String) -> String { t.replacingOccurrences(of: "|", with: "\\|") }
        var md = "## k2 replay: \(s.outcome.rawValue)\n\n| | |\n|---|---|\n"
        for (k, v) in headline(s) { md += "| \(k) | \(cell(v)) |\n" }
        md += "\n| " + sinkColumns.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: sinkColumns.count) + "\n"
        for (i, k) in s.sinks.enumerated() { md += "| " + sinkRow(i + 1, k).map(cell).joined(separator: " | ") + " |\n" }
        if !s.harnessIntervals.isEmpty {
            md +=
                "\n### Harness or system? (per interval)\n\n| " + boundColumns.joined(separator: " | ") + " |\n|"
                + String(repeating: "---|", count: boundColumns.count) + "\n"
            for load in s.harnessIntervals { md += "| " + boundRow(load).map(cell).joined(separator: " | ") + " |\n" }
        }
        let issues = problems(s)
        if !issues.isEmpty { md += "\n" + issues.map { "- " + $0 }.joined(separator: "\n") + "\n" }
        return md
    }

    package static func html(_ s: ReplaySummary) -> String {
        let esc = HTMLText.escape
        var page = HTMLPage.head(title: "k2 replay: \(s.outcome.rawValue)")
        page += "<h1>k2 replay: <span class=\"\(s.outcome == .completed ? "pass" : "fail")\">\(esc(s.outcome.rawValue))</span></h1>"
        page += "<table>" + headline(s).map { "<tr><th>\(esc($0.0))</th><td>\(esc($0.1))</td></tr>" }.joined() + "</table>"
        page += "<div class=\"charts\">"
        let late = latenessSeries(s)
        if late.max.count >= 2 {
            page += SVGChart(
                title: "Lateness per interval (ms, actual − intended send time)", yLabel: "ms", x: .linear(label: "seconds"),
                series: [.init(name: "p99", points: late.p99), .init(name: "max", points: late.max, dashed: true)]
            ).render()
        }
        var spectrum: [SVGChart.Series] = []
        if s.lateness.totalCount > 0 { spectrum.append(HTMLPage.spectrum("lateness", s.lateness)) }
        // Series are named by the sink's number in the table (URIs are too long for a legend).
        for (i, sink) in s.sinks.enumerated() {
            if sink.stats.latencyFromIntended.totalCount > 0 {
                spectrum.append(HTMLPage.spectrum("sink \(i + 1) from intended", sink.stats.latencyFromIntended))
            }
            if sink.stats.latencyFromActual.totalCount > 0 {
                spectrum.append(HTMLPage.spectrum("sink \(i + 1) from actual", sink.stats.latencyFromActual, dashed: true))
            }
        }
        // Sinks modelling a slow consumer (`mock://?capacity=N`) report their queue per second.
        let queues = s.sinks.enumerated().compactMap { i, sink -> SVGChart.Series? in
            guard let depth = sink.stats.details.first(where: { $0.0 == "queue_depth_per_second" })?.1.arrayValue else { return nil }
            return .init(name: "sink \(i + 1)", points: depth.enumerated().compactMap { i, v in v.doubleValue.map { (x: Double(i + 1), y: $0) } })
        }
        if !queues.isEmpty {
            page += SVGChart(
                title: "Queue depth per second (max; capacity-modelled sinks)", yLabel: "messages", x: .linear(label: "seconds"),
                series: queues
            ).render()
        }
        if s.harnessIntervals.count >= 2 {
            func series(_ name: String, dashed: Bool = false, _ share: (HarnessLoad) -> Double) -> SVGChart.Series {
                .init(
                    name: name, points: s.harnessIntervals.map { (x: Double($0.startNanos + $0.lengthNanos) / 1e9, y: share($0) * 100) },
                    dashed: dashed)
            }
            page += SVGChart(
                title: "Sending thread per interval (% of the time)", yLabel: "%", x: .linear(label: "seconds"),
                series: [series("busy") { $0.busyFraction }, series("blocked in sinks", dashed: true) { $0.blockedFraction }]
            ).render()
        }
        if !spectrum.isEmpty {
            page += SVGChart(title: "Latency by percentile (ms, log scale)", yLabel: "ms", x: .percentile, logY: true, series: spectrum).render()
        }
        page += "</div><h2>Sinks</h2><table><tr>" + sinkColumns.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
        for (i, k) in s.sinks.enumerated() { page += "<tr>" + sinkRow(i + 1, k).map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }
        page += "</table>"
        if !s.harnessIntervals.isEmpty {
            page += "<h2>Harness or system? (per interval)</h2><table><tr>" + boundColumns.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
            for load in s.harnessIntervals { page += "<tr>" + boundRow(load).map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }
            page += "</table>"
        }
        let issues = problems(s)
        if !issues.isEmpty { page += "<h2>Failures</h2><ul>" + issues.map { "<li>\(esc($0))</li>" }.joined() + "</ul>" }
        page += "<p>Files: <code>summary.json</code>, <code>latency.hlog</code> (HdrHistogram interval log, ns), "
        page += "<code>lateness.hgrm</code> (percentile distribution, µs).</p></body></html>\n"
        return page
    }
}
