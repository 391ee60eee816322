import ArgumentParser
import Foundation
import K2Core
import K2Replay

/// `k2 broker`: librdkafka's mock Kafka cluster as a local broker for replays and tests.
struct BrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run an embedded Kafka-protocol broker (librdkafka's mock cluster) on 127.0.0.1.",
        discussion: """
            Prints the bootstrap address as the first line on stdout (e.g. 127.0.0.1:39123), then
            runs until SIGINT or SIGTERM. The market.crypto.{trades,orderbook,ticker}.{binance,kraken,coinbase}
            topics and every --topic are created with --partitions partitions; other topics are
            created on first use with 4. Retention trap: each partition keeps only its last ~5 MiB
            (or 100,000 message sets); high watermarks still count every message — verify counts with
            `kcat -Q -b ADDR -t TOPIC:PARTITION:-1`, not by reading everything back. See docs/sinks.md.
            """
    )

    @Option(parsing: .unconditional, help: "Bootstrap port: a forwarder on 127.0.0.1:PORT to broker 1 (brokers keep their own ports). 0 = none.")
    var port: Port<NoListener> = 0

    @Option(help: "Partitions of the topics created up front.")
    var partitions: Int = 4

    @Option(help: "Number of brokers (1…16).")
    var brokers: Int = 1

    @Option(name: .customLong("topic"), help: "Also create this topic up front (repeatable).")
    var topics: [String] = []

    func run() throws {
        // Block the stop signals in every thread (librdkafka's included) and wait for them here.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)

        let (broker, forwarder) = try reportingErrors { () throws -> (EmbeddedBroker, BootstrapForwarder?) in
            let b = try EmbeddedBroker(.init(brokers: brokers, partitions: partitions,
                                              topics: EmbeddedBroker.standardTopics + topics))
            var f: BootstrapForwarder?
            if port.number != 0 { f = try BootstrapForwarder(port: port.number, target: b.firstBrokerAddress) }
            return (b, f)
        }
        let address = forwarder.map { "127.0.0.1:\($0.port)" } ?? broker.bootstrap
        // Unbuffered: a script reading the first line must get it now.
        let line = address + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
        StdErr.print("k2 broker: \(brokers) broker(s) at \(broker.bootstrap); topics with \(partitions) partitions; stop with Ctrl-C")
        var sig: Int32 = 0
        sigwait(&set, &sig)
        forwarder?.stop()
        StdErr.print("k2 broker: stopped (signal \(sig))")
        withExtendedLifetime(broker) {}
    }
}
