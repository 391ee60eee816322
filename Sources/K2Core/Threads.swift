#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex with a condition variable (heap-allocated, address-stable), waits on the monotonic clock.
package final class Condition: @unchecked Sendable {
    // unchecked: the pthread mutex and cond are the synchronisation, heap-allocated once, never moved.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cv = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        mutex.initialize(to: pthread_mutex_t())
        cv.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        #if os(Linux)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(cv, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cv)
        pthread_mutex_destroy(mutex)
        cv.deallocate()
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }
    /// Waits for a broadcast; call with the lock held.
    package func wait() { pthread_cond_wait(cv, mutex) }
    /// Waits for a broadcast or `timeoutNanos`; call with the lock held.
    package func wait(timeoutNanos: Int64) {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let total = Int64(ts.tv_nsec) + timeoutNanos
        ts.tv_sec += Int(total / 1_000_000_000)
        ts.tv_nsec = Int(total % 1_000_000_000)
        pthread_cond_timedwait(cv, mutex, &ts)
    }
    package func broadcast() { pthread_cond_broadcast(cv) }

    @inline(__always)
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// The one thread wrapper of k2: a POSIX thread (no Foundation). `start` runs `body` on a new
/// thread and `join` waits for it; `detach` for threads nobody waits for.
package final class JoinableThread: @unchecked Sendable {
    // unchecked: `thread` is written once before `start` returns; `join` is called by one owner.
    private var thread = pthread_t()
    private var joined = false
    /// Set when the body has returned.
    private let finished = Latch<Void>()

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private init() {}

    /// Starts `body` on a new thread (with a stack of `stackBytes` when given, the system's
    /// default otherwise), or returns nil when the system refuses one.
    package static func start(stackBytes: Int? = nil, _ body: @escaping @Sendable () -> Void) -> JoinableThread? {
        let joinable = JoinableThread()
        let finished = joinable.finished
        let ctx = Unmanaged.passRetained(
            Box {
                body()
                finished.set()
            }
        ).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if let stackBytes { pthread_attr_setstacksize(&attributes, stackBytes) }
        let rc = pthread_create(
            &joinable.thread, &attributes,
            { arg in
                guard let arg else { return nil }
                Unmanaged<Box>.fromOpaque(arg).takeRetainedValue().body()
                return nil
            }, ctx)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(ctx).release()
            return nil
        }
        return joinable
    }

    /// Starts `body` on a new thread nobody joins (it ends with the body, or with the process);
    /// false when the system refuses one.
    @discardableResult
    static func detach(_ body: @escaping @Sendable () -> Void) -> Bool {
        guard let thread = start(body) else { return false }
        thread.joined = true
        pthread_detach(thread.thread)
        return true
    }

    /// Whether the body has returned.
    package var isFinished: Bool { finished.isSet }

    /// Waits up to `timeoutNanos` for the body to return, then joins; false (not joined) when
    /// the time ran out first.
    @discardableResult
    package func join(timeoutNanos: Int64) -> Bool {
        guard finished.wait(timeoutNanos: timeoutNanos) != nil else { return false }
        join()
        return true
    }

    /// Waits until the thread's body has returned (once; later calls return at once).
    package func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }
}
