import K2Config
import K2Core
import K2Replay

extension WorkloadLoader {
    static let faultKeys = ["at", "for", "target", "action", "broker", "rtt", "api", "error", "count", "topic", "partition", "command", "end"]
    static let faultLengths: ClosedRange<Int64> = 0...3_600_000_000_000
    static let faultExample = "e.g. {at: 5s, for: 5s, target: broker, action: down}"

    /// The `faults:` section: a list of `{at, for, target, action, …}` (docs/workloads.md, `faults`);
    /// each fault must start inside the measured window (`at` < `duration`).
    static func faults(in root: StrictMap, durationNanos: Int64) throws(ConfigError) -> [Workload.Fault] {
        var out: [Workload.Fault] = []
        for item in try root.items("faults") ?? [] {
            guard case let .map(entry) = item else {
                throw root.error(at: "faults", "each fault must be a mapping", remedy: faultExample)
            }
            out.append(try fault(entry, durationNanos: durationNanos))
        }
        return out
    }

    static func fault(_ entry: StrictMap, durationNanos: Int64) throws(ConfigError) -> Workload.Fault {
        try entry.expectKeys(faultKeys)
        guard let at = try entry.duration("at", in: faultLengths) else {
            throw entry.missing("at", "when it starts, from the start of the measured window, e.g. 5s")
        }
        guard at < durationNanos else {
            throw entry.error(
                at: "at", "starts at or after the end of the measured window (\(TimeText.humanDuration(nanos: durationNanos)))",
                remedy: "use a smaller at, or a longer duration")
        }
        let length = try entry.duration("for", in: faultLengths) ?? 0
        guard let target = try entry.string("target") else { throw entry.missing("target", "broker, clickhouse, exchange or command") }
        let action = try entry.string("action")
        func needsLength(_ what: String) throws(ConfigError) {
            guard length > 0 else { throw entry.missing("for", "how long \(what) lasts, e.g. 5s") }
        }
        func broker(_ key: String = "broker") throws(ConfigError) -> Int { try entry.int(key, in: 1...16) ?? 1 }
        func topic() throws(ConfigError) -> String {
            guard let name = try entry.string("topic"), !name.isEmpty else {
                throw entry.missing("topic", "the topic, e.g. market.crypto.trades.binance")
            }
            return name
        }
        func errorCode() throws(ConfigError) -> Int32 {
            guard let name = try entry.string("error") else {
                throw entry.missing("error", "a Kafka error name or code, e.g. NOT_LEADER_OR_FOLLOWER")
            }
            guard let code = KafkaNames.errorCode(name), code != 0 else {
                throw entry.error(
                    at: "error", "'\(name)' is not a Kafka error",
                    remedy: "use librdkafka's name (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, …) or the code")
            }
            return code
        }
        let result: Workload.FaultAction
        switch (target, action ?? "") {
        case ("broker", "down"):
            try needsLength("the outage")
            result = .brokerDown(broker: try broker())
        case ("broker", "rtt"):
            try needsLength("the added latency")
            guard let rtt = try entry.duration("rtt", in: 1_000_000...60_000_000_000) else {
                throw entry.missing("rtt", "the added round-trip time, e.g. 200ms")
            }
            result = .brokerRTT(broker: try broker(), millis: Int(rtt / 1_000_000))
        case ("broker", "errors"):
            let apiText = try entry.string("api") ?? "Produce"
            guard let api = KafkaNames.apiKey(apiText) else {
                throw entry.error(
                    at: "api", "'\(apiText)' is not a Kafka API",
                    remedy: "use " + KafkaNames.apiKeys.map(\.name).joined(separator: ", ") + " or a key number")
            }
            let count = try entry.int("count", in: 1...100_000) ?? 1
            result = .requestErrors(api: api, code: try errorCode(), count: count)
        case ("broker", "leader"):
            guard let partition = try entry.int("partition", in: 0...1023) else {
                throw entry.missing("partition", "the partition whose leader moves, e.g. 0")
            }
            guard entry.keys.contains("broker") else { throw entry.missing("broker", "the new leader's broker id, e.g. 2") }
            result = .leaderMove(topic: try topic(), partition: partition, broker: try broker())
        case ("broker", "topic_error"):
            try needsLength("the topic error")
            result = .topicError(topic: try topic(), code: try errorCode())
        case ("broker", _):
            throw entry.error(
                at: entry.keys.contains("action") ? "action" : "target",
                "broker faults are down, rtt, errors, leader, topic_error (got '\(action ?? "")')", remedy: faultExample)
        case ("clickhouse", "pause"):
            try needsLength("the pause")
            result = .clickhousePause
        case ("clickhouse", "kill"):
            result = .clickhouseKill
        case ("clickhouse", _):
            throw entry.error(
                at: entry.keys.contains("action") ? "action" : "target", "ClickHouse faults are pause and kill (got '\(action ?? "")')",
                remedy: "e.g. {at: 10s, for: 5s, target: clickhouse, action: pause}")
        case ("exchange", "disconnect"):
            result = .exchange(.disconnect)
        case ("exchange", "stall"):
            try needsLength("the stall")
            result = .exchange(.stall)
        case ("exchange", "gap"), ("exchange", "duplicate"), ("exchange", "reorder"), ("exchange", "malformed"):
            let count = try entry.int("count", in: 1...100_000) ?? 1
            switch action {
            case "gap": result = .exchange(.gap(count: count))
            case "duplicate": result = .exchange(.duplicate(count: count))
            case "reorder": result = .exchange(.reorder(count: count))
            default: result = .exchange(.malformed(count: count))
            }
        case ("exchange", _):
            throw entry.error(
                at: entry.keys.contains("action") ? "action" : "target",
                "exchange faults are disconnect, stall, gap, duplicate, reorder and malformed (got '\(action ?? "")')",
                remedy: "e.g. {at: 10s, target: exchange, action: gap, count: 5}")
        case ("command", "run"), ("command", ""):
            guard let command = try entry.string("command"), !command.isEmpty else {
                throw entry.missing("command", "a shell command run at `at`, e.g. docker pause redpanda")
            }
            let end = try entry.string("end")
            if end != nil { try needsLength("the command's fault") }
            result = .command(start: command, end: end)
        default:
            throw entry.error(at: "target", "unknown fault target '\(target)'", remedy: "use broker, clickhouse, exchange or command")
        }
        return Workload.Fault(atNanos: at, forNanos: length, action: result)
    }
}
