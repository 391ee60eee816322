import K2Core
import K2Net

/// An exchange fault the `ws://` sink can play, as a venue misbehaves toward its clients (a
/// workload's `target: exchange` faults, docs/workloads.md). Counts apply to the next routed
/// messages (ones some client subscribed to or could); control frames are never touched.
package enum ExchangeFault: Sendable, Equatable {
    /// Every client's TCP connection is cut without a close frame (a one-off). Those clients no
    /// longer count for delivery: a feed handler is expected to reconnect and subscribe again.
    case disconnect
    /// Nothing is written until `endStall`; the messages are held and then sent in one burst.
    case stall
    /// The next `count` messages are not sent (a sequence gap); each counts as unrouted.
    case gap(count: Int)
    /// The next `count` messages are sent twice.
    case duplicate(count: Int)
    /// The next `count` pairs of messages are sent in swapped order.
    case reorder(count: Int)
    /// A broken frame (not one whole JSON value) goes before each of the next `count` messages.
    case malformed(count: Int)

    package var description: String {
        switch self {
        case .disconnect: "exchange drops every client"
        case .stall: "exchange stalls"
        case let .gap(count): "exchange skips \(count) message(s)"
        case let .duplicate(count): "exchange sends \(count) message(s) twice"
        case let .reorder(count): "exchange swaps \(count) pair(s) of messages"
        case let .malformed(count): "exchange sends \(count) malformed frame(s)"
        }
    }
}

/// One message with its route, as the loop delivers it.
struct RoutedMessage: Sendable {
    var payload: [UInt8]
    var key: String
    var intendedNanos: Int64
    var actualNanos: Int64
}

extension WebSocketSink {
    /// Plays `fault` from the next message on; `disconnect` cuts the clients now. Thread-safe.
    package func inject(_ fault: ExchangeFault) {
        guard let server else { return }
        server.loop.execute { [self] in
            if fault == .disconnect {
                let cut = self.lock.withLock { () -> [WebSocketConnection] in
                    self.faults.counts.disconnected += 1
                    var connections: [WebSocketConnection] = []
                    for client in self.clients where !client.gone && !client.retired {
                        client.retired = true
                        if let connection = client.connection { connections.append(connection) }
                    }
                    return connections
                }
                for connection in cut { connection.abort() }
            } else {
                self.lock.withLock { self.faults.begin(fault) }
            }
        }
    }

    /// Ends a `stall`: the held messages go out in order, at once.
    package func endStall() {
        guard let server else { return }
        server.loop.execute { [self] in
            for delivery in self.lock.withLock({ self.faults.endStall() }) { self.deliver(delivery) }
        }
    }

    /// The exchange faults in force and what they did; pure state, under the sink's lock.
    struct FaultState {
        /// What to do with one message now.
        struct Delivery {
            var message: RoutedMessage
            /// Not sent on purpose (a gap).
            var withheld = false
            var copies = 1
            var malformedFirst = false
        }

        struct Counts {
            var withheld = 0
            var duplicated = 0
            var reordered = 0
            var malformed = 0
            var stalled = 0
            var disconnected = 0
            var json: JSONValue {
                .object([
                    ("gap_withheld", .number(String(withheld))), ("duplicated", .number(String(duplicated))),
                    ("reordered_pairs", .number(String(reordered))), ("malformed_frames", .number(String(malformed))),
                    ("held_by_stalls", .number(String(stalled))), ("disconnects", .number(String(disconnected))),
                ])
            }
        }

        /// A frame no venue sends: JSON cut short.
        static let malformedFrame: [UInt8] = Array(#"{"k2_fault":"malformed","#.utf8)

        var counts = Counts()
        private var gapLeft = 0
        private var duplicateLeft = 0
        private var reorderLeft = 0
        private var malformedLeft = 0
        private var stalled = false
        private var stallQueue: [(message: RoutedMessage, seen: Bool)] = []
        /// The first of a pair being swapped, sent after the next message.
        private var held: RoutedMessage?

        mutating func begin(_ fault: ExchangeFault) {
            switch fault {
            case .disconnect: break
            case .stall: stalled = true
            case let .gap(count): gapLeft += count
            case let .duplicate(count): duplicateLeft += count
            case let .reorder(count): reorderLeft += count
            case let .malformed(count): malformedLeft += count
            }
        }

        /// Whether any fault is in force (else every message goes as it is).
        var active: Bool { stalled || held != nil || gapLeft > 0 || duplicateLeft > 0 || reorderLeft > 0 || malformedLeft > 0 }

        /// What to deliver now for `message`, in order (nothing while it is held). `seen`: a
        /// connected client subscribed to it; the counted faults skip the others.
        mutating func admit(_ message: RoutedMessage, seen: Bool) -> [Delivery] {
            if stalled {
                stallQueue.append((message, seen))
                counts.stalled += 1
                return []
            }
            return shape(message, seen: seen)
        }

        private mutating func shape(_ message: RoutedMessage, seen: Bool) -> [Delivery] {
            guard seen else { return [Delivery(message: message)] }
            if gapLeft > 0 {
                gapLeft -= 1
                counts.withheld += 1
                return [Delivery(message: message, withheld: true)]
            }
            if reorderLeft > 0 {
                guard let first = held else {
                    held = message
                    return []
                }
                held = nil
                reorderLeft -= 1
                counts.reordered += 1
                return [decorate(message), decorate(first)]
            }
            return [decorate(message)]
        }

        private mutating func decorate(_ message: RoutedMessage) -> Delivery {
            var delivery = Delivery(message: message)
            if duplicateLeft > 0 {
                duplicateLeft -= 1
                counts.duplicated += 1
                delivery.copies = 2
            }
            if malformedLeft > 0 {
                malformedLeft -= 1
                counts.malformed += 1
                delivery.malformedFirst = true
            }
            return delivery
        }

        /// Ends a stall: the held messages, shaped by any other fault in force.
        mutating func endStall() -> [Delivery] {
            stalled = false
            let queue = stallQueue
            stallQueue = []
            return queue.flatMap { shape($0.message, seen: $0.seen) }
        }

        /// At the end of the replay: whatever a stall or a swap still holds, in order.
        mutating func release() -> [Delivery] {
            var out = endStall()
            if let first = held {
                held = nil
                out.append(Delivery(message: first))
            }
            return out
        }
    }
}
