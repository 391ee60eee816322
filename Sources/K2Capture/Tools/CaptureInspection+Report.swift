import K2Core

extension CaptureInspection {
    /// The `--json` form. Stable keys: `records`, `by_kind`, `first_ts_ns`, `last_ts_ns`,
    /// `connections`, `gaps`; the others are documented in docs/capture-tools.md.
    package var json: JSONValue {
        func n<T: BinaryInteger>(_ v: T) -> JSONValue { .number(String(v)) }
        func opt(_ v: Int64?) -> JSONValue { v.map { n($0) } ?? .null }
        func named(_ list: [(name: String, count: Int)]) -> JSONValue { .object(list.map { ($0.name, n($0.count)) }) }
        let conns: [JSONValue] = connections.map { c in
            var o: [(String, JSONValue)] = [("conn", n(c.id)), ("records", n(c.records)), ("recv", n(c.recv)),
                                            ("bytes", n(c.bytes)), ("first_ts_ns", n(c.firstTimestamp)),
                                            ("last_ts_ns", n(c.lastTimestamp))]
            if let u = c.url { o.append(("url", .string(u))) }
            return .object(o)
        }
        let checks: [(String, JSONValue)] = sequenceChecks.map { c in
            (c.name, .object([
                ("rule", .string(c.rule)), ("messages", n(c.messages)), ("symbols", n(c.symbols)),
                ("gaps", n(c.gaps)), ("missing_ids", n(c.missingIds)), ("regressions", n(c.regressions)),
                ("first", .array(c.first.map { g in
                    c.name == "kraken_book_checksum"
                    ? .object([("symbol", .string(g.symbol)), ("ts_ns", n(g.timestamp)), ("conn", n(g.connection)),
                               ("checksum", n(g.next)), ("computed", n(g.previous))])
                    : .object([("symbol", .string(g.symbol)), ("ts_ns", n(g.timestamp)), ("conn", n(g.connection)),
                             ("previous", n(g.previous)), ("next", n(g.next)),
                             ("missing_from", n(g.missingFrom)), ("missing_to", n(g.missingTo)), ("missing", n(g.missing))])
                })),
            ]))
        }
        var o: [(String, JSONValue)] = [
            ("path", .string(path)),
            ("format_version", .string(formatVersion)),
            ("tool_version", .string(toolVersion)),
            ("created_ns", n(createdNanos)),
            ("host", .string(host)),
            ("metadata", metadata),
            ("records", n(records)),
            ("by_kind", .object(byKind.map { ($0.kind.name, n($0.count)) })),
            ("first_ts_ns", opt(firstTimestamp)),
            ("last_ts_ns", opt(lastTimestamp)),
            ("duration_ns", n(durationNanos)),
            ("out_of_order", n(outOfOrder)),
            ("out_of_place", n(outOfPlace)),
            ("max_behind_ns", n(maxBehindNanos)),
            ("payload_bytes", n(payloadBytes)),
            ("connections", .array(conns)),
            ("by_stream", named(byStream)),
            ("by_symbol", named(bySymbol)),
            ("markers", named(byMarker)),
        ]
        if let r = rate {
            o.append(("rate", .object([
                ("seconds", n(r.seconds)), ("p50_per_s", n(r.p50)), ("p99_per_s", n(r.p99)), ("max_per_s", n(r.max)),
                ("mean_per_s", .number(TimeText.fixed(r.mean, 1))),
                ("busiest_100ms", .object([("start_ns", n(r.busiest100msStart)), ("messages", n(r.busiest100msCount))])),
            ])))
        } else {
            o.append(("rate", .null))
        }
        o.append(("file_bytes", n(fileSize)))
        o.append(("frames", n(frames)))
        o.append(("index_stored", .bool(indexStored)))
        o.append(("compressed_bytes", n(compressedBytes)))
        o.append(("uncompressed_bytes", n(uncompressedBytes)))
        o.append(("compression_ratio", .number(TimeText.fixed(compressionRatio, 2))))
        o.append(("gaps", .object([("count", n(gapCount))] + checks)))
        o.append(("damage", damage.map { .object([("kind", .string($0.kind.rawValue)), ("offset", n($0.offset)),
                                                  ("detail", .string($0.detail))]) } ?? .null))
        return .object(o)
    }

