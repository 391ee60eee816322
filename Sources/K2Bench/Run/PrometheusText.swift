import Foundation
import K2Net

/// Prometheus text exposition (version 0.0.4) of a live run, served by K2Net's `MetricsServer`
/// on `--metrics-port` (`k2 replay`, `k2 sim run`, `k2 bench run`).
public enum PrometheusText {
    /// One exposed value: `name{labels} value`.
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var help: String
        /// `gauge` or `counter`.
        public var type: String
        /// Label pairs, in order; values are escaped when rendered.
        public var labels: [(String, String)]
        public var value: Double
        public init(_ name: String, _ value: Double, help: String, type: String = "gauge", labels: [(String, String)] = []) {
            self.name = name
            self.help = help
            self.type = type
            self.labels = labels
            self.value = value
        }
        public static func == (a: Sample, b: Sample) -> Bool {
            a.name == b.name && a.help == b.help && a.type == b.type && a.value == b.value
                && a.labels.map(\.0) == b.labels.map(\.0) && a.labels.map(\.1) == b.labels.map(\.1)
        }
    }

    /// Samples of one name grouped under one HELP/TYPE header.
    public static func render(_ samples: [Sample]) -> String {
        var order: [String] = []
        var byName: [String: [Sample]] = [:]
        for sample in samples {
            if byName[sample.name] == nil { order.append(sample.name) }
            byName[sample.name, default: []].append(sample)
        }
        var out = ""
        for name in order {
            let group = byName[name]!
            out += "# HELP \(name) \(group[0].help)\n# TYPE \(name) \(group[0].type)\n"
            for sample in group {
                let labels = sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                out += name + (labels.isEmpty ? "" : "{\(labels)}") + " " + number(sample.value) + "\n"
            }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}

extension MetricsServer {
    /// Replaces the exposed values (rendered when scraped).
    public func update(_ samples: [PrometheusText.Sample]) {
        update { PrometheusText.render(samples) }
    }
}
