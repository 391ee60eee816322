import Foundation

/// A sweep's directory: `sweep.json` (schema `k2-bench-sweep/1`), `sweep.md`, `sweep.html`
/// (inline SVG: achieved vs offered, p99 vs offered with the SLO, CPU vs offered), and one run
/// directory per step under `steps/`.
package enum SweepFiles {
    @discardableResult
    package static func write(_ sweep: Sweep, to dir: String) throws(BenchError) -> [String] {
        var folder = try ReportFiles.Folder(dir, what: "sweep")
        try folder.put("sweep.json", try encode(sweep))
        try folder.put("sweep.md", markdown(sweep))
        try folder.put("sweep.html", html(sweep))
        return folder.written
    }

    package static func encode(_ sweep: Sweep) throws(BenchError) -> String {
        try ReportFiles.json(sweep, what: "the sweep")
    }

    package static func load(_ path: String) throws(BenchError) -> Sweep {
        let (file, data) = try ReportFiles.read(
            path, named: "sweep.json", what: "no sweep here", remedy: "give a directory from `k2 bench sweep -o DIR` or its sweep.json")
        do {
            return try JSONDecoder().decode(Sweep.self, from: data)
        } catch {
            throw BenchError(.badFile, path: file, what: "not a k2 bench sweep (\(error))", remedy: "give a sweep.json written by `k2 bench sweep`")
        }
    }

    package static func markdown(_ s: Sweep) -> String {
        "## k2 bench sweep: \(s.workload)\n\n" + s.summary + "\n\n" + s.markdown()
    }

    package static func html(_ s: Sweep) -> String {
        let esc = HTMLText.escape
        let steps = s.steps.sorted { $0.rate < $1.rate }
        var page = HTMLPage.head(title: "k2 bench sweep: \(s.workload)")
        page += "<h1>k2 bench sweep: \(esc(s.workload))</h1>"
        page += "<h2 class=\"\(s.maxSustainable == nil ? "fail" : "pass")\">\(esc(s.summary))</h2>"
        page += "<div class=\"charts\">"
        let offered = steps.map { (x: $0.rate, y: $0.offered) }
        let achieved = steps.map { (x: $0.rate, y: $0.achieved) }
        page += SVGChart(
            title: "Achieved vs offered (msg/s)", yLabel: "msg/s", x: .linear(label: "offered rate (msg/s)"),
            series: [.init(name: "offered (ideal)", points: offered, dashed: true), .init(name: "achieved", points: achieved)]
        ).render()
        let lat = steps.compactMap { st in st.latencyP99ms.map { (x: st.rate, y: Swift.max($0, 0.001)) } }
        let xs = steps.map(\.rate)
        var latSeries: [SVGChart.Series] = [.init(name: "p99 " + (steps.first?.latencyMetric.map(Sweep.shortName) ?? ""), points: lat)]
        if let lo = xs.min(), let hi = xs.max() {
            latSeries.append(
                .init(
                    name: "SLO \(Units.format(s.criteria.latencySLOms)) ms",
                    points: [(x: lo, y: s.criteria.latencySLOms), (x: hi, y: s.criteria.latencySLOms)], dashed: true))
        }
        page += SVGChart(
            title: "p99 latency vs offered (ms, log scale)", yLabel: "ms", x: .linear(label: "offered rate (msg/s)"), logY: true, series: latSeries
        ).render()
        let cpu = steps.compactMap { st in st.cpuCores.map { (x: st.rate, y: $0) } }
        page += SVGChart(
            title: "CPU vs offered (cores)", yLabel: "cores", x: .linear(label: "offered rate (msg/s)"),
            series: [.init(name: steps.first?.cpuSource ?? "cpu", points: cpu)]
        ).render()
        page += "</div>"
        page +=
            "<h2>Steps</h2><table><tr><th>rate</th><th>offered</th><th>achieved</th><th>p99 (ms)</th><th>backlog</th><th>CPU (cores)</th><th>sustainable</th><th>report</th></tr>"
        for st in steps {
            page += "<tr><td>\(esc(Units.format(st.rate)))</td><td>\(esc(Units.format(st.offered)))</td><td>\(esc(Units.format(st.achieved)))</td>"
            page +=
                "<td>\(esc(st.latencyP99ms.map(Units.format) ?? "–"))</td><td>\(esc(Units.format(st.backlog)))</td><td>\(esc(st.cpuCores.map(Units.format) ?? "–"))</td>"
            page += "<td class=\"\(st.sustainable ? "pass" : "fail")\">\(esc(st.sustainable ? "yes" : "no: " + st.why))</td>"
            page += "<td>\(st.report.map { "<a href=\"\(esc($0))/report.html\">\(esc($0))</a>" } ?? "")</td></tr>"
        }
        page += "</table>"
        if let us = s.cpuMicrosPerMessage {
            page +=
                "<h2>CPU extrapolation</h2><p>CPU per message at the maximum sustainable step: \(esc(Units.format(us))) µs (\(esc(s.maxSustainable?.cpuSource ?? ""))), linear.</p>"
            page += "<table><tr><th>target rate</th><th>cores needed</th><th>vs \(esc(Units.format(s.budgetCores)))-core budget</th></tr>"
            for projection in s.projections {
                page += "<tr><td>\(esc(Units.format(projection.rate))) msg/s</td><td>\(esc(Units.format(projection.cores)))</td>"
                page +=
                    "<td class=\"\(projection.fitsBudget ? "pass" : "fail")\">\(esc(projection.fitsBudget ? "fits" : "over by " + Units.format(projection.cores - s.budgetCores)))</td></tr>"
            }
            page += "</table>"
        }
        page += "</body></html>\n"
        return page
    }
}
