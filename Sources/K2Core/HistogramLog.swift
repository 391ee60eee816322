// HdrHistogram interval logs (`.hlog`): intervals of V2-encoded histograms over a run.

/// One interval of an HdrHistogram interval log.
package struct HistogramInterval: Sendable, Equatable {
    /// Seconds since the log's start time (or base time) at which the interval starts.
    package var startSeconds: Double
    /// Interval length in seconds.
    package var lengthSeconds: Double
    /// Optional tag (`Tag=NAME,` prefix), e.g. the sink's name.
    package var tag: String?
    package var histogram: Histogram

    package init(startSeconds: Double, lengthSeconds: Double, tag: String? = nil, histogram: Histogram) {
        self.startSeconds = startSeconds
        self.lengthSeconds = lengthSeconds
        self.tag = tag
        self.histogram = histogram
    }
}

/// An interval kept in its compact encoded form (what long runs store: a few hundred bytes each).
package struct EncodedHistogramInterval: Sendable, Equatable {
    package var startSeconds: Double
    package var lengthSeconds: Double
    package var tag: String?
    /// The interval's max in milliseconds (the `.hlog` `Interval_Max` column).
    package var maxMilliseconds: Double
    /// `Histogram.encodedBase64()`.
    package var base64: String

    package init(startSeconds: Double, lengthSeconds: Double, tag: String? = nil, maxMilliseconds: Double, base64: String) {
        self.startSeconds = startSeconds
        self.lengthSeconds = lengthSeconds
        self.tag = tag
        self.maxMilliseconds = maxMilliseconds
        self.base64 = base64
    }

    package init(_ interval: HistogramInterval) {
        let histogram = interval.histogram
        self.init(
            startSeconds: interval.startSeconds, lengthSeconds: interval.lengthSeconds, tag: interval.tag,
            maxMilliseconds: Double(histogram.max) / histogram.unit.perMillisecond, base64: histogram.encodedBase64())
    }
}

/// Writes HdrHistogram's interval log format (`.hlog`, version 1.3): a `#[StartTime: …]` comment,
/// the CSV legend, then one line per interval: start, length, max (in ms), base64 histogram.
package struct HistogramLogWriter {
    package private(set) var text: String = ""
    let startNanos: Int64

    /// `startNanos` is the wall time (ns since epoch) interval start offsets are relative to.
    package init(startNanos: Int64, comment: String? = nil) {
        self.startNanos = startNanos
        if let comment { text += "#\(comment)\n" }
        text += "#[Histogram log format version 1.3]\n"
        let seconds = Double(startNanos) / 1e9
        text += "#[StartTime: \(TimeText.fixed(seconds, 3)) (seconds since epoch), \(TimeText.iso8601(nanos: startNanos, fractionDigits: 3))]\n"
        text += "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
    }

    package mutating func append(_ interval: HistogramInterval) {
        let histogram = interval.histogram
        append(
            EncodedHistogramInterval(
                startSeconds: interval.startSeconds, lengthSeconds: interval.lengthSeconds,
                tag: interval.tag, maxMilliseconds: Double(histogram.max) / histogram.unit.perMillisecond,
                base64: histogram.encodedBase64()))
    }

    /// Appends an interval whose histogram was encoded already.
    package mutating func append(_ interval: EncodedHistogramInterval) {
        if let tag = interval.tag { text += "Tag=\(tag)," }
        text +=
            TimeText.fixed(interval.startSeconds, 3) + "," + TimeText.fixed(interval.lengthSeconds, 3) + ","
            + TimeText.fixed(interval.maxMilliseconds, 3) + "," + interval.base64 + "\n"
    }
}

/// Reads `.hlog` text back: the start time and every interval.
package enum HistogramLogReader {
    package static func parse(_ text: String, unit: HistogramUnit = .nanoseconds) throws(CoreError)
        -> (startSeconds: Double?, intervals: [HistogramInterval])
    {
        var start: Double?
        var base: Double = 0
        var intervals: [HistogramInterval] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("#[StartTime: ") {
                let rest = line.dropFirst("#[StartTime: ".count)
                start = Double(rest.prefix { $0 != " " })
                continue
            }
            if line.hasPrefix("#[BaseTime: ") {
                base = Double(line.dropFirst("#[BaseTime: ".count).prefix { $0 != " " }) ?? 0
                continue
            }
            if line.hasPrefix("#") || line.hasPrefix("\"StartTimestamp\"") { continue }
            var fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            var tag: String?
            if let first = fields.first, first.hasPrefix("Tag=") {
                tag = String(first.dropFirst(4))
                fields.removeFirst()
            }
            guard fields.count == 4, let startSeconds = Double(fields[0]), let lengthSeconds = Double(fields[1]) else {
                throw CoreError.badHistogram("bad .hlog line: \(line.prefix(60))")
            }
            let histogram = try Histogram.decode(base64: fields[3], unit: unit)
            intervals.append(HistogramInterval(startSeconds: startSeconds + base, lengthSeconds: lengthSeconds, tag: tag, histogram: histogram))
        }
        return (start, intervals)
    }
}
