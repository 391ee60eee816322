import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one stop-signal policy of k2's long-running commands (record, replay, sim run,
/// sim exchange), described in docs/signals.md:
///
/// - the first SIGINT or SIGTERM asks the command to stop: it finishes cleanly (closes files,
///   flushes sinks, writes its summary) and exits with its own documented code;
/// - another signal at least `graceNanos` after the first exits at once with 128 + the first
///   signal's number; signals within that second are ignored, because
///   `timeout -s INT 5 k2 …` delivers its signal twice (to the child, then to its process
///   group), and exiting on the second delivery lost the summary.
package enum StopSignals {
    /// The first stop signal's number once one arrived. Read it on hot paths (one load).
    package static let received = StopFlag()
    /// A later signal exits at once only this long after the first (ns).
    package static let graceNanos: Int64 = 1_000_000_000
    /// Monotonic ns of the first stop signal.
    private static let firstAt = Atomic<Int64>(0)
    /// The write end of the pipe the handler wakes the `onStop` thread through, or -1.
    private static let wakeFD = Atomic<Int32>(-1)
    private static let installLock = Lock()
    nonisolated(unsafe) private static var installed = false

    /// Installs the SIGINT and SIGTERM handlers (async-signal-safe: atomic word stores,
    /// `clock_gettime`, `write`, `_exit`) and unblocks the two signals on the calling thread.
    /// `onStop`, when given, runs once on a thread of its own with the first signal's number.
    /// Call it before starting the threads that do the work: they inherit the signal mask.
    package static func install(onStop: (@Sendable (Int32) -> Void)? = nil) {
        installLock.withLock {
            if let onStop {
                var fds: [Int32] = [0, 0]
                if pipe(&fds) == 0 {
                    let readFD = fds[0]
                    wakeFD.store(fds[1], ordering: .sequentiallyConsistent)
                    _ = JoinableThread.start {
                        var byte: UInt8 = 0
                        while read(readFD, &byte, 1) < 0 && errno == EINTR {}
                        onStop(received.code ?? SIGTERM)
                    }
                }
            }
            guard !installed else { return }
            installed = true
            // Touch the globals here: the handler must not be the first to initialise them.
            _ = received.isSet
            _ = firstAt.load(ordering: .relaxed)
            _ = wakeFD.load(ordering: .relaxed)
            let handler: @convention(c) (Int32) -> Void = { signalNumber in
                var ts = timespec()
                clock_gettime(CLOCK_MONOTONIC, &ts)
                let now = Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
                if let first = StopSignals.received.code {
                    if now &- StopSignals.firstAt.load(ordering: .sequentiallyConsistent) >= StopSignals.graceNanos { _exit(128 + first) }
                    return
                }
                StopSignals.firstAt.store(now, ordering: .sequentiallyConsistent)
                StopSignals.received.set(signalNumber)
                let fd = StopSignals.wakeFD.load(ordering: .sequentiallyConsistent)
                if fd >= 0 {
                    var byte: UInt8 = 1
                    _ = write(fd, &byte, 1)
                }
            }
            signal(SIGINT, handler)
            signal(SIGTERM, handler)
        }
        unblock()
    }

    /// Unblocks SIGINT and SIGTERM on the calling thread (and so on the threads it starts
    /// afterwards). A process inherits its parent's signal mask across exec; under a parent
    /// that blocks the two (test runners, some supervisors) a handler would never run and
    /// Ctrl-C would stay pending until the process ends by itself.
    static func unblock() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
