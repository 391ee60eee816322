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
        for d in try root.maps("documents") ?? [] {
            try d.expectKeys(["id", "file", "title"])
            guard let id = try d.string("id") else { throw d.missing("id", "the document id, e.g. \"000\"") }
            docs.append(SourceDocument(id: id, file: try d.string("file") ?? "", title: try d.string("title") ?? ""))
        }
        let ids = Set(docs.map(\.id))

        func source(_ m: StrictMap) throws(ConfigError) -> SourceRef {
            guard let s = try m.strings("source") else { throw m.missing("source", "the document id(s) the number comes from") }
            for id in s where !ids.contains(id) {
                throw m.error(at: "source", "document '\(id)' is not listed under 'documents'",
                              remedy: "known: \(docs.map(\.id).joined(separator: ", "))")
            }
            return SourceRef(documents: s, quote: try m.string("quote"))
        }

        var figures: [TargetFigure] = []
        var seen = Set<String>()
        for f in try root.maps("figures") ?? [] {
            try f.expectKeys(["id", "figure", "unit", "better", "measured_by", "v1", "v2", "note", "not_applicable", "extrapolated_by", "node_cores"])
            guard let id = try f.string("id") else { throw f.missing("id", "a short name such as latency-p99") }
            guard seen.insert(id).inserted else { throw f.error(at: "id", "figure '\(id)' is defined twice") }
            guard let unit = try f.string("unit") else { throw f.missing("unit", "e.g. ms, msg/s, cores, GB") }
            guard Units.isKnown(unit) else {
                throw f.error(at: "unit", "unknown unit '\(unit)'", remedy: "known: \(Units.known.joined(separator: " "))")
            }
            let betterText = try f.string("better") ?? "lower"
            guard let better = Direction(rawValue: betterText) else {
                throw f.error(at: "better", "must be 'lower' or 'higher', not '\(betterText)'")
            }
            var v1: Baseline?
            if let b = try f.map("v1") {
                try b.expectKeys(["value", "min", "max", "source", "quote"])
                let base = Baseline(value: try b.double("value"), min: try b.double("min"), max: try b.double("max"),
                                    source: try source(b))
                guard base.value != nil || (base.min != nil && base.max != nil) else {
                    throw b.missing("value", "a value, or min and max for a range")
                }
                v1 = base
            }
            var v2: Bound?
            if let t = try f.map("v2") {
                try t.expectKeys(["bound", "source", "quote"])
                guard let text = try t.string("bound") else { throw t.missing("bound", "e.g. \"< 1000\" or \">= 10000\"") }
                guard let bound = parseBound(text) else {
                    throw t.error(at: "bound", "'\(text)' is not a bound", remedy: "write an operator (<, <=, >, >=) and a number, e.g. \"< 1000\"")
                }
                v2 = Bound(op: bound.0, value: bound.1, source: try source(t))
            }
            var figure = TargetFigure(id: id, figure: try f.string("figure") ?? id, unit: unit, better: better,
                                      measuredBy: try f.strings("measured_by") ?? [], v1: v1, v2: v2,
                                      note: try f.string("note"))
            figure.notApplicable = try f.string("not_applicable")
            figure.extrapolatedBy = try f.strings("extrapolated_by") ?? []
            figure.nodeCores = try f.double("node_cores") ?? 16
            guard figure.nodeCores > 0 else { throw f.error(at: "node_cores", "must be more than 0") }
            if !figure.extrapolatedBy.isEmpty && figure.v2 == nil {
                throw f.error(at: "extrapolated_by", "needs a v2 bound (the rate to extrapolate to)", remedy: "add v2: {bound: \">= 1000000\", source: …}")
            }
            figures.append(figure)
        }

        var claims: [Claim] = []
        for c in try root.maps("claims") ?? [] {
            try c.expectKeys(["id", "text", "factor", "factor_min", "factor_max", "about", "source", "quote"])
            guard let id = try c.string("id") else { throw c.missing("id", "a short name") }
            let factor = try c.double("factor")
            let fmin = try c.double("factor_min"), fmax = try c.double("factor_max")
            let lo = factor ?? fmin, hi = factor ?? fmax
            guard let lo, let hi else { throw c.missing("factor", "the claimed improvement factor (or factor_min and factor_max)") }
            let about = try c.strings("about") ?? []
            for a in about where !seen.contains(a) {
                throw c.error(at: "about", "figure '\(a)' is not defined under 'figures'")
            }
            claims.append(Claim(id: id, text: try c.string("text") ?? "\(Units.format(lo))x", factorMin: lo, factorMax: hi,
                                about: about, source: try source(c)))
        }
        return TargetsFile(schema: schema, name: try root.string("name") ?? file, documents: docs, figures: figures,
                           claims: claims, path: file)
    }

    /// `< 1000`, `<=15.5`, `≥ 10000`.
    static func parseBound(_ text: String) -> (Bound.Op, Double)? {
        var t = Substring(text.trimmingSpaces())
        let ops: [(String, Bound.Op)] = [("<=", .le), (">=", .ge), ("≤", .le), ("≥", .ge), ("<", .lt), (">", .gt)]
        for (sym, op) in ops where t.hasPrefix(sym) {
            t = t.dropFirst(sym.count)
            guard let v = StrictMap.number(String(t)) else { return nil }
            return (op, v)
        }
        return nil
    }
}
