import K2Core
import K2Replay

/// Carries out a workload's faults on what `k2 bench run` owns: the embedded broker (librdkafka's
/// mock-cluster fault API), the embedded ClickHouse (SIGSTOP/SIGCONT, SIGKILL and a restart on
/// the same data directory), the repetition's `ws://` sinks (k2 as the exchange), and
/// `command:` faults through `/bin/sh -c`.
final class EmbeddedFaults: FaultInjector {
    let broker: EmbeddedBroker?
    let clickhouse: LocalClickHouse?
    let workloadPath: String
    /// Whether the workload has a `ws://` sink (exchange faults need one).
    let hasExchange: Bool
    /// The current repetition's `ws://` sinks, set when its sinks are made.
    let exchanges = LockedValue<[WebSocketSink]>([])

    init(broker: EmbeddedBroker?, clickhouse: LocalClickHouse?, workloadPath: String, hasExchange: Bool = false) {
        self.broker = broker
        self.clickhouse = clickhouse
        self.workloadPath = workloadPath
        self.hasExchange = hasExchange
    }

    /// Checks before the run that every fault's target exists (one clear error instead of a failed fault).
    func check(_ faults: [Workload.Fault]) throws {
        for fault in faults {
            switch fault.target {
            case "broker" where broker == nil:
                throw BenchError(
                    .invalidArgument, path: workloadPath,
                    what: "fault '\(fault.what)' needs the embedded broker, and this workload does not start it",
                    remedy: "use a kafka://embedded sink or embedded.broker: true; for another broker use a command: fault")
            case "clickhouse" where clickhouse == nil:
                throw BenchError(
                    .invalidArgument, path: workloadPath,
                    what: "fault '\(fault.what)' needs the embedded ClickHouse, and this workload does not start it",
                    remedy: "set embedded.clickhouse: true; for another server use a command: fault")
            case "exchange" where !hasExchange:
                throw BenchError(
                    .invalidArgument, path: workloadPath,
                    what: "fault '\(fault.what)' needs a ws:// sink (k2 as the exchange), and this workload has none",
                    remedy: "add a sink such as ws://0.0.0.0:9443?wait=1 for the feed handler under test to connect to")
            default: break
            }
            if let broker, case let .brokerDown(id) = fault.action, id > broker.configuration.brokers {
                throw BenchError(
                    .invalidArgument, path: workloadPath,
                    what: "fault '\(fault.what)': the embedded broker has \(broker.configuration.brokers) broker(s)",
                    remedy: "set embedded.brokers: \(id) or name a broker 1…\(broker.configuration.brokers)")
            }
        }
    }

    func begin(_ fault: Workload.Fault) throws {
        switch fault.action {
        case let .brokerDown(id): broker?.setBrokerDown(id)
        case let .brokerRTT(id, millis): broker?.setRoundTrip(id, millis: millis)
        case let .requestErrors(api, code, count): broker?.failNextRequests(apiKey: api, errorCodes: Array(repeating: code, count: count))
        case let .leaderMove(topic, partition, id): try broker?.moveLeader(topic: topic, partition: partition, to: id)
        case let .topicError(topic, code): broker?.setTopicError(topic: topic, code: code)
        case .clickhousePause: clickhouse?.pause()
        case .clickhouseKill: clickhouse?.crash()
        case let .command(start, _): try Self.shell(start)
        case let .exchange(fault): for sink in exchanges.value { sink.inject(fault) }
        }
    }

    func end(_ fault: Workload.Fault) throws {
        switch fault.action {
        case let .brokerDown(id): broker?.setBrokerUp(id)
        case let .brokerRTT(id, _): broker?.setRoundTrip(id, millis: 0)
        case let .topicError(topic, _): broker?.setTopicError(topic: topic, code: 0)
        case .clickhousePause: clickhouse?.resume()
        case .clickhouseKill: try clickhouse?.restart()
        case let .command(_, end?): try Self.shell(end)
        case .exchange(.stall): for sink in exchanges.value { sink.endStall() }
        case .requestErrors, .leaderMove, .command, .exchange: break
        }
    }

    /// Runs `command` with `/bin/sh -c`; throws with its status and stderr's last line when it fails.
    static func shell(_ command: String) throws {
        let finished = try ChildProcess.run(["/bin/sh", "-c", command])
        guard finished.status == 0 else {
            let last = finished.stderr.split(separator: "\n").last.map(String.init) ?? ""
            throw BenchError(.run, what: "`\(command)` exited with status \(finished.status)" + (last.isEmpty ? "" : ": \(last)"))
        }
    }
}
