import K2Core

/// The opening of every k2 HTML page: one self-contained file (inline CSS, no scripts).
enum HTMLPage {
    static func head(title: String) -> String {
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(HTMLText.escape(title))</title>" + """
            <style>
            body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
            table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}
            th{background:#f3f3f3}.pass{color:#070;font-weight:bold}.fail{color:#b00;font-weight:bold}.nm{color:#777}.why{color:#555;font-size:90%}
            .charts svg{display:block;margin:10px 0;border:1px solid #ddd}code{background:#f5f5f5;padding:0 3px}
            </style></head><body>
            """
    }

    /// A latency histogram as a percentile-spectrum series in milliseconds (for `XAxis.percentile`).
    static func spectrum(_ name: String, _ h: Histogram, dashed: Bool = false) -> SVGChart.Series {
        let scale = Double(h.unit.nanos) / 1e6
        let pts = h.percentileSpectrum(ticksPerHalfDistance: 5).map { (x: $0.percentile, y: Swift.max(Double($0.value) * scale, 0.001)) }
        return SVGChart.Series(name: name, points: pts, dashed: dashed)
    }
}
