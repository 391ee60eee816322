import Foundation
import K2Core

/// How far this host's wall clock is from a reference host's, measured the way NTP does over a
/// `LineServer` that answers `time` (`k2 bench clock`, or `k2 broker --control-port`): the
/// local clock is read before the request (t0) and after the reply (t3), the reference's reading
/// (t1) is taken to be from the middle of that round trip, so offset = t1 − (t0 + t3) / 2 and its
/// error is at most half the round trip. Of several exchanges the one with the shortest round
/// trip wins (least queueing in it). `k2 bench run --clock-ref` uses it so that shards on hosts
/// whose clocks differ still start together and their reports merge on one time line.
package enum ClockReference {
    /// One exchange: local wall clock before and after, the reference's reading in between.
    package struct Sample: Sendable, Equatable {
        package var localSentNanos: Int64
        package var referenceNanos: Int64
        package var localReceivedNanos: Int64
        package var roundTripNanos: Int64 { localReceivedNanos - localSentNanos }
        /// Reference minus local: add it to a local time to get the reference's time.
        package var offsetNanos: Int64 { referenceNanos - (localSentNanos + roundTripNanos / 2) }
    }

    /// The offset of this host's clock from the reference.
    package struct Measurement: Sendable, Equatable, Codable {
        /// The reference's address, HOST:PORT.
        package var reference: String
        /// Reference minus local, ms: a local time plus this is the reference's time.
        package var offsetMs: Double
        /// The round trip of the exchange used; the offset is within ± half of it.
        package var roundTripMs: Double
        /// Exchanges made.
        package var samples: Int
        package var offsetNanos: Int64 { Int64((offsetMs * 1e6).rounded()) }
    }

    /// The reply to `time`, after `ok: ` (the line servers' success prefix).
    static func timeReply(_ clock: any NanoClock) -> String { "time \(clock.wallNanos())" }

    /// The measurement from the exchange with the shortest round trip; nil without samples.
    package static func best(of samples: [Sample], reference: String) -> Measurement? {
        guard let shortest = samples.min(by: { $0.roundTripNanos < $1.roundTripNanos }) else { return nil }
        return Measurement(
            reference: reference, offsetMs: Double(shortest.offsetNanos) / 1e6,
            roundTripMs: Double(shortest.roundTripNanos) / 1e6, samples: samples.count)
    }

    /// HOST:PORT split, or nil when it is not one (port 1–65535).
    package static func parseAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
            let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        return (String(text[..<colon]), port)
    }

    /// Asks the reference at `address` (HOST:PORT) for its time `samples` times over one connection.
    package static func measure(
        address: String, samples: Int = 8, timeoutNanos: Int64 = 2_000_000_000,
        clock: any NanoClock = SystemClock()
    ) throws -> Measurement {
        let place = "--clock-ref \(address)"
        guard let (host, port) = parseAddress(address) else {
            throw ReplayError(
                .invalidArgument, place: place, what: "'\(address)' is not HOST:PORT",
                remedy: "give the address of a `k2 bench clock` (or `k2 broker --control-port`), e.g. 10.0.0.5:7070")
        }
        let client = try LineClient(host: host, port: port, timeoutNanos: timeoutNanos, place: place)
        var taken: [Sample] = []
        for _ in 0..<max(samples, 1) {
            let sent = clock.wallNanos()
            let reply = try client.ask("time")
            let received = clock.wallNanos()
            guard reply.hasPrefix("ok: time "), let reading = Int64(reply.dropFirst("ok: time ".count)) else {
                throw ReplayError(
                    .unreachable, place: place, what: "the reference answered '\(reply.prefix(80))', not its time",
                    remedy: "point --clock-ref at `k2 bench clock` or `k2 broker --control-port`")
            }
            taken.append(Sample(localSentNanos: sent, referenceNanos: reading, localReceivedNanos: received))
        }
        return best(of: taken, reference: address)!
    }

    /// `k2 bench clock`: a server answering `time` with this host's wall clock (`ok: time NANOS`).
    package static func serve(host: String, port: Int, clock: any NanoClock = SystemClock()) throws -> LineServer {
        try LineServer(host: host, port: port, place: "k2 bench clock") { line in
            line.lowercased() == "time" ? "ok: " + timeReply(clock) : "error: unknown request '\(line.prefix(40))' — this server answers `time` only"
        }
    }
}
