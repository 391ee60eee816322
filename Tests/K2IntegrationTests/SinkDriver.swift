import K2Capture
import K2Core
import K2Replay
import K2TestSupport

/// Hands records to a sink the way the replay engine does (flat out, intended = actual time),
/// for testing the real-system sinks through their API.
enum SinkDriver {
    /// Opens the sink, sends every `recv` record, finishes; returns how many were sent.
    @discardableResult
    static func run(
        _ sink: any ReplaySink, records: [OwnedRecord], exchange: String = "binance",
        finishTimeout: Int64 = 30_000_000_000
    ) throws -> Int {
        try sink.open()
        try sendAll(sink, records: records, exchange: exchange)
        try sink.finish(timeoutNanos: finishTimeout)
        return records.filter { $0.kind == .recv }.count
    }

    static func sendAll(_ sink: any ReplaySink, records: [OwnedRecord], exchange: String = "binance") throws {
        let clock = SystemClock()
        var seq: UInt64 = 0
        for r in records where r.kind == .recv {
            try r.withView { v in
                let now = clock.monotonicNanos()
                let m = ReplayMessage(
                    record: v, fields: PayloadFields.extract(v.payload), sequence: seq,
                    captureNanos: v.timestamp, intendedNanos: now, actualNanos: now, exchange: exchange)
                try sink.send(m)
            }
            seq += 1
        }
    }

    /// Number of `recv` records whose payload contains `needle`.
    static func count(_ records: [OwnedRecord], containing needle: String) -> Int {
        records.filter { $0.kind == .recv && String(decoding: $0.payload, as: UTF8.self).contains(needle) }.count
    }
}
