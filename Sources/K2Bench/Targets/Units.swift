/// The units figures and metrics are given in, and conversion between units of one family
/// (a targets file may say `ms` while a report stores `ns`).
public enum Units {
    /// (family, factor to the family's base unit) for each known unit.
    static let table: [String: (String, Double)] = [
        "ns": ("time", 1), "us": ("time", 1e3), "µs": ("time", 1e3), "ms": ("time", 1e6), "s": ("time", 1e9),
        "B": ("bytes", 1), "kB": ("bytes", 1e3), "MB": ("bytes", 1e6), "GB": ("bytes", 1e9),
        "KiB": ("bytes", 1024), "MiB": ("bytes", 1_048_576), "GiB": ("bytes", 1_073_741_824),
        "msg/s": ("rate", 1), "trades/s": ("rate", 1), "rows/s": ("rate", 1),
        "MB/s": ("byterate", 1e6), "B/s": ("byterate", 1),
        "cores": ("cores", 1),
        "count": ("count", 1), "services": ("count", 1), "messages": ("count", 1), "rows": ("count", 1),
        "%": ("percent", 1),
        "ratio": ("ratio", 1),
        "MB/day": ("bytes/day", 1e6), "GB/day": ("bytes/day", 1e9),
    ]

    public static var known: [String] { table.keys.sorted() }

    public static func isKnown(_ unit: String) -> Bool { table[unit] != nil }

    /// `value` in `from` expressed in `to`; nil when the units are of different families or unknown.
    public static func convert(_ value: Double, from: String, to: String) -> Double? {
        if from == to { return value }
        guard let (fa, sa) = table[from], let (fb, sb) = table[to], fa == fb else { return nil }
        return value * sa / sb
    }

    /// A number for a table cell: no trailing zeros, thousands grouped, at most 3 significant decimals.
    public static func format(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "–" : "∞" }
        let magnitude = abs(v)
        let digits = magnitude >= 1000 ? 0 : magnitude >= 100 ? 1 : magnitude >= 1 ? 2 : 3
        var text = fixed(v, digits)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return group(text)
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (abs(v) * scale).rounded()
        let whole = Int64(rounded / scale)
        let frac = Int64(rounded - Double(whole) * scale)
        var text = (v < 0 && rounded != 0 ? "-" : "") + String(whole)
        if digits > 0 {
            var fraction = String(frac)
            while fraction.count < digits { fraction = "0" + fraction }
            text += "." + fraction
        }
        return text
    }

    static func group(_ s: String) -> String {
        let neg = s.hasPrefix("-")
        let body = neg ? String(s.dropFirst()) : s
        let parts = body.split(separator: ".", maxSplits: 1)
        let int = Array(parts[0])
        guard int.count > 3 else { return s }
        var out = ""
        for (i, digit) in int.enumerated() {
            if i > 0 && (int.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        if parts.count > 1 { out += "." + parts[1] }
        return (neg ? "-" : "") + out
    }
}
