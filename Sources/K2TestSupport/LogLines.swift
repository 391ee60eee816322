import K2Core
import Logging
import Synchronization

/// The lines a `Logger` would print with k2's handler (`K2LogHandler`), collected in memory
/// instead of on stderr, stamped with a fixed wall time: hand `logger` to a configuration, then
/// read `lines`.
public final class LogLines: Sendable {
    private let collected = Mutex<[String]>([])
    /// The wall time every line is stamped with (ns since the epoch).
    public let wallNanos: Int64

    public init(wallNanos: Int64 = 1_764_979_200_000_000_000) {
        self.wallNanos = wallNanos
    }

    /// A logger whose lines land here.
    public func logger(label: String = "k2.test") -> Logger {
        let stamp = wallNanos
        return Logger(label: label) { label in
            K2LogHandler(label: label, write: { line in self.collected.withLock { $0.append(line) } }, wallNanos: { stamp })
        }
    }

    /// The lines so far, in order.
    public var lines: [String] { collected.withLock { $0 } }
}
