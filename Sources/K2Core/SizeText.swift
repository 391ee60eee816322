/// Sizes as users type them: `1GB`, `512MiB`, `64k`, `1000`.
public enum SizeText {
    /// Bytes, or nil when the text is not a size or the size does not fit in Int64.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces()
        var digitsEnd = trimmed.startIndex
        while digitsEnd < trimmed.endIndex, trimmed[digitsEnd].isNumber || trimmed[digitsEnd] == "." { digitsEnd = trimmed.index(after: digitsEnd) }
        guard digitsEnd > trimmed.startIndex, let number = Double(trimmed[trimmed.startIndex..<digitsEnd]) else { return nil }
        let unit = trimmed[digitsEnd...].lowercased()
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
        let bytes = (number * scale).rounded()
        // Below 2^63: Int64(_:) traps on anything larger (and on inf).
        guard bytes.isFinite, bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }

    /// `1.23 MB` style (decimal units).
    public static func human(bytes: Int64) -> String {
        let value = Double(bytes)
        if value < 1e3 { return "\(bytes) B" }
        if value < 1e6 { return TimeText.fixed(value / 1e3, 1) + " kB" }
        if value < 1e9 { return TimeText.fixed(value / 1e6, 1) + " MB" }
        return TimeText.fixed(value / 1e9, 2) + " GB"
    }
}
