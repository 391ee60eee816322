#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import K2Core

/// Merges several captures into one by receive time (see `MergedReader` for the order).
///
/// Connection ids stay unique in the output: an input's connection keeps its id when no other
/// input has used that id yet, otherwise it gets the next id no one has used. The header's
/// metadata notes the sources (`merged_from`: path, exchange, records per input) and keeps
/// `exchange` when all inputs agree on it.
public enum CaptureMerger {
    public struct Summary: Sendable {
        public var records: Int
        public var recordsPerInput: [Int]
        /// (input, original id, new id) for every connection whose id had to change.
        public var renumbered: [(input: Int, from: UInt32, to: UInt32)]
        /// Inputs that ended in a torn tail (their complete frames were merged).
        public var damage: [(path: String, damage: CaptureDamage)]
    }

    public static func merge(inputs: [String], output: String, options: CaptureWriter.Options = .init(),
                             clock: any NanoClock = SystemClock(), commandLine: String? = nil) throws(CaptureError) -> Summary {
        guard !inputs.isEmpty else {
            throw CaptureError(.invalidArgument, path: nil, what: "no input captures", remedy: "give at least one capture to merge")
        }
        if let same = inputs.first(where: { $0 == output }) {
            throw CaptureError(.invalidArgument, path: same, what: "the output is also an input",
                               remedy: "write the merge to a new file with -o")
        }
        let merged = try MergedReader(paths: inputs)
        var sources: [JSONValue] = []
        var exchanges = Set<String>()
        for r in merged.readers {
            var o: [(String, JSONValue)] = [("path", .string(r.path))]
            if let ex = r.header.metadataValue("exchange") {
                o.append(("exchange", ex))
                if let s = ex.stringValue { exchanges.insert(s) }
            } else {
                exchanges.insert("")
            }
            o.append(("created_ns", .number(String(r.header.createdNanos))))
            o.append(("host", .string(r.header.host)))
            sources.append(.object(o))
        }
        var meta: [(String, JSONValue)] = []
        if exchanges.count == 1, let ex = exchanges.first, !ex.isEmpty { meta.append(("exchange", .string(ex))) }
        meta.append(("merged_from", .array(sources)))
        if let commandLine { meta.append(("command_line", .string(commandLine))) }
        let writer = try CaptureWriter(path: output, header: .now(metadata: meta, clock: clock), options: options)

        var ids = ConnectionRenumbering(inputs: inputs.count)
        var total = 0
        do throws(CaptureError) {
            while let r = try merged.next() {
                let conn = ids.map(input: merged.currentSource, connection: r.connection)
                try writer.append(kind: r.kind, timestamp: r.timestamp, connection: conn, isBinary: r.isBinary,
                                  aux: r.aux, payload: r.payload)
                total += 1
            }
            try writer.close()
        } catch {
            try? writer.close()
            _ = unlink(output)
            throw error
        }
        return Summary(records: total, recordsPerInput: merged.recordsPerSource, renumbered: ids.renumbered,
                       damage: merged.readers.compactMap { r in r.damage.map { (r.path, $0) } })
    }
}

/// Keeps connection ids unique across merged inputs: an id is kept when free, else the next
/// free id is taken. Looks up a per-input cache of the last id first (one comparison per record
/// in the common case of one connection per input).
struct ConnectionRenumbering {
    private var maps: [[UInt32: UInt32]]
    private var used = Set<UInt32>()
    private var nextFree: UInt32 = 0
    private var lastFrom: [Int64]
    private var lastTo: [UInt32]
    private(set) var renumbered: [(input: Int, from: UInt32, to: UInt32)] = []

    init(inputs: Int) {
        maps = Array(repeating: [:], count: inputs)
        lastFrom = Array(repeating: -1, count: inputs)
        lastTo = Array(repeating: 0, count: inputs)
    }

    @inline(__always)
    mutating func map(input: Int, connection: UInt32) -> UInt32 {
        if lastFrom[input] == Int64(connection) { return lastTo[input] }
        let to: UInt32
        if let known = maps[input][connection] {
            to = known
        } else {
            if !used.contains(connection) {
                to = connection
            } else {
                while used.contains(nextFree) { nextFree &+= 1 }
                to = nextFree
                renumbered.append((input, connection, to))
            }
            used.insert(to)
            maps[input][connection] = to
        }
        lastFrom[input] = Int64(connection)
        lastTo[input] = to
        return to
    }
}
