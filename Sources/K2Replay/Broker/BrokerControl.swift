import Foundation
import K2Core

/// `k2 broker --control-port P`: a line-based TCP interface on 127.0.0.1 (or the broker's
/// `--host`) that injects the embedded broker's faults by hand while an incident is reproduced.
/// One command per line, one reply line per command: `ok: <what was done>` or `error: <why>`
/// (docs/sinks.md lists the commands). Connections are served one at a time.
package final class BrokerControl: Sendable {

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
        /// This host's wall clock (`ok: time NANOS`): shards measure their clock offset against it.
        case time
        case help
    }

    package static let usage =
        "commands: down B | up B | rtt B DURATION | errors API ERROR COUNT | clear API | leader TOPIC PARTITION B | topic-error TOPIC ERROR | time | help"

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
            guard let code = KafkaNames.errorCode(args[1]), code != 0 else {
                return fail("'\(args[1])' is not a Kafka error (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT …)")
            }
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
        case ("time", 0):
            return .success(.time)
        case ("down", _), ("up", _), ("rtt", _), ("errors", _), ("clear", _), ("leader", _), ("topic-error", _), ("help", _), ("time", _):
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
        case .time:
            return ClockReference.timeReply(SystemClock())
        }
    }

    /// The address listened on.
    package var host: String { server.host }
    /// The port listened on (the one asked for, or a free one for 0).
    package var port: Int { server.port }
    private let server: LineServer

    /// Listens on `host:port` (0 = a free port) and serves commands until `stop()`.
    package init(broker: EmbeddedBroker, host: String = "127.0.0.1", port: Int) throws {
        guard (0...65535).contains(port) else {
            throw ReplayError(
                .invalidArgument, place: "k2 broker", what: "--control-port \(port) is not a port", remedy: "give 1-65535, or 0 for a free port")
        }
        server = try LineServer(host: host, port: port, place: "k2 broker") { line in Self.answer(line, broker: broker) }
    }

    /// The reply to one command line.
    static func answer(_ line: String, broker: EmbeddedBroker) -> String {
        switch parse(line, brokers: broker.configuration.brokers) {
        case let .failure(error): return "error: \(error.what) — \(error.remedy)"
        case let .success(command):
            do { return "ok: " + (try apply(command, to: broker)) } catch let error as ReplayError {
                return "error: \(error.what)" + (error.remedy.isEmpty ? "" : " — \(error.remedy)")
            } catch {
                return "error: \(error)"
            }
        }
    }

    /// Stops listening, closes the connection being served and waits for the thread.
    package func stop() { server.stop() }

    deinit { stop() }
}
