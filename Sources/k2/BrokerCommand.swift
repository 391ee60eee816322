import ArgumentParser
import Foundation
import K2Core
import K2Replay

/// `k2 broker`: librdkafka's mock Kafka cluster as a local broker for replays and tests.
struct BrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run an embedded Kafka-protocol broker (librdkafka's mock cluster) on 127.0.0.1 or --host.",
        discussion: """
            Prints the bootstrap address as the first line on stdout (e.g. 127.0.0.1:39123), then
            runs until SIGINT or SIGTERM. The market.crypto.{trades,orderbook,ticker}.{binance,kraken,coinbase}
            topics and every --topic are created with --partitions partitions; other topics are
            created on first use with 4. Retention trap: each partition keeps only its last ~5 MiB
            (or 100,000 message sets); high watermarks still count every message — verify counts with
            `kcat -Q -b ADDR -t TOPIC:PARTITION:-1`, not by reading everything back. See docs/sinks.md.
            With --host ADDR (or --port) each broker is reached through a proxy on ADDR that also \
            advertises ADDR to clients, so clients on other hosts or network namespaces reach every broker \
            (docs/bench.md, "Scale beyond one machine").
            With --control-port P, faults are injected by hand over a line-based TCP interface on \
            HOST:P (`down 1`, `up 1`, `rtt 1 200ms`, `errors Produce NOT_LEADER_OR_FOLLOWER 50`, \
            `leader TOPIC 0 2`, `topic-error TOPIC UNKNOWN_TOPIC_OR_PART`, `help`; docs/sinks.md).
            """
    )

    @Option(
        parsing: .unconditional,
        help: "Bootstrap port: broker 1 on HOST:PORT (the others on free ports of HOST). 0 = the brokers' own ports, or free ones with --host.")
    var port: Port<NoListener> = 0

    @Option(help: "IPv4 address to listen on and advertise to clients (one proxy per broker).")
    var host: String = "127.0.0.1"

    @Option(help: "Partitions of the topics created up front.")
    var partitions: Int = 4

    @Option(help: "Number of brokers (1…16).")
    var brokers: Int = 1

    @Option(name: .customLong("topic"), help: "Also create this topic up front (repeatable).")
    var topics: [String] = []

    @Option(
        name: .customLong("control-port"), parsing: .unconditional,
        help:
            "Serve fault commands (down 1, rtt 1 200ms, errors Produce NOT_LEADER_OR_FOLLOWER 50 …) on HOST:PORT, one per line (0 = a free port, printed)."
    )
    var controlPort: Port<AnyFreePort>?

    func run() throws {
        // Block the stop signals in every thread (librdkafka's included) and wait for them here.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)

        let (broker, proxy, control) = try reportingErrors { () throws -> (EmbeddedBroker, BrokerProxy?, BrokerControl?) in
            let embedded = try EmbeddedBroker(
                .init(
                    brokers: brokers, partitions: partitions,
                    topics: EmbeddedBroker.standardTopics + topics))
            var proxyServer: BrokerProxy?
            if port.number != 0 || host != "127.0.0.1" {
                proxyServer = try BrokerProxy(brokers: embedded.bootstrap, host: host, firstPort: port.number)
            }
            let controlServer = try controlPort.map { try BrokerControl(broker: embedded, host: host, port: $0.number) }
            return (embedded, proxyServer, controlServer)
        }
        let address = proxy?.bootstrap ?? broker.bootstrap
        // Unbuffered: a script reading the first line must get it now.
        let line = address + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
        StdErr.print("k2 broker: \(brokers) broker(s) at \(address); topics with \(partitions) partitions; stop with Ctrl-C")
        if let control { StdErr.print("k2 broker: fault commands on \(control.host):\(control.port) (one per line; `help` lists them)") }
        var sig: Int32 = 0
        sigwait(&set, &sig)
        control?.stop()
        proxy?.stop()
        StdErr.print("k2 broker: stopped (signal \(sig))")
        withExtendedLifetime(broker) {}
    }
}
