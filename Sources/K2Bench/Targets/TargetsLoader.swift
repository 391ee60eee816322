import K2Config

/// Reads a targets file strictly (unknown keys and wrong types are errors with file:line).
package enum TargetsLoader {
    static let guide = "docs/bench.md"

    package static func load(file: String) throws(BenchError) -> TargetsFile {
        do { return try read(StrictMap.load(file: file, guide: guide), file: file) } catch { throw BenchError(error) }
    }

    package static func parse(_ text: String, file: String = "targets.yaml") throws(BenchError) -> TargetsFile {
        do { return try read(StrictMap.parse(text, file: file, guide: guide), file: file) } catch { throw BenchError(error) }
    }

    static func read(_ root: StrictMap, file: String) throws(ConfigError) -> TargetsFile {
        try root.expectKeys(["schema", "name", "documents", "figures", "claims"])
        let schema = try root.int("schema") ?? 1
        guard schema == 1 else {
            throw root.error(at: "schema", "version \(schema) is not supported", remedy: "this k2 reads schema 1")
        }
        var docs: [SourceDocument] = []
        for documentMap in try root.maps("documents") ?? [] {
            try documentMap.expectKeys(["id", "file", "title"])
            guard let id = try documentMap.string("id") else { throw documentMap.missing("id", "the document id, e.g. \"000\"") }
            docs.append(SourceDocument(id: id, file: try documentMap.string("file") ?? "", title: try documentMap.string("title") ?? ""))
        }
        let ids = Set(docs.map(\.id))

        func source(_ m: StrictMap) throws(ConfigError) -> SourceRef {
            guard let sourceIDs = try m.strings("source") else { throw m.missing("source", "the document id(s) the number comes from") }
            for id in sourceIDs where !ids.contains(id) {
                throw m.error(
                    at: "source", "document '\(id)' is not listed under 'documents'",
                    remedy: "known: \(docs.map(\.id).joined(separator: ", "))")
            }
            return SourceRef(documents: sourceIDs, quote: try m.string("quote"))
        }

        var figures: [TargetFigure] = []
        var seen = Set<String>()
        for figureMap in try root.maps("figures") ?? [] {
            try figureMap.expectKeys([
                "id", "figure", "unit", "better", "measured_by", "v1", "v2", "note", "not_applicable", "extrapolated_by", "node_cores",
            ])
            guard let id = try figureMap.string("id") else { throw figureMap.missing("id", "a short name such as latency-p99") }
            guard seen.insert(id).inserted else { throw figureMap.error(at: "id", "figure '\(id)' is defined twice") }
            guard let unit = try figureMap.string("unit") else { throw figureMap.missing("unit", "e.g. ms, msg/s, cores, GB") }
            guard Units.isKnown(unit) else {
                throw figureMap.error(at: "unit", "unknown unit '\(unit)'", remedy: "known: \(Units.known.joined(separator: " "))")
            }
            let betterText = try figureMap.string("better") ?? "lower"
            guard let better = Direction(rawValue: betterText) else {
                throw figureMap.error(at: "better", "must be 'lower' or 'higher', not '\(betterText)'")
            }
            var v1: Baseline?
            if let baselineMap = try figureMap.map("v1") {
                try baselineMap.expectKeys(["value", "min", "max", "source", "quote"])
                let base = Baseline(
                    value: try baselineMap.double("value"), min: try baselineMap.double("min"), max: try baselineMap.double("max"),
                    source: try source(baselineMap))
                guard base.value != nil || (base.min != nil && base.max != nil) else {
                    throw baselineMap.missing("value", "a value, or min and max for a range")
                }
                v1 = base
            }
            var v2: Bound?
            if let boundMap = try figureMap.map("v2") {
                try boundMap.expectKeys(["bound", "source", "quote"])
                guard let text = try boundMap.string("bound") else { throw boundMap.missing("bound", "e.g. \"< 1000\" or \">= 10000\"") }
                guard let bound = parseBound(text) else {
                    throw boundMap.error(
                        at: "bound", "'\(text)' is not a bound", remedy: "write an operator (<, <=, >, >=) and a number, e.g. \"< 1000\"")
                }
                v2 = Bound(op: bound.0, value: bound.1, source: try source(boundMap))
            }
            var figure = TargetFigure(
                id: id, figure: try figureMap.string("figure") ?? id, unit: unit, better: better,
                measuredBy: try figureMap.strings("measured_by") ?? [], v1: v1, v2: v2,
                note: try figureMap.string("note"))
            figure.notApplicable = try figureMap.string("not_applicable")
            figure.extrapolatedBy = try figureMap.strings("extrapolated_by") ?? []
            figure.nodeCores = try figureMap.double("node_cores") ?? 16
            guard figure.nodeCores > 0 else { throw figureMap.error(at: "node_cores", "must be more than 0") }
            if !figure.extrapolatedBy.isEmpty && figure.v2 == nil {
                throw figureMap.error(
                    at: "extrapolated_by", "needs a v2 bound (the rate to extrapolate to)", remedy: "add v2: {bound: \">= 1000000\", source: …}")
            }
            figures.append(figure)
        }

        var claims: [Claim] = []
        for claimMap in try root.maps("claims") ?? [] {
            try claimMap.expectKeys(["id", "text", "factor", "factor_min", "factor_max", "about", "source", "quote"])
            guard let id = try claimMap.string("id") else { throw claimMap.missing("id", "a short name") }
            let factor = try claimMap.double("factor")
            let fmin = try claimMap.double("factor_min"), fmax = try claimMap.double("factor_max")
            let lo = factor ?? fmin, hi = factor ?? fmax
            guard let lo, let hi else { throw claimMap.missing("factor", "the claimed improvement factor (or factor_min and factor_max)") }
            let about = try claimMap.strings("about") ?? []
            for figureID in about where !seen.contains(figureID) {
                throw claimMap.error(at: "about", "figure '\(figureID)' is not defined under 'figures'")
            }
            claims.append(
                Claim(
                    id: id, text: try claimMap.string("text") ?? "\(Units.format(lo))x", factorMin: lo, factorMax: hi,
                    about: about, source: try source(claimMap)))
        }
        return TargetsFile(
            schema: schema, name: try root.string("name") ?? file, documents: docs, figures: figures,
            claims: claims, path: file)
    }

    /// `< 1000`, `<=15.5`, `≥ 10000`.
    static func parseBound(_ text: String) -> (Bound.Op, Double)? {
        var remaining = Substring(text.trimmingSpaces())
        let ops: [(String, Bound.Op)] = [("<=", .le), (">=", .ge), ("≤", .le), ("≥", .ge), ("<", .lt), (">", .gt)]
        for (sym, op) in ops where remaining.hasPrefix(sym) {
            remaining = remaining.dropFirst(sym.count)
            guard let value = StrictMap.number(String(remaining)) else { return nil }
            return (op, value)
        }
        return nil
    }
}
