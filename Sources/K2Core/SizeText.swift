/// Sizes as users type them: `1GB`, `512MiB`, `64k`, `1000`.
package enum SizeText {
    /// Bytes, or nil when the text is not a size or the size does not fit in Int64.
    package static func parse(_ text: String) -> Int64? {
        let t = text.trimmingSpaces()
        var digitsEnd = t.startIndex
        while digitsEnd < t.endIndex, t[digitsEnd].isNumber || t[digitsEnd] == "." { digitsEnd = t.index(after: digitsEnd) }
        guard digitsEnd > t.startIndex, let v = Double(t[t.startIndex..<digitsEnd]) else { return nil }
        let unit = t[digitsEnd...].lowercased()
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kb": scale = 1e3
        case "kib": scale = 1024
        case "m", "mb": scale = 1e6
        case "mib": scale = 1_048_576
        case "g", "gb": scale = 1e9
        case "gib": scale = 1_073_741_824
        case "t", "tb": scale = 1e12
        default: return nil
        }
        let bytes = (v * scale).rounded()
        // Below 2^63: Int64(_:) traps on anything larger (and on inf).
        guard bytes.isFinite, bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }

    /// `1.23 MB` style (decimal units).
    package static func human(bytes: Int64) -> String {
        let b = Double(bytes)
        if b < 1e3 { return "\(bytes) B" }
        if b < 1e6 { return TimeText.fixed(b / 1e3, 1) + " kB" }
        if b < 1e9 { return TimeText.fixed(b / 1e6, 1) + " MB" }
        return TimeText.fixed(b / 1e9, 2) + " GB"
    }
}
