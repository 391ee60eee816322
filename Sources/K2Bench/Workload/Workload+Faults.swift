import K2Replay

extension Workload {
    /// One entry of the workload's `faults:` schedule (docs/workloads.md, `faults`): what goes
    /// wrong, when (from the start of the measured window) and for how long.
    package struct Fault: Sendable, Equatable {
        /// Offset from the start of the measured window.
        package var atNanos: Int64
        /// How long the fault lasts; 0 for a one-off (request errors, a leader move, a command without `end`).
        package var forNanos: Int64
        package var action: FaultAction

        /// `broker`, `clickhouse`, `exchange` or `command`.
        package var target: String {
            switch action {
            case .brokerDown, .brokerRTT, .requestErrors, .leaderMove, .topicError: return "broker"
            case .clickhousePause, .clickhouseKill: return "clickhouse"
            case .command: return "command"
            case .exchange: return "exchange"
            }
        }

        /// What happens, in words for the report (`broker 1 down`, `Produce errors NOT_LEADER_FOR_PARTITION × 50` …).
        package var what: String {
            switch action {
            case let .brokerDown(broker): return "broker \(broker) down"
            case let .brokerRTT(broker, millis): return "broker \(broker) RTT +\(millis) ms"
            case let .requestErrors(api, code, count): return "\(KafkaNames.apiName(api)) errors \(KafkaNames.errorName(code)) × \(count)"
            case let .leaderMove(topic, partition, broker): return "leader of \(topic)/\(partition) to broker \(broker)"
            case let .topicError(topic, code): return "topic \(topic) errors \(KafkaNames.errorName(code))"
            case .clickhousePause: return "ClickHouse paused (SIGSTOP)"
            case .clickhouseKill: return "ClickHouse killed (SIGKILL), restarted at the end"
            case let .command(start, _): return "command `\(start)`"
            case let .exchange(fault): return fault.description
            }
        }
    }

    /// The fault itself (docs/workloads.md lists each `action` with its keys).
    package enum FaultAction: Sendable, Equatable {
        /// The embedded broker `broker` goes away (connections close, new ones refused) until the end.
        case brokerDown(broker: Int)
        /// Adds `millis` of round-trip time to broker `broker`'s responses until the end.
        case brokerRTT(broker: Int, millis: Int)
        /// The next `count` requests of Kafka API `api` fail with error `code` (a one-off).
        case requestErrors(api: Int16, code: Int32, count: Int)
        /// The leadership of `topic`/`partition` moves to `broker` (a one-off).
        case leaderMove(topic: String, partition: Int, broker: Int)
        /// Every request about `topic` fails with `code` until the end.
        case topicError(topic: String, code: Int32)
        /// The embedded ClickHouse is frozen (SIGSTOP) until the end (SIGCONT).
        case clickhousePause
        /// The embedded ClickHouse is killed (SIGKILL) at the start and restarted on the same data at the end.
        case clickhouseKill
        /// `start` runs (`/bin/sh -c`) at the start, `end` (when given) at the end: for systems k2 does not own.
        case command(start: String, end: String?)
        /// The workload's `ws://` sinks (k2 as the venue) misbehave toward their clients.
        case exchange(ExchangeFault)
    }
}
