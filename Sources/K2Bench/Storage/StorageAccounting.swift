import Foundation
import K2Capture
import K2Core
import K2Replay

/// Storage and compression of a pipeline's tables, read from ClickHouse's `system.parts` (active
/// parts) after a repetition: rows, bytes on disk, compressed and uncompressed bytes per table and
/// per layer (bronze, silver, gold, as the workload's `storage.layers` name them).
///
/// Storage per exchange per day is an extrapolation: bytes per source message (a layer's bytes on
/// disk / the messages in `storage.messages_table`) × the exchange's messages per day — from the
/// source capture at its recorded rate (messages / the capture's span × 86,400), or the
/// workload's `storage.messages_per_day`.
enum StorageAccounting {
    /// One table's active parts, summed.
    struct TableSize: Sendable, Equatable {
        var table: String
        var rows: Int64
        var bytesOnDisk: Int64
        var compressedBytes: Int64
        var uncompressedBytes: Int64
    }

    /// The active parts of every table of `database`, summed per table.
    static func tables(host: String, port: Int, database: String) throws -> [TableSize] {
        let http = try ClickHouseHTTP(host: host, port: port, place: "storage (system.parts)")
        let body = try http.execute(
            """
            SELECT table, sum(rows), sum(bytes_on_disk), sum(data_compressed_bytes), sum(data_uncompressed_bytes)
            FROM system.parts WHERE active AND database = '\(database)' GROUP BY table ORDER BY table FORMAT TabSeparated
            """)
        return body.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 5, let rows = Int64(fields[1]), let disk = Int64(fields[2]), let compressed = Int64(fields[3]),
                let raw = Int64(fields[4])
            else { return nil }
            return TableSize(table: String(fields[0]), rows: rows, bytesOnDisk: disk, compressedBytes: compressed, uncompressedBytes: raw)
        }
    }

    /// Messages per day per exchange of the source captures at their recorded rate: each
    /// capture's received messages over its span (its `exchange` metadata, else "unknown").
    static func messagesPerDay(captures: [String]) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for path in captures {
            let inspection = try CaptureInspector.inspect(path: path)
            let recv = inspection.byKind.first { $0.kind == .recv }?.count ?? 0
            guard inspection.durationNanos > 0, recv > 0 else { continue }
            var exchange = "unknown"
            if case let .object(fields) = inspection.metadata, let value = fields.first(where: { $0.0 == "exchange" })?.1,
                case let .string(name) = value
            {
                exchange = name
            }
            out[exchange, default: 0] += Double(recv) / (Double(inspection.durationNanos) / 1e9) * 86_400
        }
        return out
    }

    /// The capture's own compression (uncompressed block bytes per byte of file, what
    /// `k2 capture inspect` prints), over all the source captures.
    static func captureRatio(captures: [String]) throws -> Double? {
        var raw: Int64 = 0, file: Int64 = 0
        for path in captures {
            let inspection = try CaptureInspector.inspect(path: path)
            raw += inspection.uncompressedBytes
            file += inspection.fileSize
        }
        return file > 0 ? Double(raw) / Double(file) : nil
    }

    /// Report metrics: per table `storage.table.NAME.{rows,bytes_on_disk}`; per layer
    /// `storage.LAYER.{rows,bytes_on_disk,compressed_bytes,uncompressed_bytes,bytes_per_message}`,
    /// `storage.LAYER.EXCHANGE.mb_per_day` and `storage.LAYER.mb_per_exchange_day` (the largest
    /// exchange); `compression.LAYER.ratio` (uncompressed / compressed) and, when known,
    /// `compression.capture.ratio`.
    static func metrics(
        tables: [TableSize], storage: Workload.Storage, messagesPerDay: [String: Double],
        captureRatio: Double?
    ) -> (metrics: [String: BenchReport.Metric], notes: [String]) {
        var result: [String: BenchReport.Metric] = [:]
        var notes: [String] = []
        let byName = Dictionary(tables.map { ($0.table, $0) }, uniquingKeysWith: { first, _ in first })
        for size in tables {
            result["storage.table.\(size.table).rows"] = .init(value: Double(size.rows), unit: "rows", better: .lower)
            result["storage.table.\(size.table).bytes_on_disk"] = .init(value: Double(size.bytesOnDisk), unit: "B", better: .lower)
        }
        let messages = byName[storage.messagesTable]?.rows ?? 0
        if messages == 0 { notes.append("storage: no rows in \(storage.messagesTable), so no bytes per message or per day") }
        for layer in storage.layers {
            let parts = layer.tables.compactMap { byName[$0] }
            let missing = layer.tables.filter { byName[$0] == nil }
            if !missing.isEmpty { notes.append("storage: layer \(layer.name): no active parts for \(missing.joined(separator: ", "))") }
            guard !parts.isEmpty else { continue }
            let disk = parts.reduce(Int64(0)) { $0 + $1.bytesOnDisk }
            let compressed = parts.reduce(Int64(0)) { $0 + $1.compressedBytes }
            let raw = parts.reduce(Int64(0)) { $0 + $1.uncompressedBytes }
            result["storage.\(layer.name).rows"] = .init(value: Double(parts.reduce(Int64(0)) { $0 + $1.rows }), unit: "rows", better: .lower)
            result["storage.\(layer.name).bytes_on_disk"] = .init(value: Double(disk), unit: "B", better: .lower)
            result["storage.\(layer.name).compressed_bytes"] = .init(value: Double(compressed), unit: "B", better: .lower)
            result["storage.\(layer.name).uncompressed_bytes"] = .init(value: Double(raw), unit: "B", better: .lower)
            if compressed > 0 {
                result["compression.\(layer.name).ratio"] = .init(value: Double(raw) / Double(compressed), unit: "ratio", better: .higher)
            }
            guard messages > 0 else { continue }
            let perMessage = Double(disk) / Double(messages)
            result["storage.\(layer.name).bytes_per_message"] = .init(value: perMessage, unit: "B", better: .lower)
            for (exchange, perDay) in messagesPerDay {
                result["storage.\(layer.name).\(exchange).mb_per_day"] = .init(value: perMessage * perDay / 1e6, unit: "MB/day", better: .lower)
            }
            if let largest = messagesPerDay.values.max() {
                result["storage.\(layer.name).mb_per_exchange_day"] = .init(value: perMessage * largest / 1e6, unit: "MB/day", better: .lower)
            }
        }
        if let captureRatio { result["compression.capture.ratio"] = .init(value: captureRatio, unit: "ratio", better: .higher) }
        if messages > 0, !messagesPerDay.isEmpty {
            let rates = messagesPerDay.sorted { $0.key < $1.key }.map { "\($0.key) \(Units.format($0.value)) messages/day" }.joined(separator: ", ")
            notes.append(
                "storage per exchange per day = bytes on disk per message landed (\(messages) in \(storage.messagesTable)) × "
                    + (storage.messagesPerDay.isEmpty ? "the source capture's messages per day at its recorded rate" : "storage.messages_per_day")
                    + " (\(rates)); an extrapolation from this run's parts, before any later merges")
        }
        return (result, notes)
    }
}
