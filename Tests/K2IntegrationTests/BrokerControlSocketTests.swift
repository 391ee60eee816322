import Foundation
import K2Core
import K2Replay
import Testing

/// `k2 broker --control-port`: fault commands over a raw TCP socket change the embedded broker.
@Suite(.serialized)
struct BrokerControlSocketTests {
    /// A raw client: connects to 127.0.0.1:port, sends lines, reads one reply line per line.
    final class LineClient {
        let fd: Int32
        var pending: [UInt8] = []
        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(rc == 0)
        }
        private var open = true
        deinit { hangUp() }
        func hangUp() {
            if open { close(fd) }
            open = false
        }
        func send(_ text: String) {
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        func line() -> String {
            var buffer = [UInt8](repeating: 0, count: 1024)
            while !pending.contains(UInt8(ascii: "\n")) {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count <= 0 { return "<closed>" }
                pending.append(contentsOf: buffer[0..<count])
            }
            let newline = pending.firstIndex(of: UInt8(ascii: "\n"))!
            defer { pending.removeSubrange(...newline) }
            return String(decoding: pending[..<newline], as: UTF8.self)
        }
        func ask(_ command: String) -> String {
            send(command + "\n")
            return line()
        }
    }

    @Test func commandsOverARawSocketInjectFaults() throws {
        let broker = try EmbeddedBroker(.init(brokers: 2, partitions: 2, topics: ["ctl"]))
        let control = try BrokerControl(broker: broker, port: 0)
        defer { control.stop() }
        let client = try LineClient(port: control.port)
        let inspector = try KafkaInspector(bootstrap: broker.bootstrap)
        #expect(inspector.highWatermarkSum(topic: "ctl", timeoutMillis: 5000) == 0)

        #expect(client.ask("down 1") == "ok: broker 1 down")
        #expect(client.ask("down 2") == "ok: broker 2 down")
        // No broker answers: the watermark query fails.
        #expect(try KafkaInspector(bootstrap: broker.bootstrap).highWatermarkSum(topic: "ctl", timeoutMillis: 1500) == nil)
        #expect(client.ask("up 1") == "ok: broker 1 up")
        #expect(client.ask("up 2") == "ok: broker 2 up")
        #expect(try KafkaInspector(bootstrap: broker.bootstrap).highWatermarkSum(topic: "ctl", timeoutMillis: 10000) == 0)
        // `time`: the broker host's wall clock, the shards' clock reference (`--clock-ref`).
        let before = SystemClock().wallNanos()
        let timeReply = client.ask("time")
        let after = SystemClock().wallNanos()
        let reading = try #require(Int64(timeReply.replacingOccurrences(of: "ok: time ", with: "")), "\(timeReply)")
        #expect(reading >= before && reading <= after)

        // Two commands in one write, each answered in order.
        client.send("rtt 1 200ms\nerrors Produce NOT_LEADER_OR_FOLLOWER 5\n")
        #expect(client.line() == "ok: broker 1 RTT +200 ms")
        #expect(client.line() == "ok: next 5 Produce requests fail with NOT_LEADER_FOR_PARTITION")
        #expect(client.ask("clear Produce") == "ok: Produce errors cleared")
        #expect(client.ask("leader ctl 0 2") == "ok: leader of ctl/0 is broker 2")
        #expect(client.ask("leader ctl 99 2").hasPrefix("error: cannot move the leader of ctl/99"))
        #expect(client.ask("down 7").hasPrefix("error: '7' is not a broker (1…2)"))
        #expect(client.ask("help").hasPrefix("ok: commands: down B"))

        // Connections are served one at a time: when one closes, the next is served.
        client.hangUp()
        let second = try LineClient(port: control.port)
        #expect(second.ask("rtt 1 0") == "ok: broker 1 RTT +0 ms")
    }
}
