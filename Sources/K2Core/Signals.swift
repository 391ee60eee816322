#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small pieces shared by the commands that stop cleanly on SIGINT/SIGTERM.
public enum StopSignals {
    /// Unblocks SIGINT and SIGTERM on the calling thread (and so on the threads it starts
    /// afterwards). A process inherits its parent's signal mask across exec; under a parent
    /// that blocks the two (test runners, some supervisors) a handler would never run and
    /// Ctrl-C would stay pending until the process ends by itself.
    public static func unblock() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
