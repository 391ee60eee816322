import Foundation
import K2Core

/// A minimal client of ClickHouse's native TCP protocol (what clickhouse-client and
/// clickhouse-benchmark speak; default port 9000), for running SELECTs fast: one connection,
/// kept open from one query to the next like clickhouse-benchmark's, no compression, no
/// settings. It counts the rows a query returns and steps over their values without decoding
/// them (the types in `NativeColumnType`; any other is an error that names it); a server
/// exception becomes the error's text. Not thread-safe: one client per thread.
///
/// Protocol revision 54401 (the first whose Hello carries the version patch): the 18.16 server
/// here answers with its own (54412) and both use the lower; current servers accept it too. Below 54405 the server turns
/// LowCardinality columns into plain ones, and Progress has no written rows.
package final class ClickHouseNativeClient {
    /// What a query returned.
    package struct Answer: Sendable, Equatable {
        /// Rows of the Data blocks (not Totals or Extremes).
        package var rows: Int
        /// Column names and types, from the first block.
        package var columns: [(name: String, type: String)]

        package static func == (a: Answer, b: Answer) -> Bool {
            a.rows == b.rows && a.columns.elementsEqual(b.columns) { $0.name == $1.name && $0.type == $1.type }
        }
    }

    static let clientRevision: UInt64 = 54401

    private enum ServerPacket: UInt64 {
        case hello = 0
        case data, exception, progress, pong, endOfStream, profileInfo, totals, extremes
    }

    let host: String
    let port: Int
    let place: String
    private let user: String
    private let password: String
    private let database: String
    var connectTimeoutMillis = 3000
    /// A query not answered within this long fails (and the connection is closed).
    package var timeoutMillis = 60_000
    /// `major.minor.patch` of the server, once connected.
    package private(set) var serverVersion: String?
    /// Connections opened so far (1 while the first one serves every query).
    package private(set) var connections = 0
    private var connection: Int32 = -1
    private var revision = clientRevision
    private var deadline: Int64 = 0
    private let clock = SystemClock()
    private let reader = NativeReader { _ throws(NativeReader.Failure) in 0 }
    private var packet: [UInt8] = []
    /// Type names seen, parsed once.
    private var parsedTypes: [String: NativeColumnType] = [:]

    /// No connection yet: `connect()` or the first query opens it. `user` nil is ClickHouse's
    /// `default`; `database` the connection's default database (nil: the server's).
    package init(host: String, port: Int, place: String, user: String? = nil, password: String? = nil, database: String? = nil) {
        self.host = host
        self.port = port
        self.place = place
        self.user = user ?? "default"
        self.password = password ?? ""
        self.database = database ?? ""
        if let password { Secrets.register(password) }
        reader.fill = { [unowned self] buffer throws(NativeReader.Failure) in try receive(into: buffer) }
    }

    deinit { disconnect() }

    private var address: String { "\(host):\(port)" }

    /// Opens the connection and exchanges Hello (a no-op when open). Throws when the server
    /// cannot be reached or refuses the user.
    package func connect() throws {
        guard connection < 0 else { return }
        let target = try LineClient.resolve(host: host, port: port, place: place)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else {
            throw ReplayError(
                .unreachable, place: place, what: "no socket: \(String(cString: strerror(errno)))", remedy: "check the process's open-file limit")
        }
        connection = descriptor
        var timeout = timeval(tv_sec: connectTimeoutMillis / 1000, tv_usec: connectTimeoutMillis % 1000 * 1000)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var on: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        var peer = target
        // A blocking connect honours SO_SNDTIMEO on Linux (EINPROGRESS after the timeout).
        let connected = connectSocket(descriptor, to: &peer)
        guard connected == 0 else {
            let reason = errno == EINPROGRESS ? "no answer within \(connectTimeoutMillis) ms" : String(cString: strerror(errno))
            disconnect()
            throw ReplayError(
                .unreachable, place: place, what: "ClickHouse's native protocol did not answer at \(address): \(reason)",
                remedy:
                    "check host and port, and that clickhouse-server runs (native protocol: its tcp_port, default 9000; the HTTP port 8123 does not speak it)"
            )
        }
        // Sends from now on wait as long as a query may.
        var sendTimeout = timeval(tv_sec: timeoutMillis / 1000, tv_usec: timeoutMillis % 1000 * 1000)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        reader.reset()
        connections += 1
        deadline = clock.monotonicNanos() + Int64(timeoutMillis) * 1_000_000
        do {
            try sendHello()
            try receiveHello()
        } catch NativeReader.Failure.source(let detail) {
            // An HTTP server waits for a request line that never comes.
            disconnect()
            throw ReplayError(
                .unreachable, place: place, what: "ClickHouse at \(address) sent no native Hello: \(detail)",
                remedy:
                    "check that this is ClickHouse's native port (its tcp_port, default 9000), not the HTTP port (8123), and that the server is not stalled"
            )
        } catch {
            disconnect()
            throw describe(error)
        }
    }

    /// Closes the connection (the next query opens another).
    package func disconnect() {
        if connection >= 0 { close(connection) }
        connection = -1
        serverVersion = nil
    }

    /// Runs `sql` and reads its whole answer. A reused connection the server closed while idle
    /// is reopened once; a server exception throws with ClickHouse's message (and closes the
    /// connection, whose state the exception leaves unknown).
    package func query(_ sql: String) throws -> Answer {
        let reused = connection >= 0
        try connect()
        deadline = clock.monotonicNanos() + Int64(timeoutMillis) * 1_000_000
        do {
            reader.resetCount()
            try sendQuery(sql)
            return try receiveAnswer()
        } catch let failure as NativeReader.Failure where reused && reader.consumed == 0 && failure == .closed {
            // The server closed the idle connection: once more on a fresh one.
            disconnect()
            try connect()
            deadline = clock.monotonicNanos() + Int64(timeoutMillis) * 1_000_000
            do {
                try sendQuery(sql)
                return try receiveAnswer()
            } catch {
                disconnect()
                throw describe(error)
            }
        } catch {
            disconnect()
            throw describe(error)
        }
    }

    /// Sends Ping and waits for Pong (a liveness check of the open connection).
    package func ping() throws {
        try connect()
        deadline = clock.monotonicNanos() + Int64(timeoutMillis) * 1_000_000
        do {
            packet.removeAll(keepingCapacity: true)
            Self.append(varUInt: 4, to: &packet)
            try sendPacket()
            while true {
                let kind = try reader.varUInt()
                if kind == ServerPacket.pong.rawValue { return }
                // A Progress left from a query may precede it.
                guard kind == ServerPacket.progress.rawValue else { throw NativeReader.Failure.malformed("packet \(kind) instead of Pong") }
                try skipProgress()
            }
        } catch {
            disconnect()
            throw describe(error)
        }
    }

    // MARK: - Packets

    private func sendHello() throws {
        packet.removeAll(keepingCapacity: true)
        Self.append(varUInt: 0, to: &packet)
        Self.append(string: "k2", to: &packet)
        Self.append(varUInt: 1, to: &packet)
        Self.append(varUInt: 0, to: &packet)
        Self.append(varUInt: Self.clientRevision, to: &packet)
        Self.append(string: database, to: &packet)
        Self.append(string: user, to: &packet)
        Self.append(string: password, to: &packet)
        try sendPacket()
    }

    private func receiveHello() throws {
        let kind = try reader.varUInt()
        if kind == ServerPacket.exception.rawValue { throw try readException(what: "ClickHouse refused the connection") }
        guard kind == ServerPacket.hello.rawValue else {
            // An HTTP server answers a binary hello with "HTTP/1.…" (first byte 'H' = 72).
            throw ReplayError(
                .unreachable, place: place, what: "the server at \(address) does not speak ClickHouse's native protocol (its first byte was \(kind))",
                remedy: "give ClickHouse's native port (its tcp_port, default 9000), not the HTTP port (8123)")
        }
        _ = try reader.string()
        let major = try reader.varUInt()
        let minor = try reader.varUInt()
        let serverRevision = try reader.varUInt()
        revision = min(serverRevision, Self.clientRevision)
        if revision >= 54058 { _ = try reader.string() }  // time zone
        if revision >= 54372 { _ = try reader.string() }  // display name
        let patch = revision >= 54401 ? try reader.varUInt() : serverRevision
        serverVersion = "\(major).\(minor).\(patch)"
    }

    /// The Query packet (client info, no settings, stage Complete, no compression) and the
    /// empty Data block that ends the (absent) external tables, in one write.
    private func sendQuery(_ sql: String) throws {
        packet.removeAll(keepingCapacity: true)
        Self.append(varUInt: 1, to: &packet)
        Self.append(string: "", to: &packet)  // query id: the server makes one (as clickhouse-client lets it)
        // Client info: initial query over TCP.
        packet.append(1)
        Self.append(string: "", to: &packet)
        Self.append(string: "", to: &packet)
        Self.append(string: "0.0.0.0:0", to: &packet)
        packet.append(1)
        Self.append(string: "", to: &packet)
        Self.append(string: "", to: &packet)
        Self.append(string: "k2", to: &packet)
        Self.append(varUInt: 1, to: &packet)
        Self.append(varUInt: 0, to: &packet)
        Self.append(varUInt: Self.clientRevision, to: &packet)
        if revision >= 54060 { Self.append(string: "", to: &packet) }  // quota key
        if revision >= 54401 { Self.append(varUInt: 0, to: &packet) }  // version patch
        Self.append(string: "", to: &packet)  // end of settings
        Self.append(varUInt: 2, to: &packet)  // stage Complete
        Self.append(varUInt: 0, to: &packet)  // no compression
        Self.append(string: sql, to: &packet)
        // Data: table name "", block info {1: is_overflows 0, 2: bucket_num -1, 0}, 0 columns, 0 rows.
        packet += [2, 0, 1, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0]
        try sendPacket()
    }

    private func receiveAnswer() throws -> Answer {
        var answer = Answer(rows: 0, columns: [])
        var sawHeader = false
        while true {
            let kind = try reader.varUInt()
            switch ServerPacket(rawValue: kind) {
            case .data, .totals, .extremes:
                let rows = try readBlock(collectingColumns: !sawHeader, into: &answer.columns)
                sawHeader = true
                if kind == ServerPacket.data.rawValue { answer.rows += rows }
            case .exception: throw try readException(what: "statement failed")
            case .progress: try skipProgress()
            case .profileInfo:
                for _ in 0..<3 { _ = try reader.varUInt() }
                _ = try reader.byte()
                _ = try reader.varUInt()
                _ = try reader.byte()
            case .endOfStream: return answer
            case .hello, .pong, nil: throw NativeReader.Failure.malformed("unexpected packet \(kind) in an answer")
            }
        }
    }

    private func skipProgress() throws(NativeReader.Failure) {
        _ = try reader.varUInt()
        _ = try reader.varUInt()
        _ = try reader.varUInt()
    }

    /// Reads a block (Data, Totals, Extremes), stepping over its values; returns its rows.
    private func readBlock(collectingColumns: Bool, into columns: inout [(name: String, type: String)]) throws -> Int {
        try reader.skip(try reader.length())  // external table name
        while true {
            switch try reader.varUInt() {
            case 0: break
            case 1:
                _ = try reader.byte()
                continue
            case 2:
                _ = try reader.int32()
                continue
            case let field: throw NativeReader.Failure.malformed("block info field \(field)")
            }
            break
        }
        let columnCount = try reader.length()
        let rows = try reader.length()
        for column in 0..<columnCount {
            if collectingColumns || column >= columns.count {
                columns.append((try reader.string(), try reader.string()))
            } else {
                // The blocks after the first have its columns: step over name and type.
                try reader.skip(try reader.length())
                try reader.skip(try reader.length())
            }
            guard rows > 0 else { continue }
            let (name, typeName) = columns[column]
            guard let type = parsedTypes[typeName] ?? NativeColumnType(parsing: typeName) else {
                throw ReplayError(
                    .invalidArgument, place: place, what: "column '\(name)' has type \(typeName), which k2's native client cannot read",
                    remedy: "cast it in the query (e.g. toString(\(name))) or use protocol: http")
            }
            if parsedTypes[typeName] == nil { parsedTypes[typeName] = type }
            try type.skip(rows: rows, in: reader)
        }
        return rows
    }

    private func readException(what: String) throws -> ReplayError {
        var messages: [String] = []
        var firstCode: Int32 = 0
        repeat {
            let code = try reader.int32()
            _ = try reader.string()  // name, e.g. DB::Exception (the message starts with it)
            let message = try reader.string()
            _ = try reader.string()  // stack trace
            if messages.isEmpty { firstCode = code }
            messages.append("Code: \(code). \(message)")
        } while try reader.byte() != 0
        let remedy: String
        switch firstCode {
        case 192, 193, 194, 516: remedy = "check the user and password (clickhouse://user:password@host:port/db in the URL)"
        case 60: remedy = "create the table or name another one"
        case 81: remedy = "create the database or name another one"
        default: remedy = "fix the statement or the table"
        }
        return ReplayError(.unreachable, place: place, what: "\(what): " + messages.joined(separator: "; caused by: "), remedy: remedy)
    }

    // MARK: - Bytes

    private func describe(_ error: any Error) -> any Error {
        guard let failure = error as? NativeReader.Failure else { return error }
        let what: String
        switch failure {
        case .closed: what = "ClickHouse at \(address) closed the native connection mid-answer"
        case .malformed(let detail): what = "ClickHouse at \(address) broke the native protocol: \(detail)"
        case .source(let detail): what = "ClickHouse at \(address) (native protocol): \(detail)"
        }
        return ReplayError(.unreachable, place: place, what: what, remedy: "check that clickhouse-server runs and answers at its native port")
    }

    private func sendPacket() throws(NativeReader.Failure) {
        var sent = 0
        while sent < packet.count {
            let written = packet[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw errno == EPIPE || errno == ECONNRESET ? .closed : .source("cannot send: \(String(cString: strerror(errno)))")
            }
            sent += written
        }
    }

    /// The reader's source: waits (until the deadline) for bytes and reads them.
    private func receive(into buffer: UnsafeMutableRawBufferPointer) throws(NativeReader.Failure) -> Int {
        while true {
            let left = (deadline - clock.monotonicNanos()) / 1_000_000
            guard left > 0 else { throw .source("no answer within \(timeoutMillis) ms") }
            var wait = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            let ready = poll(&wait, 1, Int32(min(left, Int64(Int32.max))))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            let count = read(connection, buffer.baseAddress, buffer.count)
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if count < 0 && errno == ECONNRESET { return 0 }
            guard count >= 0 else { throw .source("cannot read: \(String(cString: strerror(errno)))") }
            return count
        }
    }

    static func append(varUInt value: UInt64, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    static func append(string: String, to bytes: inout [UInt8]) {
        append(varUInt: UInt64(string.utf8.count), to: &bytes)
        bytes.append(contentsOf: string.utf8)
    }
}

/// A blocking connect (honours SO_SNDTIMEO on Linux: EINPROGRESS after the timeout); outside the
/// client, whose `connect()` would hide the C function.
private func connectSocket(_ descriptor: Int32, to address: inout sockaddr_in) -> Int32 {
    withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
