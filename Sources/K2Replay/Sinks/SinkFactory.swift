import K2Core
import Logging

/// A parsed sink URI: `scheme://authority/path?key=value&…` or `scheme:path` (`file:out.ndjson`).
package struct SinkURI: Sendable, Equatable {
    /// The text as the user wrote it (secrets included: print `display`).
    package let text: String
    /// The text with its secrets masked (`Secrets.mask`): what messages, summaries and reports show.
    package var display: String { Secrets.mask(text) }
    /// `user` of `scheme://user[:password]@host`, percent-decoded, or nil.
    package let user: String?
    /// `password` of `scheme://user:password@host`, percent-decoded, or nil.
    package let password: String?
    /// Lower-cased scheme (`mock`, `file`, `kafka`, `clickhouse`, `ws`); `-` parses as scheme `file`, path `-`.
    package let scheme: String
    /// `host:port[,host:port]` after `//` (without `user:password@`), or "" (`mock://`, `file:PATH`).
    package let authority: String
    /// The path after the authority (with its leading `/`), or after `scheme:` for opaque URIs.
    package let path: String
    /// Query parameters in order, percent-decoded.
    package let query: [(String, String)]

    package static func == (a: SinkURI, b: SinkURI) -> Bool { a.text == b.text }

    package init(parsing text: String) throws(ReplayError) {
        self.text = text
        Secrets.registerSecrets(uri: text)
        if text == "-" {
            scheme = "file"; authority = ""; path = "-"; query = []; user = nil; password = nil
            return
        }
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw ReplayError(
                .invalidArgument, place: Secrets.mask(text), what: "not a sink URI",
                remedy: "write scheme://… (\(SinkFactory.schemeList)) or - for NDJSON on stdout")
        }
        scheme = text[..<colon].lowercased()
        var rest = text[text.index(after: colon)...]
        var queryPairs: [(String, String)] = []
        if let mark = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: mark)...].split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                queryPairs.append((Self.percentDecode(String(kv[0])), kv.count > 1 ? Self.percentDecode(String(kv[1])) : ""))
            }
            rest = rest[..<mark]
        }
        query = queryPairs
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            var hosts = rest[..<slash]
            if let at = hosts.lastIndex(of: "@") {
                let info = hosts[..<at]
                let colon = info.firstIndex(of: ":")
                user = Self.percentDecode(String(info[..<(colon ?? info.endIndex)]))
                password = colon.map { Self.percentDecode(String(info[info.index(after: $0)...])) }
                if let password { Secrets.register(password) }
                hosts = hosts[hosts.index(after: at)...]
            } else {
                user = nil
                password = nil
            }
            authority = String(hosts)
            path = String(rest[slash...])
        } else {
            authority = ""
            path = String(rest)
            user = nil
            password = nil
        }
        for (key, value) in query where Secrets.isSecretKey(key) { Secrets.register(value) }
    }

    /// The last value of `key`, if given.
    package func parameter(_ key: String) -> String? { query.last(where: { $0.0 == key })?.1 }

    /// Throws for any query key outside `known`, naming the ones that are.
    package func checkParameters(_ known: [String]) throws(ReplayError) {
        for (key, _) in query where !known.contains(key) {
            throw ReplayError(
                .invalidArgument, place: display, what: "unknown parameter '\(key)'",
                remedy: known.isEmpty
                    ? "\(scheme):// takes no parameters"
                    : "\(scheme):// takes " + known.joined(separator: ", "))
        }
    }

    /// A parameter that must be a positive number, if given.
    package func positiveNumber(_ key: String) throws(ReplayError) -> Double? {
        guard let text = parameter(key) else { return nil }
        guard let number = Double(text), number > 0, number.isFinite else {
            throw ReplayError(
                .invalidArgument, place: display, what: "\(key)=\(text) is not a positive number",
                remedy: "write e.g. \(key)=100")
        }
        return number
    }

    static func percentDecode(_ s: String) -> String {
        guard s.contains("%") || s.contains("+") else { return s }
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var position = 0
        while position < bytes.count {
            if bytes[position] == 37, position + 2 < bytes.count,
                let byte = UInt8(String(decoding: bytes[position + 1...position + 2], as: UTF8.self), radix: 16)
            {
                out.append(byte); position += 3
            } else {
                out.append(bytes[position]); position += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Settings every sink may use, from the command line.
package struct SinkOptions: Sendable {
    /// `-X key=value` properties (librdkafka properties for `kafka://`, as kcat takes them).
    package var properties: [(String, String)]
    /// Create destination tables/topics before the replay (`--create-tables`).
    package var createTables: Bool
    /// CA certificates (PEM) that TLS sinks trust, instead of the system's (`--ca-file`); a sink's
    /// own `ca_file=` URI parameter wins.
    package var caFile: String?
    /// The clock sinks stamp deliveries with (monotonic, same as the engine's).
    package var clock: any NanoClock
    /// The capture's `exchange` metadata (`binance`, `kraken`, `coinbase`), for sinks that
    /// impersonate the venue (`ws://`); nil when unknown or captures of several venues are merged.
    package var venue: String?
    /// The input captures, for sinks that serve what they recorded besides the replayed
    /// messages (`ws://`: REST depth snapshots).
    package var captures: [String]
    /// Where sinks' notices go (`ws://`: waiting for clients).
    package var logger = Logger(label: "k2.replay")

    package init(
        properties: [(String, String)] = [], createTables: Bool = false, caFile: String? = nil, clock: any NanoClock = SystemClock(),
        venue: String? = nil, captures: [String] = []
    ) {
        self.venue = venue
        self.captures = captures
        self.properties = properties
        self.createTables = createTables
        self.caFile = caFile
        for (key, value) in properties where Secrets.isSecretKey(key) { Secrets.register(value) }
        self.clock = clock
    }
}

/// How one URI scheme becomes a sink. Adding a sink = a file with a `SinkMaker` + one line in `SinkFactory.makers`.
package protocol SinkMaker {
    /// Schemes handled, lower-case (`["kafka"]`).
    static var schemes: [String] { get }
    /// One-line URI form for help and errors (`kafka://host:port[,host:port]?topic=TEMPLATE`).
    static var usage: String { get }
    /// Builds the sink (no I/O: `open()` connects). Throws `ReplayError(.invalidArgument)` for bad parameters.
    static func make(_ uri: SinkURI, options: SinkOptions) throws -> any ReplaySink
}

/// The sink registry: parses `--sink` URIs into sinks.
package enum SinkFactory {
    /// Every known sink kind. One line per sink.
    nonisolated(unsafe) public static var makers: [any SinkMaker.Type] = [
        MockSinkMaker.self,
        FileSinkMaker.self,
        KafkaSinkMaker.self,
        ClickHouseSinkMaker.self,
        WebSocketSinkMaker.self,
    ]

    /// Registers a maker at run time (for sinks outside K2Replay, e.g. tests).
    package static func register(_ maker: any SinkMaker.Type) {
        if !makers.contains(where: { $0 == maker }) { makers.append(maker) }
    }

    static var schemeList: String {
        makers.flatMap { $0.schemes }.map { $0 + ":" }.joined(separator: ", ")
    }

    /// Every URI form, for `--help`.
    package static var usage: [String] { makers.map { $0.usage } }

    package static func make(_ text: String, options: SinkOptions = SinkOptions()) throws -> any ReplaySink {
        let uri = try SinkURI(parsing: text)
        guard let maker = makers.first(where: { $0.schemes.contains(uri.scheme) }) else {
            throw ReplayError(
                .invalidArgument, place: uri.display, what: "unknown sink scheme '\(uri.scheme)'",
                remedy: "use one of \(schemeList) or - (NDJSON on stdout)")
        }
        return try maker.make(uri, options: options)
    }
}