    /// The human report: aligned sections, most important first.
    package func textReport(top: Int = 10) -> String {
        var lines: [String] = []
        func row(_ label: String, _ value: String) { lines.append("  " + label.padded(20) + value) }
        func int(_ v: Int) -> String { v.grouped }
        lines.append(path)
        row("format", "\(formatVersion), written by \(toolVersion) on \(host.isEmpty ? "?" : host) at \(TimeText.iso8601(nanos: createdNanos, fractionDigits: 3))")
        if case let .object(m) = metadata, !m.isEmpty {
            row("metadata", m.map { "\($0.0)=\($0.1.stringValue ?? $0.1.serialized())" }.joined(separator: " ").clipped(100))
        }
        if let f = firstTimestamp, let l = lastTimestamp {
            row("time", "\(TimeText.iso8601(nanos: f, fractionDigits: 3)) → \(TimeText.iso8601(nanos: l, fractionDigits: 3))")
            row("duration", TimeText.humanDuration(nanos: durationNanos))
        }
        row("records", int(records) + (outOfOrder > 0 ? " (\(int(outOfOrder)) earlier than the record before them)" : ""))
        if outOfPlace > 0 {
            row("order", "\(int(outOfPlace)) records out of place (earlier than a record before them, by up to "
                + TimeText.humanDuration(nanos: maxBehindNanos) + "); replay merges them into receive-time order, "
                + "`k2 capture sort` rewrites the file sorted")
        }
        row("payload", SizeText.human(bytes: payloadBytes))
        row("file", "\(SizeText.human(bytes: fileSize)) in \(frames) frames, index \(indexStored ? "stored" : "rebuilt by scanning")")
        row("compression", TimeText.fixed(compressionRatio, 2) + ":1 (" + SizeText.human(bytes: uncompressedBytes) + " of blocks)")
        if let d = damage { row("damage", d.description) }

        lines.append("")
        lines.append("by kind")
        for k in byKind { lines.append("  " + k.kind.name.padded(20) + int(k.count).leftPadded(12)) }

        lines.append("")
        lines.append("by connection")
        lines.append("  " + "conn".padded(8) + "records".leftPadded(12) + "recv".leftPadded(12) + "bytes".leftPadded(11) + "  url")
        for c in connections.prefix(top * 5) {
            lines.append("  " + String(c.id).padded(8) + int(c.records).leftPadded(12) + int(c.recv).leftPadded(12)
                         + SizeText.human(bytes: c.bytes).leftPadded(11) + "  " + (c.url ?? "-").clipped(80))
        }
        if connections.count > top * 5 { lines.append("  … \(connections.count - top * 5) more connections") }

        for (title, list) in [("by stream", byStream), ("by symbol", bySymbol)] where !list.isEmpty {
            lines.append("")
            lines.append(title + (list.count > top ? " (top \(top) of \(list.count))" : ""))
            let width = max(20, (list.prefix(top).map(\.name.count).max() ?? 0) + 2)
            for e in list.prefix(top) { lines.append("  " + e.name.padded(width) + int(e.count).leftPadded(12)) }
        }

        if !byMarker.isEmpty {
            lines.append("")
            lines.append("markers")
            for m in byMarker { lines.append("  " + m.name.padded(20) + int(m.count).leftPadded(12)) }
        }

        if let r = rate {
            lines.append("")
            lines.append("messages per second (\(int(r.seconds)) one-second buckets)")
            row("p50", int(r.p50))
            row("p99", int(r.p99))
            row("max", int(r.max))
            row("mean", TimeText.fixed(r.mean, 1))
            row("busiest 100 ms", "\(int(r.busiest100msCount)) messages from \(TimeText.iso8601(nanos: r.busiest100msStart, fractionDigits: 3))")
        }

        lines.append("")
        lines.append("sequence gaps")
        for c in sequenceChecks {
            if c.messages == 0 {
                lines.append("  " + c.name.padded(22) + "no messages to check (\(c.rule))")
                continue
            }
            if c.name == "kraken_book_checksum" {
                lines.append("  " + c.name.padded(22) + "\(int(c.gaps)) mismatches in \(int(c.messages)) updates of \(c.symbols) books")
                for g in c.first {
                    lines.append("    " + TimeText.iso8601(nanos: g.timestamp, fractionDigits: 3) + "  " + g.symbol.padded(10)
                                 + "conn \(g.connection)  c=\(g.next) but the book rebuilt from the messages gives \(g.previous): a message before it was lost or damaged")
                }
                if c.gaps > c.first.count { lines.append("    … \(c.gaps - c.first.count) more") }
                continue
            }
            var s = "\(int(c.gaps)) gaps, \(int(Int(c.missingIds))) ids missing in \(int(c.messages)) messages of \(c.symbols) symbols"
            if c.regressions > 0 { s += ", \(int(c.regressions)) repeated or out of order" }
            lines.append("  " + c.name.padded(22) + s)
            for g in c.first {
                let range = g.missingFrom == g.missingTo ? "\(g.missingFrom)" : "\(g.missingFrom)…\(g.missingTo)"
                lines.append("    " + TimeText.iso8601(nanos: g.timestamp, fractionDigits: 3) + "  " + g.symbol.padded(10)
                             + "conn \(g.connection)  after \(g.previous) came \(g.next): missing \(range) (\(g.missing))")
            }
            if c.gaps > c.first.count { lines.append("    … \(c.gaps - c.first.count) more") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
    func leftPadded(_ n: Int) -> String { count >= n ? " " + self : String(repeating: " ", count: n - count) + self }
    func clipped(_ n: Int) -> String { count <= n ? self : String(prefix(n - 1)) + "…" }
}

extension Int {
    /// 1234567 → "1,234,567".
    var grouped: String {
        let s = String(magnitude)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (self < 0 ? "-" : "") + out
    }
}
