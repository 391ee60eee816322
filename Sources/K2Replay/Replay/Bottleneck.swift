import K2Core

/// What limited a throughput or latency figure: k2 itself (the harness) or the system under
/// test. A load generator that saturates itself reports its own limits as the system's; every
/// replay summary, bench report and sweep step carries this label with its evidence. One
/// classifier (`Bottleneck.classify`) serves all of them.
package enum Bottleneck: String, Sendable, Codable, Equatable {
    /// The harness limited the figure: it fell behind its schedule (CPU, scheduling, its own
    /// cost per message) while no sink pushed back, or at max speed it went as fast as it could.
    case harness = "harness-bound"
    /// The system limited the figure: a sink pushed back (the sending thread waited for room),
    /// or the destination delivered less than it was sent; or the harness kept its schedule,
    /// so what was measured is the system's.
    case system = "system-bound"

    /// The facts the label is decided from, for one window (a run, an interval, a sweep step).
    package struct Evidence: Sendable, Equatable {
        /// Share of the window the sending thread spent blocked inside a sink waiting for room
        /// (librdkafka's queue full, ClickHouse's pending batches); nil when not measured.
        package var blockedFraction: Double?
        /// The sender fell behind its schedule (lateness p99 over the budget, or sent short of offered).
        package var behindSchedule: Bool
        /// The destination delivered short of what it was sent (a backlog that grows).
        package var deliveredShort: Bool
        /// No schedule (`--speed max`): the sender went as fast as it could.
        package var unpaced: Bool
        /// The figures behind the booleans, as text ("lateness p99 4.1 ms > budget 1 ms", …).
        package var facts: [String]

        package init(blockedFraction: Double?, behindSchedule: Bool, deliveredShort: Bool, unpaced: Bool, facts: [String]) {
            self.blockedFraction = blockedFraction
            self.behindSchedule = behindSchedule
            self.deliveredShort = deliveredShort
            self.unpaced = unpaced
            self.facts = facts
        }
    }

    /// A sink that held the sending thread at least this share of the window pushed back: the
    /// system is what limited the rate (time blocked there is time the harness could not send).
    package static let blockedShare = 0.10

    /// Decides the label, in this order: a sink pushed back → system; the sender fell behind
    /// its schedule (nothing pushed back) → harness; the destination delivered short → system;
    /// no schedule → harness (k2's own speed is the figure); else the harness kept its schedule
    /// → system. Returns the label and the one-line reason with the evidence.
    package static func classify(_ evidence: Evidence) -> (bound: Bottleneck, reason: String) {
        let facts = evidence.facts.isEmpty ? "" : " (" + evidence.facts.joined(separator: "; ") + ")"
        if let blocked = evidence.blockedFraction, blocked >= blockedShare {
            return (.system, "a sink pushed back: the sending thread waited for it \(percent(blocked)) of the time" + facts)
        }
        if evidence.behindSchedule {
            return (.harness, "the harness fell behind its schedule while no sink pushed back" + facts)
        }
        if evidence.deliveredShort {
            return (.system, "the destination delivered less than it was sent" + facts)
        }
        if evidence.unpaced {
            return (.harness, "no schedule: k2 sent as fast as it could and nothing pushed back" + facts)
        }
        return (.system, "the harness kept its schedule, so the figures are the system's" + facts)
    }

    static func percent(_ share: Double) -> String { TimeText.fixed(share * 100, 1) + " %" }
}
