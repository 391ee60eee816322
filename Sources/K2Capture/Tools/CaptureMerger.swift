import K2Core

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Merges several captures into one by receive time (see `MergedReader` for the order).
///
/// Connection ids stay unique in the output: an input's connection keeps its id unless an
/// earlier input (in the order given) has a connection with that id; then it gets the lowest id
/// no input uses (`ConnectionRenumbering`). The header's
/// metadata notes the sources (`merged_from`: path, exchange, records per input) and keeps
/// `exchange` when all inputs agree on it.
package enum CaptureMerger {
    package struct Summary: Sendable {
        package var records: Int
        package var recordsPerInput: [Int]
        /// (input, original id, new id) for every connection whose id had to change.
        package var renumbered: [(input: Int, from: UInt32, to: UInt32)]
        /// Inputs that ended in a torn tail (their complete frames were merged).
        package var damage: [(path: String, damage: CaptureDamage)]
    }

    package static func merge(
        inputs: [String], output: String, options: CaptureWriter.Options = .init(),
        clock: any NanoClock = SystemClock(), commandLine: String? = nil
    ) throws(CaptureError) -> Summary {
        guard !inputs.isEmpty else {
            throw CaptureError(.invalidArgument, path: nil, what: "no input captures", remedy: "give at least one capture to merge")
        }
        if let same = inputs.first(where: { $0 == output }) {
            throw CaptureError(
                .invalidArgument, path: same, what: "the output is also an input",
                remedy: "write the merge to a new file with -o")
        }
        let merged = try MergedReader(paths: inputs)
        var sources: [JSONValue] = []
        var exchanges = Set<String>()
        for reader in merged.readers {
            var entry: [(String, JSONValue)] = [("path", .string(reader.path))]
            if let ex = reader.header.metadataValue("exchange") {
                entry.append(("exchange", ex))
                if let name = ex.stringValue { exchanges.insert(name) }
            } else {
                exchanges.insert("")
            }
            entry.append(("created_ns", .number(String(reader.header.createdNanos))))
            entry.append(("host", .string(reader.header.host)))
            sources.append(.object(entry))
        }
        var meta: [(String, JSONValue)] = []
        if exchanges.count == 1, let ex = exchanges.first, !ex.isEmpty { meta.append(("exchange", .string(ex))) }
        meta.append(("merged_from", .array(sources)))
        if let commandLine { meta.append(("command_line", .string(commandLine))) }
        var ids = try ConnectionRenumbering(paths: inputs)
        var total = 0
        try CaptureOutput.write(to: output, header: .now(metadata: meta, clock: clock), options: options) { writer throws(CaptureError) in
            total = try CaptureOutput.copy(merged, renumbering: &ids, to: writer)
        }
        return Summary(
            records: total, recordsPerInput: merged.recordsPerSource, renumbered: ids.renumbered,
            damage: merged.readers.compactMap { r in r.damage.map { (r.path, $0) } })
    }
}

/// Keeps connection ids unique across merged inputs, by input priority: every connection of the
/// first input keeps its id; a later input's connection keeps its id unless an earlier input has
/// a connection with that id, and then takes the lowest id that no input uses (so it clashes
/// with nothing still to come). Decided before the merge from each input's set of connection
/// ids, so the order in which connections first appear in time does not matter. Looks up a
/// per-input cache of the last id first (one comparison per record in the common case).
struct ConnectionRenumbering {
    private var maps: [[UInt32: UInt32]]
    private var lastFrom: [Int64]
    private var lastTo: [UInt32]
    private(set) var renumbered: [(input: Int, from: UInt32, to: UInt32)] = []

    /// `connections[k]`: the connection ids input k uses.
    init(connections: [Set<UInt32>]) {
        maps = Array(repeating: [:], count: connections.count)
        lastFrom = Array(repeating: -1, count: connections.count)
        lastTo = Array(repeating: 0, count: connections.count)
        let everyId = connections.reduce(into: Set<UInt32>()) { $0.formUnion($1) }
        var taken = Set<UInt32>()
        var clashes: [(input: Int, id: UInt32)] = []
        for (input, ids) in connections.enumerated() {
            for id in ids.sorted() {
                if taken.insert(id).inserted {
                    maps[input][id] = id
                } else {
                    clashes.append((input, id))
                }
            }
        }
        var nextFree: UInt32 = 0
        for clash in clashes {
            while everyId.contains(nextFree) || taken.contains(nextFree) { nextFree &+= 1 }
            taken.insert(nextFree)
            maps[clash.input][clash.id] = nextFree
            renumbered.append((clash.input, clash.id, nextFree))
        }
    }

    /// Reads every input once to collect its connection ids (the merge needs them all before
    /// its first record); a torn tail ends an input quietly, as in the merge itself.
    init(paths: [String]) throws(CaptureError) {
        var connections: [Set<UInt32>] = []
        for path in paths {
            let reader = try CaptureReader(path: path)
            var ids = Set<UInt32>()
            var last: Int64 = -1
            while let record = try reader.next() {
                if Int64(record.connection) == last { continue }
                ids.insert(record.connection)
                last = Int64(record.connection)
            }
            connections.append(ids)
        }
        self.init(connections: connections)
    }

    @inline(__always)
    mutating func map(input: Int, connection: UInt32) -> UInt32 {
        if lastFrom[input] == Int64(connection) { return lastTo[input] }
        let to = maps[input][connection] ?? connection
        lastFrom[input] = Int64(connection)
        lastTo[input] = to
        return to
    }
}
