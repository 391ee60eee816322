import CCurl
import K2Core

/// A minimal HTTP client for ClickHouse's HTTP interface on libcurl: one reused connection,
/// POST with the query in the URL and the data as the body (or the query as the body), an
/// empty `Expect:` header (curl would otherwise wait for `100-continue` on bodies over 1 MiB),
/// connect and total timeouts, and the server's status and message on error. `postStreaming`
/// sends a body of unknown length (chunked transfer encoding) pulled from a closure while the
/// server already parses what arrived. HTTPS with the system's CAs or a given CA file; HTTP basic
/// auth for a user with a password.
package final class ClickHouseHTTP {
    /// `http://host:port/` (`https://` with TLS).
    let base: String
    let place: String
    private let curl: UnsafeMutableRawPointer
    private var headers: UnsafeMutablePointer<curl_slist>?
    private var chunkedHeaders: UnsafeMutablePointer<curl_slist>?
    private let response = ResponseBox()
    private let source = SourceBox()
    var connectTimeoutMillis = 3000
    package var timeoutMillis = 60_000
    /// Whether the last request that threw may have reached the server (it failed after
    /// connecting: a timeout, a reset, no answer), so an insert may still land; false when
    /// nothing was sent (connection refused, unknown host).
    private(set) var lastFailureMayHaveReachedServer = false

    final class ResponseBox { var bytes: [UInt8] = [] }
    /// The body of a streamed POST: fills the buffer, returns the bytes written (0 = end of body).
    final class SourceBox { var read: (UnsafeMutableRawBufferPointer) -> Int = { _ in 0 } }

    struct Reply {
        var status: Int
        var body: String
    }

    private static let globalInit: Bool = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK }()

    package init(
        host: String, port: Int, place: String, tls: Bool = false, caFile: String? = nil,
        user: String? = nil, password: String? = nil
    ) throws {
        _ = Self.globalInit
        base = "\(tls ? "https" : "http")://\(host):\(port)/"
        self.place = place
        guard let handle = curl_easy_init() else {
            throw ReplayError(.io, place: place, what: "libcurl could not create a handle")
        }
        curl = handle
        if let user {
            // Basic auth (curl's default scheme once a user is set).
            _ = k2_curl_setopt_str(curl, CURLOPT_USERNAME, user)
            _ = k2_curl_setopt_str(curl, CURLOPT_PASSWORD, password ?? "")
        }
        if let caFile { _ = k2_curl_setopt_str(curl, CURLOPT_CAINFO, caFile) }
        headers = curl_slist_append(nil, "Expect:")
        headers = curl_slist_append(headers, "Content-Type: application/octet-stream")
        chunkedHeaders = curl_slist_append(nil, "Expect:")
        chunkedHeaders = curl_slist_append(chunkedHeaders, "Content-Type: application/octet-stream")
        chunkedHeaders = curl_slist_append(chunkedHeaders, "Transfer-Encoding: chunked")
        _ = k2_curl_setopt_ptr(curl, CURLOPT_HTTPHEADER, headers)
        _ = k2_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = k2_curl_setopt_long(curl, CURLOPT_TCP_NODELAY, 1)
        _ = k2_curl_setopt_writefn(curl) { ptr, size, n, ud in
            guard let ptr, let ud else { return 0 }
            let box = Unmanaged<ResponseBox>.fromOpaque(ud).takeUnretainedValue()
            box.bytes.append(contentsOf: UnsafeRawBufferPointer(start: ptr, count: size * n))
            return size * n
        }
        _ = k2_curl_setopt_ptr(curl, CURLOPT_WRITEDATA, Unmanaged.passUnretained(response).toOpaque())
        _ = k2_curl_setopt_readfn(curl) { ptr, size, n, ud in
            guard let ptr, let ud else { return 0 }
            let box = Unmanaged<SourceBox>.fromOpaque(ud).takeUnretainedValue()
            return box.read(UnsafeMutableRawBufferPointer(start: ptr, count: size * n))
        }
        _ = k2_curl_setopt_ptr(curl, CURLOPT_READDATA, Unmanaged.passUnretained(source).toOpaque())
        // Bigger pieces per read call and per send() than the 64 KiB default.
        _ = k2_curl_setopt_long(curl, CURLOPT_UPLOAD_BUFFERSIZE, 1 << 20)
    }

    deinit {
        curl_easy_cleanup(curl)
        curl_slist_free_all(headers)
        curl_slist_free_all(chunkedHeaders)
    }

    /// POSTs a body of unknown length to `base?params` with chunked transfer encoding: libcurl
    /// calls `read` (on this thread) for the next bytes until it returns 0. The server parses
    /// the rows as they arrive. `timeoutMillis` bounds the whole request, streaming included.
    func postStreaming(
        params: [(String, String)], timeoutMillis total: Int,
        read: @escaping (UnsafeMutableRawBufferPointer) -> Int
    ) throws -> Reply {
        source.read = read
        defer { source.read = { _ in 0 } }
        _ = k2_curl_setopt_ptr(curl, CURLOPT_HTTPHEADER, chunkedHeaders)
        defer { _ = k2_curl_setopt_ptr(curl, CURLOPT_HTTPHEADER, headers) }
        _ = k2_curl_setopt_long(curl, CURLOPT_POST, 1)
        _ = k2_curl_setopt_ptr(curl, CURLOPT_POSTFIELDS, nil)
        _ = k2_curl_setopt_off(curl, CURLOPT_POSTFIELDSIZE_LARGE, -1)
        return try perform(params: params, timeoutMillis: total)
    }

    /// POSTs `body` to `base?params`; returns status and body, throws only when no HTTP answer came.
    func post(params: [(String, String)], body: UnsafeRawBufferPointer) throws -> Reply {
        _ = k2_curl_setopt_long(curl, CURLOPT_POST, 1)
        _ = k2_curl_setopt_ptr(curl, CURLOPT_POSTFIELDS, body.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
        _ = k2_curl_setopt_off(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        return try perform(params: params, timeoutMillis: timeoutMillis)
    }

    private func perform(params: [(String, String)], timeoutMillis total: Int) throws -> Reply {
        var url = base
        if !params.isEmpty {
            url += "?" + params.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        return try perform(url: url, timeoutMillis: total)
    }

    /// Any HTTP request on this handle's keep-alive connection (the HTTP stage, pointed at
    /// ClickHouse or at another API): `method` to `url` with extra `Name: value` header lines and
    /// an optional body. Returns status and body; throws only when no HTTP answer came.
    package func request(method: String, url: String, headers extra: [String], body: [UInt8]?) throws -> (status: Int, body: String) {
        var list = curl_slist_append(nil, "Expect:")
        for line in extra { list = curl_slist_append(list, line) }
        _ = k2_curl_setopt_ptr(curl, CURLOPT_HTTPHEADER, list)
        _ = k2_curl_setopt_str(curl, CURLOPT_CUSTOMREQUEST, method)
        defer {
            _ = k2_curl_setopt_ptr(curl, CURLOPT_HTTPHEADER, headers)
            _ = k2_curl_setopt_ptr(curl, CURLOPT_CUSTOMREQUEST, nil)
            _ = k2_curl_setopt_long(curl, CURLOPT_NOBODY, 0)
            curl_slist_free_all(list)
        }
        var bytes = body ?? []
        let reply = try bytes.withUnsafeMutableBytes { buffer throws -> Reply in
            if body != nil {
                _ = k2_curl_setopt_long(curl, CURLOPT_POST, 1)
                _ = k2_curl_setopt_ptr(curl, CURLOPT_POSTFIELDS, buffer.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 1))
                _ = k2_curl_setopt_off(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(buffer.count))
            } else {
                _ = k2_curl_setopt_long(curl, CURLOPT_HTTPGET, 1)
                if method == "HEAD" { _ = k2_curl_setopt_long(curl, CURLOPT_NOBODY, 1) }
            }
            return try perform(url: url, timeoutMillis: timeoutMillis, server: "the HTTP server", at: url)
        }
        return (reply.status, reply.body)
    }

    private func perform(url: String, timeoutMillis total: Int, server: String = "ClickHouse", at shown: String? = nil) throws -> Reply {
        response.bytes.removeAll(keepingCapacity: true)
        _ = k2_curl_setopt_str(curl, CURLOPT_URL, url)
        _ = k2_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMillis)
        _ = k2_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, total)
        let rc = curl_easy_perform(curl)
        guard rc == CURLE_OK else {
            lastFailureMayHaveReachedServer = rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST
            let reason = String(cString: curl_easy_strerror(rc))
            if rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CONNECT_ERROR {
                throw ReplayError(
                    .unreachable, place: place, what: "TLS with ClickHouse at \(base) failed: \(reason)",
                    remedy: "give the server's CA (or self-signed) certificate with --ca-file or ca_file=PEM, and the name it was issued for")
            }
            throw ReplayError(
                .unreachable, place: place, what: "\(server) did not answer at \(shown ?? base): \(reason)",
                remedy: "check host:port and that clickhouse-server runs (HTTP interface: default port 8123, HTTPS 8443)")
        }
        var status = 0
        _ = k2_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return Reply(status: status, body: String(decoding: response.bytes, as: UTF8.self))
    }

    /// Runs one statement (sent as the body); throws with ClickHouse's message on a non-200 reply.
    @discardableResult
    package func execute(_ sql: String, database: String? = nil) throws -> String {
        var bytes = Array(sql.utf8)
        let params = database.map { [("database", $0)] } ?? []
        let reply = try bytes.withUnsafeMutableBytes { try post(params: params, body: UnsafeRawBufferPointer($0)) }
        guard reply.status == 200 else { throw Self.serverError(reply, place: place, what: "statement failed") }
        return reply.body
    }

    static func serverError(_ r: Reply, place: String, what: String) -> ReplayError {
        let msg = r.body.split(whereSeparator: { $0 == "\n" }).first.map(String.init) ?? ""
        var remedy = "fix the statement or the table"
        if r.status == 401 || r.status == 403 || msg.contains("Code: 192,") || msg.contains("Code: 193,") || msg.contains("Code: 516,")
            || msg.contains("password") || msg.contains("AUTHENTICATION")
        {
            remedy = "check the user and password (clickhouse://user:password@host:8123/db, or user=/password= in the URI)"
        } else if msg.contains("doesn't exist") || msg.contains("does not exist") || msg.contains("UNKNOWN_TABLE") {
            remedy = "create it (add --create-tables, or create_tables=1 in the URI) or name another table"
        } else if msg.contains("UNKNOWN_DATABASE") || msg.contains("Database") {
            remedy = "create the database or fix the URI path"
        }
        return ReplayError(.unreachable, place: place, what: "\(what): HTTP \(r.status): \(msg.isEmpty ? "(no message)" : msg)", remedy: remedy)
    }

    static func encode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPad(2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
