/// `report.html`: one self-contained file (inline CSS and SVG, no scripts, no external
/// resources). Every string from the workload, the environment or a sink is HTML-escaped.
public enum ReportHTML {
    public static func render(_ r: BenchReport, verification: Verification? = nil) -> String {
        let esc = HTMLText.escape
        var h = HTMLPage.head(title: "k2 bench: \(r.workload.name)")
        h += "<h1>k2 bench: \(esc(r.workload.name))</h1>"
        h += "<p>\(esc(r.workload.description))</p>"
        let w = r.workload, e = r.environment
        h += "<p>Workload <code>\(esc(w.path))</code>: \(esc(w.source)), pace \(esc(w.pace)), warm-up \(esc(Units.format(w.warmupSeconds))) s, "
        h += "\(esc(Units.format(w.durationSeconds))) s × \(w.repetitions); sinks \(w.sinks.map { "<code>\(esc($0))</code>" }.joined(separator: ", ")).<br>"
        h += "Machine <code>\(esc(e.hostname))</code>: \(e.cpus) CPUs, \(esc(SizeTextShort.gb(e.memoryBytes))), \(esc(e.os)) \(esc(e.kernel)); "
        h += "k2 \(esc(r.tool.version))\(esc(r.tool.gitRevision.map { " (\($0))" } ?? "")); \(esc(e.startedAt)) – \(esc(e.finishedAt)).</p>"

        if let v = verification {
            h += "<h2>Verdict: <span class=\"\(v.failed ? "fail" : "pass")\">\(esc(v.summary))</span></h2>"
            h += "<table><tr><th>figure</th><th>v1 baseline</th><th>v2 target</th><th>measured</th><th>verdict</th><th>ratio vs v1</th></tr>"
            for row in v.rows {
                let u = row.figure.unit
                let cls = row.verdict == .pass ? "pass" : row.verdict == .fail ? "fail" : "nm"
                h += "<tr><td>\(esc(row.figure.figure))</td>"
                h += "<td>\(esc(row.figure.v1.map { "\($0.text) \(u) (\($0.source.label))" } ?? "–"))</td>"
                h += "<td>\(esc(row.figure.v2.map { "\($0.text) \(u) (\($0.source.label))" } ?? "–"))</td>"
                h += "<td>\(esc(row.measuredText))</td>"
                h += "<td class=\"\(cls)\">\(esc(row.verdict.rawValue))</td>"
                h += "<td>\(esc(row.ratioVsV1.map { Units.format($0) + "x" } ?? "–"))</td></tr>"
                if let why = row.breakdown { h += "<tr><td></td><td colspan=\"5\" class=\"why\">\(esc(why))</td></tr>" }
            }
            h += "</table><pre>\(esc(v.claimsText()))</pre>"
        }

        h += "<div class=\"charts\">"
        // Latency percentile spectrum (merged over repetitions).
        let lat = (try? r.mergedLatencies()) ?? [:]
        var spectrum: [SVGChart.Series] = []
        for key in lat.keys.sorted(by: ReportMarkdown.latencyOrder) {
            let hist = lat[key]!
            guard hist.totalCount > 0 else { continue }
            spectrum.append(HTMLPage.spectrum(key.replacingOccurrences(of: "_", with: "-"), hist, dashed: key.hasSuffix(".actual")))
        }
        h += SVGChart(title: "Latency by percentile (ms, log scale)", yLabel: "ms", x: .percentile, logY: true, series: spectrum).render()

        if let run = r.runs.last {
            let iv = run.intervals
            var tp: [SVGChart.Series] = [
                .init(name: "offered", points: iv.map { (x: $0.t, y: $0.offeredMsgs / Swift.max($0.seconds, 1e-9)) }, dashed: true),
                .init(name: "sent", points: iv.map { (x: $0.t, y: $0.sentMsgs / Swift.max($0.seconds, 1e-9)) }),
            ]
            for (i, s) in run.sinks.enumerated() {
                tp.append(.init(name: "delivered " + s.uri, points: iv.compactMap { i < $0.deliveredMsgs.count ? (x: $0.t, y: $0.deliveredMsgs[i] / Swift.max($0.seconds, 1e-9)) : nil }))
            }
            if iv.contains(where: { $0.consumedMsgs != nil }) {
                tp.append(.init(name: "consumed back", points: iv.compactMap { p in p.consumedMsgs.map { (x: p.t, y: $0 / Swift.max(p.seconds, 1e-9)) } }))
            }
            let faultBands = ReportFaults.bands(run)
            var throughput = SVGChart(title: "Throughput vs offered (msg/s, repetition \(run.index + 1))", yLabel: "msg/s", x: .linear(label: "seconds"), series: tp)
            throughput.bands = faultBands
            h += throughput.render()

            var late: [SVGChart.Series] = []
            if iv.contains(where: { $0.latenessP99Ms != nil }) {
                late.append(.init(name: "lateness p99", points: iv.compactMap { p in p.latenessP99Ms.map { (x: p.t, y: $0) } }))
                late.append(.init(name: "lateness max", points: iv.compactMap { p in p.latenessMaxMs.map { (x: p.t, y: $0) } }, dashed: true))
            }
            var backlog: [SVGChart.Series] = []
            for (i, s) in run.sinks.enumerated() {
                backlog.append(.init(name: "backlog " + s.uri, points: iv.compactMap { i < $0.backlog.count ? (x: $0.t, y: $0.backlog[i]) : nil }))
            }
            var lateness = SVGChart(title: "Replay lateness per interval (ms)", yLabel: "ms", x: .linear(label: "seconds"), series: late)
            lateness.bands = faultBands
            h += lateness.render()
            var backlogChart = SVGChart(title: "Backlog: messages sent, not yet acknowledged", yLabel: "messages", x: .linear(label: "seconds"), series: backlog)
            backlogChart.bands = faultBands
            h += backlogChart.render()

            let cpu = run.resources.map { s in SVGChart.Series(name: s.name, points: s.samples.map { (x: $0.t, y: $0.cpuCores) }, dashed: s.kind == "harness") }
            let mem = run.resources.map { s in SVGChart.Series(name: s.name, points: s.samples.map { (x: $0.t, y: Double($0.memoryBytes) / 1e6) }, dashed: s.kind == "harness") }
            h += SVGChart(title: "CPU per process (cores; harness dashed)", yLabel: "cores", x: .linear(label: "seconds"), series: cpu).render()
            h += SVGChart(title: "Memory per process (RSS / memory.current, MB)", yLabel: "MB", x: .linear(label: "seconds"), series: mem).render()
        }
        h += "</div>"

        if !lat.isEmpty {
            h += "<h2>Latency (ms)</h2><table><tr><th>kind</th><th>from</th><th>count</th>"
            for (label, _) in BenchReport.percentiles { h += "<th>\(esc(label))</th>" }
            h += "</tr>"
            for key in lat.keys.sorted(by: ReportMarkdown.latencyOrder) {
                let p = BenchReport.percentilesMs(lat[key]!)
                let parts = key.split(separator: ".").map(String.init)
                h += "<tr><td>\(esc(parts[0]))</td><td>\(esc(parts.count > 1 ? parts[1] : ""))</td><td>\(lat[key]!.totalCount)</td>"
                for (label, _) in BenchReport.percentiles { h += "<td>\(esc(Units.format(p[label] ?? 0)))</td>" }
                h += "</tr>"
            }
            h += "</table>"
        }
        for table in [ReportStages.bound(r), ReportStages.boundIntervals(r), ReportStages.queries(r), ReportStages.http(r), ReportStages.storage(r), ReportStages.burst(r)].compactMap({ $0 }) { h += ReportStages.html(table) }
        h += ReportFaults.html(r)
        h += "<h2>Metrics</h2><table><tr><th>metric</th><th>value</th><th>unit</th></tr>"
        for name in r.metrics.keys.sorted() {
            let m = r.metrics[name]!
            h += "<tr><td>\(esc(name))</td><td>\(esc(Units.format(m.value)))</td><td>\(esc(m.unit))</td></tr>"
        }
        h += "</table>"
        if let run = r.runs.last, !run.sinks.isEmpty {
            h += "<h2>Sinks</h2><table><tr><th>sink</th><th>sent</th><th>delivered</th><th>failed</th><th>reasons</th></tr>"
            for s in run.sinks {
                let reasons = s.failureReasons.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; ")
                h += "<tr><td>\(esc(s.uri))</td><td>\(s.sent)</td><td>\(s.delivered)</td><td>\(s.failed)</td><td>\(esc(reasons))</td></tr>"
            }
            h += "</table>"
        }
        if !r.notes.isEmpty {
            h += "<h2>Notes</h2><ul>" + r.notes.map { "<li>\(esc($0))</li>" }.joined() + "</ul>"
        }
        h += "</body></html>\n"
        return h
    }
}
