import Dispatch
import K2Core

#if canImport(Glibc)
import Glibc
#endif

/// Runs a handler on SIGINT and SIGTERM instead of dying, so a recorder can close its capture.
/// A second signal exits at once (status 130).
public enum SignalTrap {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    nonisolated(unsafe) private static var seen = 0

    public static func install(_ handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "k2.signals")
        for s in [SIGINT, SIGTERM] {
            signal(s, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: s, queue: queue)
            src.setEventHandler {
                seen += 1
                if seen > 1 { exit(130) }
                handler(s)
            }
            src.resume()
            sources.append(src)
        }
        StopSignals.unblock()
    }
}
