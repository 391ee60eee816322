/// The platform's figures as data: the v1 baseline, the v2 targets and the claims, each with
/// the document it comes from. Loaded from `reports/targets/k2-v2.yaml` (format: docs/bench.md).
package struct TargetsFile: Sendable, Equatable {
    /// Format version of the file (`schema: 1`).
    package var schema: Int
    package var name: String
    package var documents: [SourceDocument]
    package var figures: [TargetFigure]
    package var claims: [Claim]
    /// The file it was read from (for reports).
    package var path: String

    package func figure(_ id: String) -> TargetFigure? { figures.first { $0.id == id } }
}

/// A document the figures come from (`000` … `004`, files in ../shared/seeds/).
package struct SourceDocument: Sendable, Equatable {
    var id: String
    var file: String
    var title: String
}

/// Where a number comes from: one or more document ids and the words it was given in.
package struct SourceRef: Sendable, Equatable {
    var documents: [String]
    var quote: String?

    var label: String { documents.joined(separator: ", ") }
}

/// Which way is better for a figure.
package enum Direction: String, Sendable, Equatable, CaseIterable {
    case lower, higher
}

/// A v1 figure: one value or a range (`5,000–10,000 trades/s`).
package struct Baseline: Sendable, Equatable {
    package var value: Double?
    package var min: Double?
    package var max: Double?
    package var source: SourceRef

    /// The value the ratio vs v1 uses: the single value, or the end of the range most favourable
    /// to v1 (the strictest comparison for v2).
    package func reference(_ better: Direction) -> Double? {
        if let value { return value }
        switch better {
        case .lower: return min ?? max
        case .higher: return max ?? min
        }
    }

    package var text: String {
        if let value { return Units.format(value) }
        if let min, let max { return Units.format(min) + "–" + Units.format(max) }
        return "–"
    }
}

/// A v2 target bound: `< 1000`, `<= 15.5`, `>= 10000`.
package struct Bound: Sendable, Equatable {
    package enum Op: String, Sendable, CaseIterable {
        case lt = "<"
        case le = "<="
        case gt = ">"
        case ge = ">="
    }
    package var op: Op
    package var value: Double
    package var source: SourceRef

    package func holds(_ measured: Double) -> Bool {
        switch op {
        case .lt: return measured < value
        case .le: return measured <= value
        case .gt: return measured > value
        case .ge: return measured >= value
        }
    }

    package var text: String {
        let sym: String
        switch op {
        case .lt: sym = "<"
        case .le: sym = "≤"
        case .gt: sym = ">"
        case .ge: sym = "≥"
        }
        return sym + " " + Units.format(value)
    }
}

/// One figure of the platform: what it is, its unit, which way is better, the report metric
/// that measures it (first one present wins), the v1 baseline and the v2 target.
package struct TargetFigure: Sendable, Equatable {
    package var id: String
    var figure: String
    var unit: String
    var better: Direction
    /// Report metric names that measure this figure, in order of preference.
    var measuredBy: [String]
    var v1: Baseline?
    var v2: Bound?
    var note: String?
    /// Why the figure does not apply to v2 (`not_applicable:`): the verdict says "not applicable
    /// to v2" with this reason, apart from "not measured". Default nil (it applies).
    var notApplicable: String? = nil
    /// Metrics (first present wins) of the CPU time per message in µs that the figure's v2 bound
    /// (a rate) is extrapolated from (`extrapolated_by:`): cores = rate × µs per message. Default none.
    var extrapolatedBy: [String] = []
    /// Cores per node for the extrapolation's node count (`node_cores:`). Default 16 (the v2 budget).
    var nodeCores: Double = 16
}

/// A claim the documents make that is recorded, not tested (`"6x faster"`): reports print the
/// measured ratio next to it instead of picking one claim.
package struct Claim: Sendable, Equatable {
    var id: String
    var text: String
    var factorMin: Double
    var factorMax: Double
    /// Figure ids whose measured ratio vs v1 the claim is about.
    var about: [String]
    var source: SourceRef
}
