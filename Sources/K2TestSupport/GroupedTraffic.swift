import K2Capture
import K2Core

/// A session recorded the way some recorders write it: one block per connection, so the file
/// is not in receive-time order. Connections run at the same time: connection c's message i is
/// received at `start + i × gap + (c / 2) × gap / 2`, so connections 0 and 1 (and 2 and 3, …)
/// share receive times — a stable sort must keep the earlier connection's record first.
package struct GroupedTraffic {
    package var connections: Int
    package var perConnection: Int
    package var startNanos: Int64
    package var gapNanos: Int64

    package init(
        connections: Int = 4, perConnection: Int = 500, startNanos: Int64 = 1_700_000_000_000_000_000,
        gapNanos: Int64 = 1_000_000
    ) {
        self.connections = connections
        self.perConnection = perConnection
        self.startNanos = startNanos
        self.gapNanos = gapNanos
    }

    /// The records in file order: connection 0's connect and messages, then connection 1's, ….
    package func records() -> [OwnedRecord] {
        var out: [OwnedRecord] = []
        for connection in 0..<connections {
            let offset = Int64(connection / 2) * gapNanos / 2
            out.append(
                OwnedRecord(
                    kind: .connect, timestamp: startNanos + offset, connection: UInt32(connection),
                    url: "wss://stream.binance.com:9443/stream", text: ""))
            for message in 0..<perConnection {
                let text = #"{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","conn":\#(connection),"i":\#(message)}}"#
                out.append(
                    OwnedRecord(
                        kind: .recv, timestamp: startNanos + offset + Int64(message + 1) * gapNanos,
                        connection: UInt32(connection), text: text))
            }
        }
        return out
    }

    /// `records()` in receive-time order, equal times in file order (a stable sort).
    package func sortedRecords() -> [OwnedRecord] {
        records().enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
    }

    /// Writes `records()` to `path` (small frames give several per connection) and returns them.
    @discardableResult
    package func write(to path: String, blockSize: Int = 1 << 20) throws -> [OwnedRecord] {
        let records = records()
        let writer = try CaptureWriter(
            path: path,
            header: CaptureHeader(
                createdNanos: startNanos, host: "test",
                metadata: [("exchange", .string("binance"))]),
            options: .init(blockSize: blockSize))
        for record in records { try writer.append(record) }
        try writer.close()
        return records
    }
}
