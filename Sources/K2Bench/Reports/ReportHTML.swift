/// `report.html`: one self-contained file (inline CSS and SVG, no scripts, no external
/// resources). Every string from the workload, the environment or a sink is HTML-escaped.
package enum ReportHTML {
    package static func render(_ r: BenchReport, verification: Verification? = nil) -> String {
        let esc = HTMLText.escape
        var page = HTMLPage.head(title: "k2 bench: \(r.workload.name)")
        page += "<h1>k2 bench: \(esc(r.workload.name))</h1>"
        page += "<p>\(esc(r.workload.description))</p>"
        let workload = r.workload, environment = r.environment
        page +=
            "<p>Workload <code>\(esc(workload.path))</code>: \(esc(workload.source)), pace \(esc(workload.pace)), warm-up \(esc(Units.format(workload.warmupSeconds))) s, "
        page +=
            "\(esc(Units.format(workload.durationSeconds))) s × \(workload.repetitions); sinks \(workload.sinks.map { "<code>\(esc($0))</code>" }.joined(separator: ", ")).<br>"
        page +=
            "Machine <code>\(esc(environment.hostname))</code>: \(environment.cpus) CPUs, \(esc(SizeTextShort.gb(environment.memoryBytes))), \(esc(environment.os)) \(esc(environment.kernel)); "
        page +=
            "k2 \(esc(r.tool.version))\(esc(r.tool.gitRevision.map { " (\($0))" } ?? "")); \(esc(environment.startedAt)) – \(esc(environment.finishedAt)).</p>"

        if let result = verification {
            page += "<h2>Verdict: <span class=\"\(result.failed ? "fail" : "pass")\">\(esc(result.summary))</span></h2>"
            page += "<table><tr><th>figure</th><th>v1 baseline</th><th>v2 target</th><th>measured</th><th>verdict</th><th>ratio vs v1</th></tr>"
            for row in result.rows {
                let unit = row.figure.unit
                let cls = row.verdict == .pass ? "pass" : row.verdict == .fail ? "fail" : "nm"
                page += "<tr><td>\(esc(row.figure.figure))</td>"
                page += "<td>\(esc(row.figure.v1.map { "\($0.text) \(unit) (\($0.source.label))" } ?? "–"))</td>"
                page += "<td>\(esc(row.figure.v2.map { "\($0.text) \(unit) (\($0.source.label))" } ?? "–"))</td>"
                page += "<td>\(esc(row.measuredText))</td>"
                page += "<td class=\"\(cls)\">\(esc(row.verdict.rawValue))</td>"
                page += "<td>\(esc(row.ratioVsV1.map { Units.format($0) + "x" } ?? "–"))</td></tr>"
                if let why = row.breakdown { page += "<tr><td></td><td colspan=\"5\" class=\"why\">\(esc(why))</td></tr>" }
            }
            page += "</table><pre>\(esc(result.claimsText()))</pre>"
        }

        page += "<div class=\"charts\">"
        // Latency percentile spectrum (merged over repetitions).
        let lat = (try? r.mergedLatencies()) ?? [:]
        var spectrum: [SVGChart.Series] = []
        for key in lat.keys.sorted(by: ReportMarkdown.latencyOrder) {
            let hist = lat[key]!
            guard hist.totalCount > 0 else { continue }
            spectrum.append(HTMLPage.spectrum(key.replacingOccurrences(of: "_", with: "-"), hist, dashed: key.hasSuffix(".actual")))
        }
        page += SVGChart(title: "Latency by percentile (ms, log scale)", yLabel: "ms", x: .percentile, logY: true, series: spectrum).render()

        if let run = r.runs.last {
            let iv = run.intervals
            var tp: [SVGChart.Series] = [
                .init(name: "offered", points: iv.map { (x: $0.t, y: $0.offeredMsgs / Swift.max($0.seconds, 1e-9)) }, dashed: true),
                .init(name: "sent", points: iv.map { (x: $0.t, y: $0.sentMsgs / Swift.max($0.seconds, 1e-9)) }),
            ]
            for (i, sink) in run.sinks.enumerated() {
                tp.append(
                    .init(
                        name: "delivered " + sink.uri,
                        points: iv.compactMap { i < $0.deliveredMsgs.count ? (x: $0.t, y: $0.deliveredMsgs[i] / Swift.max($0.seconds, 1e-9)) : nil }))
            }
            if iv.contains(where: { $0.consumedMsgs != nil }) {
                tp.append(
                    .init(name: "consumed back", points: iv.compactMap { p in p.consumedMsgs.map { (x: p.t, y: $0 / Swift.max(p.seconds, 1e-9)) } }))
            }
            let faultBands = ReportFaults.bands(run)
            var throughput = SVGChart(
                title: "Throughput vs offered (msg/s, repetition \(run.index + 1))", yLabel: "msg/s", x: .linear(label: "seconds"), series: tp)
            throughput.bands = faultBands
            page += throughput.render()

            var late: [SVGChart.Series] = []
            if iv.contains(where: { $0.latenessP99Ms != nil }) {
                late.append(.init(name: "lateness p99", points: iv.compactMap { p in p.latenessP99Ms.map { (x: p.t, y: $0) } }))
                late.append(.init(name: "lateness max", points: iv.compactMap { p in p.latenessMaxMs.map { (x: p.t, y: $0) } }, dashed: true))
            }
            var backlog: [SVGChart.Series] = []
            for (i, sink) in run.sinks.enumerated() {
                backlog.append(.init(name: "backlog " + sink.uri, points: iv.compactMap { i < $0.backlog.count ? (x: $0.t, y: $0.backlog[i]) : nil }))
            }
            var lateness = SVGChart(title: "Replay lateness per interval (ms)", yLabel: "ms", x: .linear(label: "seconds"), series: late)
            lateness.bands = faultBands
            page += lateness.render()
            var backlogChart = SVGChart(
                title: "Backlog: messages sent, not yet acknowledged", yLabel: "messages", x: .linear(label: "seconds"), series: backlog)
            backlogChart.bands = faultBands
            page += backlogChart.render()

            let cpu = run.resources.map { s in
                SVGChart.Series(name: s.name, points: s.samples.map { (x: $0.t, y: $0.cpuCores) }, dashed: s.kind == "harness")
            }
            let mem = run.resources.map { s in
                SVGChart.Series(name: s.name, points: s.samples.map { (x: $0.t, y: Double($0.memoryBytes) / 1e6) }, dashed: s.kind == "harness")
            }
            page += SVGChart(title: "CPU per process (cores; harness dashed)", yLabel: "cores", x: .linear(label: "seconds"), series: cpu).render()
            page += SVGChart(title: "Memory per process (RSS / memory.current, MB)", yLabel: "MB", x: .linear(label: "seconds"), series: mem).render()
        }
        page += "</div>"

        if !lat.isEmpty {
            page += "<h2>Latency (ms)</h2><table><tr><th>kind</th><th>from</th><th>count</th>"
            for (label, _) in BenchReport.percentiles { page += "<th>\(esc(label))</th>" }
            page += "</tr>"
            for key in lat.keys.sorted(by: ReportMarkdown.latencyOrder) {
                let percentiles = BenchReport.percentilesMs(lat[key]!)
                let parts = key.split(separator: ".").map(String.init)
                page += "<tr><td>\(esc(parts[0]))</td><td>\(esc(parts.count > 1 ? parts[1] : ""))</td><td>\(lat[key]!.totalCount)</td>"
                for (label, _) in BenchReport.percentiles { page += "<td>\(esc(Units.format(percentiles[label] ?? 0)))</td>" }
                page += "</tr>"
            }
            page += "</table>"
        }
        for table in [
            ReportStages.bound(r), ReportStages.boundIntervals(r), ReportStages.queries(r), ReportStages.queries(r, alone: true),
            ReportStages.http(r), ReportStages.storage(r), ReportStages.burst(r),
        ].compactMap({ $0 }) { page += ReportStages.html(table) }
        page += ReportFaults.html(r)
        page += ReportLedger.html(r)
        page += "<h2>Metrics</h2><table><tr><th>metric</th><th>value</th><th>unit</th></tr>"
        for name in r.metrics.keys.sorted() {
            let metric = r.metrics[name]!
            page += "<tr><td>\(esc(name))</td><td>\(esc(Units.format(metric.value)))</td><td>\(esc(metric.unit))</td></tr>"
        }
        page += "</table>"
        if let run = r.runs.last, !run.sinks.isEmpty {
            page += "<h2>Sinks</h2><table><tr><th>sink</th><th>sent</th><th>delivered</th><th>failed</th><th>reasons</th></tr>"
            for sink in run.sinks {
                let reasons = sink.failureReasons.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; ")
                page +=
                    "<tr><td>\(esc(sink.uri))</td><td>\(sink.sent)</td><td>\(sink.delivered)</td><td>\(sink.failed)</td><td>\(esc(reasons))</td></tr>"
            }
            page += "</table>"
        }
        if !r.notes.isEmpty {
            page += "<h2>Notes</h2><ul>" + r.notes.map { "<li>\(esc($0))</li>" }.joined() + "</ul>"
        }
        page += "</body></html>\n"
        return page
    }
}
