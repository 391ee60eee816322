import K2Core

#if canImport(Glibc)
import Glibc
#endif

/// A small line chart rendered to inline SVG (no scripts, no external files).
struct SVGChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var dashed: Bool
        init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
            self.name = name
            self.points = points
            self.dashed = dashed
        }
    }

    enum XAxis {
        /// Seconds (or any linear quantity).
        case linear(label: String)
        /// HdrHistogram's percentile axis: x = 1 / (1 − p), log scale, ticks at 90 %, 99 % …
        case percentile
    }

    package var title: String
    package var yLabel: String
    package var xAxis: XAxis
    package var logY: Bool
    package var series: [Series]
    /// Shaded spans of the x axis (linear charts only), e.g. fault windows: from, to, label.
    var bands: [(from: Double, to: Double, label: String)] = []
    var width = 720.0
    var height = 300.0

    init(title: String, yLabel: String, x: XAxis, logY: Bool = false, series: [Series]) {
        self.title = title
        self.yLabel = yLabel
        self.xAxis = x
        self.logY = logY
        self.series = series
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    func render() -> String {
        let esc = HTMLText.escape
        let left = 64.0, right = 170.0, top = 28.0, bottom = 40.0
        let pw = width - left - right, ph = height - top - bottom
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(esc(title))\">"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
        svg += "<text x=\"\(left)\" y=\"18\" font-size=\"14\" font-weight=\"bold\" font-family=\"sans-serif\">\(esc(title))</text>"

        // Transform x values.
        func tx(_ v: Double) -> Double {
            switch xAxis {
            case .linear: return v
            case .percentile:
                let fraction = Swift.min(v, 99.9999) / 100
                return log10(1 / (1 - fraction))
            }
        }
        func ty(_ v: Double) -> Double { logY ? log10(Swift.max(v, 1e-6)) : v }
        let all = series.flatMap { $0.points }.filter { $0.x.isFinite && $0.y.isFinite }
        guard !all.isEmpty else {
            svg += "<text x=\"\(left)\" y=\"\(top + ph / 2)\" font-size=\"13\" font-family=\"sans-serif\" fill=\"#666\">no data</text></svg>"
            return svg
        }
        var x0 = all.map { tx($0.x) }.min()!, x1 = all.map { tx($0.x) }.max()!
        var y0 = logY ? all.map { ty($0.y) }.min()! : Swift.min(0, all.map { $0.y }.min()!)
        var y1 = all.map { ty($0.y) }.max()!
        if case .percentile = xAxis { x0 = 0; x1 = Swift.max(x1, 2) }
        if x1 - x0 < 1e-12 { x1 = x0 + 1 }
        if logY {
            y0 = y0.rounded(.down); y1 = Swift.max(y1.rounded(.up), y0 + 1)
        } else {
            y1 = Self.niceCeil(y1)
            if y1 - y0 < 1e-12 { y1 = y0 + 1 }
        }
        func px(_ v: Double) -> Double { left + (tx(v) - x0) / (x1 - x0) * pw }
        func py(_ v: Double) -> Double { top + ph - (ty(v) - y0) / (y1 - y0) * ph }

        // Axes and grid.
        svg += "<g font-size=\"11\" font-family=\"sans-serif\" fill=\"#333\" stroke=\"none\">"
        var yTicks: [Double] = []
        if logY {
            var exponent = y0
            while exponent <= y1 + 1e-9 { yTicks.append(pow(10, exponent)); exponent += 1 }
        } else {
            for k in 0...4 { yTicks.append(y0 + (y1 - y0) * Double(k) / 4) }
        }
        for tick in yTicks {
            let tickY = py(tick)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(tickY))\" x2=\"\(f(left + pw))\" y2=\"\(f(tickY))\" stroke=\"#e5e5e5\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(tickY + 4))\" text-anchor=\"end\">\(esc(Units.format(tick)))</text>"
        }
        switch xAxis {
        case let .linear(label):
            for k in 0...5 {
                let tickValue = x0 + (x1 - x0) * Double(k) / 5
                let xx = left + (tickValue - x0) / (x1 - x0) * pw
                svg += "<text x=\"\(f(xx))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\">\(esc(Units.format(tickValue)))</text>"
            }
            svg += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(esc(label))</text>"
        case .percentile:
            let labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
            for (k, label) in labels.enumerated() where Double(k) <= x1 + 1e-9 {
                let xx = left + (Double(k) - x0) / (x1 - x0) * pw
                svg += "<line x1=\"\(f(xx))\" y1=\"\(f(top))\" x2=\"\(f(xx))\" y2=\"\(f(top + ph))\" stroke=\"#eee\"/>"
                svg += "<text x=\"\(f(xx))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\">\(label)</text>"
            }
            svg += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">percentile (log scale of 1/(1-p))</text>"
        }
        svg += "<text transform=\"translate(14 \(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top + ph))\" x2=\"\(f(left + pw))\" y2=\"\(f(top + ph))\" stroke=\"#333\"/>"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + ph))\" stroke=\"#333\"/>"
        svg += "</g>"

        // Bands under the lines (clamped to the plot; at least 2 px wide so a one-off shows).
        if case .linear = xAxis {
            for band in bands where band.to >= x0 && band.from <= x1 {
                let from = px(Swift.max(band.from, x0)), to = Swift.max(px(Swift.min(band.to, x1)), from + 2)
                svg +=
                    "<rect x=\"\(f(from))\" y=\"\(f(top))\" width=\"\(f(to - from))\" height=\"\(f(ph))\" fill=\"#d62728\" fill-opacity=\"0.12\"><title>\(esc(band.label))</title></rect>"
            }
        }

        // Lines and legend.
        for (i, entry) in series.enumerated() {
            let color = Self.colors[i % Self.colors.count]
            let pts = entry.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }
            if !pts.isEmpty {
                let pointList = pts.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                svg +=
                    "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(entry.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(pointList)\"/>"
                if pts.count == 1 {
                    svg += "<circle cx=\"\(f(px(pts[0].x)))\" cy=\"\(f(py(pts[0].y)))\" r=\"3\" fill=\"\(color)\"/>"
                }
            }
            let ly = top + 8 + Double(i) * 16
            svg +=
                "<line x1=\"\(f(left + pw + 12))\" y1=\"\(f(ly))\" x2=\"\(f(left + pw + 32))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"\(entry.dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
            svg += "<text x=\"\(f(left + pw + 36))\" y=\"\(f(ly + 4))\" font-size=\"11\" font-family=\"sans-serif\">\(esc(entry.name))</text>"
        }
        svg += "</svg>"
        return svg
    }

    func f(_ v: Double) -> String { Units.fixed(v, 1) }

    static func niceCeil(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(v)))
        for m in [1.0, 2, 2.5, 5, 10] where m * magnitude >= v { return m * magnitude }
        return 10 * magnitude
    }
}
