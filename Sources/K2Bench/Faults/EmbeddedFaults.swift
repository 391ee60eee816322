import K2Core
import K2Replay

/// Carries out a workload's faults on what `k2 bench run` owns: the embedded broker (librdkafka's
/// mock-cluster fault API), the embedded ClickHouse (SIGSTOP/SIGCONT, SIGKILL and a restart on
/// the same data directory), and `command:` faults through `/bin/sh -c`.
final class EmbeddedFaults: FaultInjector {
    let broker: EmbeddedBroker?
    let clickhouse: LocalClickHouse?
    let workloadPath: String

    init(broker: EmbeddedBroker?, clickhouse: LocalClickHouse?, workloadPath: String) {
        self.broker = broker
        self.clickhouse = clickhouse
        self.workloadPath = workloadPath
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
        case .requestErrors, .leaderMove, .command: break
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
