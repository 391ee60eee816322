import Foundation
import K2Core

/// `k2 broker --control-port P`: a line-based TCP interface on 127.0.0.1 (or the broker's
/// `--host`) that injects the embedded broker's faults by hand while an incident is reproduced.
/// One command per line, one reply line per command: `ok: <what was done>` or `error: <why>`
/// (docs/sinks.md lists the commands). Connections are served one at a time.
package final class BrokerControl: @unchecked Sendable {
    // unchecked: `running` and `client` under `lock`; the rest immutable after init.

    /// One control command.
    package enum Command: Sendable, Equatable {
        case down(broker: Int)
        case up(broker: Int)
        /// Added round-trip time (0 clears it).
        case rtt(broker: Int, millis: Int)
        /// The next `count` requests of `api` fail with `code`.
        case errors(api: Int16, code: Int32, count: Int)
        /// Drops the request errors still queued for `api`.
        case clearErrors(api: Int16)
        case leader(topic: String, partition: Int, broker: Int)
        /// Every request about `topic` fails with `code` (0 clears it).
        case topicError(topic: String, code: Int32)
        case help
    }

    package static let usage = "commands: down B | up B | rtt B DURATION | errors API ERROR COUNT | clear API | leader TOPIC PARTITION B | topic-error TOPIC ERROR | help"

    /// The command on `line`, or a one-line reason it is not one.
    package static func parse(_ line: String, brokers: Int) -> Result<Command, ReplayError> {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        func fail(_ what: String) -> Result<Command, ReplayError> {
            .failure(ReplayError(.invalidArgument, place: "control", what: what, remedy: usage))
        }
        func broker(_ text: String) -> Int? {
            guard let id = Int(text), (1...brokers).contains(id) else { return nil }
            return id
        }
        guard let verb = words.first?.lowercased() else { return fail("empty command") }
        let args = Array(words.dropFirst())
        switch (verb, args.count) {
        case ("down", 1), ("up", 1):
            guard let id = broker(args[0]) else { return fail("'\(args[0])' is not a broker (1…\(brokers))") }
            return .success(verb == "down" ? .down(broker: id) : .up(broker: id))
        case ("rtt", 2):
            guard let id = broker(args[0]) else { return fail("'\(args[0])' is not a broker (1…\(brokers))") }
            guard let nanos = TimeText.parseDuration(args[1]), nanos <= 60_000_000_000 else {
                return fail("'\(args[1])' is not a round-trip time up to 60s (e.g. 200ms, 0 to clear)")
            }
            return .success(.rtt(broker: id, millis: Int(nanos / 1_000_000)))
        case ("errors", 3):
            guard let api = KafkaNames.apiKey(args[0]) else { return fail("'\(args[0])' is not a Kafka API (Produce, Fetch, Metadata …)") }
            guard let code = KafkaNames.errorCode(args[1]), code != 0 else { return fail("'\(args[1])' is not a Kafka error (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT …)") }
            guard let count = Int(args[2]), (1...100_000).contains(count) else { return fail("'\(args[2])' is not a count (1…100000)") }
            return .success(.errors(api: api, code: code, count: count))
        case ("clear", 1):
            guard let api = KafkaNames.apiKey(args[0]) else { return fail("'\(args[0])' is not a Kafka API (Produce, Fetch, Metadata …)") }
            return .success(.clearErrors(api: api))
        case ("leader", 3):
            guard let partition = Int(args[1]), (0...1023).contains(partition) else { return fail("'\(args[1])' is not a partition") }
            guard let id = broker(args[2]) else { return fail("'\(args[2])' is not a broker (1…\(brokers))") }
            return .success(.leader(topic: args[0], partition: partition, broker: id))
        case ("topic-error", 2):
            guard let code = KafkaNames.errorCode(args[1]) else { return fail("'\(args[1])' is not a Kafka error (a name, or 0 to clear)") }
            return .success(.topicError(topic: args[0], code: code))
        case ("help", 0):
            return .success(.help)
        case ("down", _), ("up", _), ("rtt", _), ("errors", _), ("clear", _), ("leader", _), ("topic-error", _), ("help", _):
            return fail("wrong number of arguments for '\(verb)'")
        default:
            return fail("unknown command '\(verb)'")
        }
    }

    /// Carries out `command` on `broker`; the reply's text.
    package static func apply(_ command: Command, to broker: EmbeddedBroker) throws -> String {
        switch command {
        case let .down(id):
            broker.setBrokerDown(id)
            return "broker \(id) down"
        case let .up(id):
            broker.setBrokerUp(id)
            return "broker \(id) up"
        case let .rtt(id, millis):
            broker.setRoundTrip(id, millis: millis)
            return "broker \(id) RTT +\(millis) ms"
        case let .errors(api, code, count):
            broker.failNextRequests(apiKey: api, errorCodes: Array(repeating: code, count: count))
            return "next \(count) \(KafkaNames.apiName(api)) requests fail with \(KafkaNames.errorName(code))"
        case let .clearErrors(api):
            broker.clearRequestErrors(apiKey: api)
            return "\(KafkaNames.apiName(api)) errors cleared"
        case let .leader(topic, partition, id):
            try broker.moveLeader(topic: topic, partition: partition, to: id)
            return "leader of \(topic)/\(partition) is broker \(id)"
        case let .topicError(topic, code):
            broker.setTopicError(topic: topic, code: code)
            return code == 0 ? "topic \(topic) errors cleared" : "topic \(topic) fails with \(KafkaNames.errorName(code))"
        case .help:
            return usage
        }
    }

    package let host: String
    /// The port listened on (the one asked for, or a free one for 0).
    package let port: Int
    private let broker: EmbeddedBroker
    private let listener: Int32
    private let lock = Lock()
    private var running = true
    private var client: Int32 = -1
    private var thread: JoinableThread?

    /// Listens on `host:port` (0 = a free port) and serves commands until `stop()`.
    package init(broker: EmbeddedBroker, host: String = "127.0.0.1", port: Int) throws {
        guard (0...65535).contains(port) else {
            throw ReplayError(.invalidArgument, place: "k2 broker", what: "--control-port \(port) is not a port", remedy: "give 1-65535, or 0 for a free port")
        }
        let (fd, actualPort) = try BrokerProxy.listen(host: host, port: port)
        listener = fd
        self.port = actualPort
        self.host = host
        self.broker = broker
        thread = JoinableThread.start { [self] in serve() }
    }

    private func serve() {
        while lock.withLock({ running }) {
            let fd = accept(listener, nil, nil)
            if fd < 0 { if errno == EINTR { continue } else { return } }
            let open = lock.withLock { () -> Bool in
                client = fd
                return running
            }
            if open { converse(fd) }
            lock.withLock { client = -1 }
            close(fd)
        }
    }

    /// Reads lines from `fd` and answers each, until the peer closes.
    private func converse(_ fd: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            pending.append(contentsOf: buffer[0..<count])
            guard pending.count <= 65536 else {
                reply(fd, "error: line too long")
                return
            }
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                pending.removeSubrange(...newline)
                if line.isEmpty { continue }
                reply(fd, answer(line))
            }
        }
    }

    /// The reply to one command line.
    func answer(_ line: String) -> String {
        switch Self.parse(line, brokers: broker.configuration.brokers) {
        case let .failure(error): return "error: \(error.what) — \(error.remedy)"
        case let .success(command):
            do { return "ok: " + (try Self.apply(command, to: broker)) } catch let error as ReplayError {
                return "error: \(error.what)" + (error.remedy.isEmpty ? "" : " — \(error.remedy)")
            } catch {
                return "error: \(error)"
            }
        }
    }

    private func reply(_ fd: Int32, _ text: String) {
        let bytes = Array((text + "\n").utf8)
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            sent += written
        }
    }

    /// Stops listening, closes the connection being served and waits for the thread.
    package func stop() {
        let fd = lock.withLock { () -> Int32 in
            guard running else { return -2 }
            running = false
            return client
        }
        guard fd != -2 else { return }
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        thread?.join()
    }

    deinit { stop() }
}
