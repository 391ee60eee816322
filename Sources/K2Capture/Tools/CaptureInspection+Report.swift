import K2Core

extension CaptureInspection {
    /// The `--json` form. Stable keys: `records`, `by_kind`, `first_ts_ns`, `last_ts_ns`,
    /// `connections`, `gaps`; the others are documented in docs/capture-tools.md.
    package var json: JSONValue {
        func n<T: BinaryInteger>(_ v: T) -> JSONValue { .number(String(v)) }
        func opt(_ v: Int64?) -> JSONValue { v.map { n($0) } ?? .null }
        func named(_ list: [(name: String, count: Int)]) -> JSONValue { .object(list.map { ($0.name, n($0.count)) }) }
        let conns: [JSONValue] = connections.map { connection in
            var fields: [(String, JSONValue)] = [
                ("conn", n(connection.id)), ("records", n(connection.records)), ("recv", n(connection.recv)),
                ("bytes", n(connection.bytes)), ("first_ts_ns", n(connection.firstTimestamp)),
                ("last_ts_ns", n(connection.lastTimestamp)),
            ]
            if let url = connection.url { fields.append(("url", .string(url))) }
            return .object(fields)
        }
        let checks: [(String, JSONValue)] = sequenceChecks.map { check in
            (
                check.name,
                .object([
                    ("rule", .string(check.rule)), ("messages", n(check.messages)), ("symbols", n(check.symbols)),
                    ("gaps", n(check.gaps)), ("missing_ids", n(check.missingIds)), ("regressions", n(check.regressions)),
                    (
                        "first",
                        .array(
                            check.first.map { gap in
                                check.name == "kraken_book_checksum"
                                    ? .object([
                                        ("symbol", .string(gap.symbol)), ("ts_ns", n(gap.timestamp)), ("conn", n(gap.connection)),
                                        ("checksum", n(gap.next)), ("computed", n(gap.previous)),
                                    ])
                                    : .object([
                                        ("symbol", .string(gap.symbol)), ("ts_ns", n(gap.timestamp)), ("conn", n(gap.connection)),
                                        ("previous", n(gap.previous)), ("next", n(gap.next)),
                                        ("missing_from", n(gap.missingFrom)), ("missing_to", n(gap.missingTo)), ("missing", n(gap.missing)),
                                    ])
                            })
                    ),
                ])
            )
        }
        var fields: [(String, JSONValue)] = [
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
        if let rateStats = rate {
            fields.append(
                (
                    "rate",
                    .object([
                        ("seconds", n(rateStats.seconds)), ("p50_per_s", n(rateStats.p50)), ("p99_per_s", n(rateStats.p99)),
                        ("max_per_s", n(rateStats.max)),
                        ("mean_per_s", .number(TimeText.fixed(rateStats.mean, 1))),
                        ("busiest_100ms", .object([("start_ns", n(rateStats.busiest100msStart)), ("messages", n(rateStats.busiest100msCount))])),
                    ])
                ))
        } else {
            fields.append(("rate", .null))
        }
        fields.append(("file_bytes", n(fileSize)))
        fields.append(("frames", n(frames)))
        fields.append(("index_stored", .bool(indexStored)))
        fields.append(("compressed_bytes", n(compressedBytes)))
        fields.append(("uncompressed_bytes", n(uncompressedBytes)))
        fields.append(("compression_ratio", .number(TimeText.fixed(compressionRatio, 2))))
        fields.append(("gaps", .object([("count", n(gapCount))] + checks)))
        fields.append(
            (
                "damage",
                damage.map {
                    .object([
                        ("kind", .string($0.kind.rawValue)), ("offset", n($0.offset)),
                        ("detail", .string($0.detail)),
                    ])
                } ?? .null
            ))
        return .object(fields)
    }

    /// The human report: aligned sections, most important first.
    package func textReport(top: Int = 10) -> String {
        var lines: [String] = []
        func row(_ label: String, _ value: String) { lines.append("  " + label.padded(20) + value) }
        func int(_ v: Int) -> String { v.grouped }
        lines.append(path)
        row(
            "format",
            "\(formatVersion), written by \(toolVersion) on \(host.isEmpty ? "?" : host) at \(TimeText.iso8601(nanos: createdNanos, fractionDigits: 3))"
        )
        if case let .object(pairs) = metadata, !pairs.isEmpty {
            row("metadata", pairs.map { "\($0.0)=\($0.1.stringValue ?? $0.1.serialized())" }.joined(separator: " ").clipped(100))
        }
        if let first = firstTimestamp, let last = lastTimestamp {
            row("time", "\(TimeText.iso8601(nanos: first, fractionDigits: 3)) → \(TimeText.iso8601(nanos: last, fractionDigits: 3))")
            row("duration", TimeText.humanDuration(nanos: durationNanos))
        }
        row("records", int(records) + (outOfOrder > 0 ? " (\(int(outOfOrder)) earlier than the record before them)" : ""))
        if outOfPlace > 0 {
            row(
                "order",
                "\(int(outOfPlace)) records out of place (earlier than a record before them, by up to "
                    + TimeText.humanDuration(nanos: maxBehindNanos) + "); replay merges them into receive-time order, "
                    + "`k2 capture sort` rewrites the file sorted")
        }
        row("payload", SizeText.human(bytes: payloadBytes))
        row("file", "\(SizeText.human(bytes: fileSize)) in \(frames) frames, index \(indexStored ? "stored" : "rebuilt by scanning")")
        row("compression", TimeText.fixed(compressionRatio, 2) + ":1 (" + SizeText.human(bytes: uncompressedBytes) + " of blocks)")
        if let problem = damage { row("damage", problem.description) }

        lines.append("")
        lines.append("by kind")
        for k in byKind { lines.append("  " + k.kind.name.padded(20) + int(k.count).leftPadded(12)) }

        lines.append("")
        lines.append("by connection")
        lines.append("  " + "conn".padded(8) + "records".leftPadded(12) + "recv".leftPadded(12) + "bytes".leftPadded(11) + "  url")
        for connection in connections.prefix(top * 5) {
            lines.append(
                "  " + String(connection.id).padded(8) + int(connection.records).leftPadded(12) + int(connection.recv).leftPadded(12)
                    + SizeText.human(bytes: connection.bytes).leftPadded(11) + "  " + (connection.url ?? "-").clipped(80))
        }
        if connections.count > top * 5 { lines.append("  … \(connections.count - top * 5) more connections") }

        for (title, list) in [("by stream", byStream), ("by symbol", bySymbol)] where !list.isEmpty {
            lines.append("")
            lines.append(title + (list.count > top ? " (top \(top) of \(list.count))" : ""))
            let width = max(20, (list.prefix(top).map(\.name.count).max() ?? 0) + 2)
            for entry in list.prefix(top) { lines.append("  " + entry.name.padded(width) + int(entry.count).leftPadded(12)) }
        }

        if !byMarker.isEmpty {
            lines.append("")
            lines.append("markers")
            for marker in byMarker { lines.append("  " + marker.name.padded(20) + int(marker.count).leftPadded(12)) }
        }

        if let rateStats = rate {
            lines.append("")
            lines.append("messages per second (\(int(rateStats.seconds)) one-second buckets)")
            row("p50", int(rateStats.p50))
            row("p99", int(rateStats.p99))
            row("max", int(rateStats.max))
            row("mean", TimeText.fixed(rateStats.mean, 1))
            row(
                "busiest 100 ms",
                "\(int(rateStats.busiest100msCount)) messages from \(TimeText.iso8601(nanos: rateStats.busiest100msStart, fractionDigits: 3))")
        }

        lines.append("")
        lines.append("sequence gaps")
        for check in sequenceChecks {
            if check.messages == 0 {
                lines.append("  " + check.name.padded(22) + "no messages to check (\(check.rule))")
                continue
            }
            if check.name == "kraken_book_checksum" {
                lines.append(
                    "  " + check.name.padded(22) + "\(int(check.gaps)) mismatches in \(int(check.messages)) updates of \(check.symbols) books")
                for gap in check.first {
                    lines.append(
                        "    " + TimeText.iso8601(nanos: gap.timestamp, fractionDigits: 3) + "  " + gap.symbol.padded(10)
                            + "conn \(gap.connection)  c=\(gap.next) but the book rebuilt from the messages gives \(gap.previous): a message before it was lost or damaged"
                    )
                }
                if check.gaps > check.first.count { lines.append("    … \(check.gaps - check.first.count) more") }
                continue
            }
            var summary =
                "\(int(check.gaps)) gaps, \(int(Int(check.missingIds))) ids missing in \(int(check.messages)) messages of \(check.symbols) symbols"
            if check.regressions > 0 { summary += ", \(int(check.regressions)) repeated or out of order" }
            lines.append("  " + check.name.padded(22) + summary)
            for gap in check.first {
                let range = gap.missingFrom == gap.missingTo ? "\(gap.missingFrom)" : "\(gap.missingFrom)…\(gap.missingTo)"
                lines.append(
                    "    " + TimeText.iso8601(nanos: gap.timestamp, fractionDigits: 3) + "  " + gap.symbol.padded(10)
                        + "conn \(gap.connection)  after \(gap.previous) came \(gap.next): missing \(range) (\(gap.missing))")
            }
            if check.gaps > check.first.count { lines.append("    … \(check.gaps - check.first.count) more") }
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
        let digits = String(magnitude)
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (self < 0 ? "-" : "") + out
    }
}
