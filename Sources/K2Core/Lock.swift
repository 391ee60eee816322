#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal mutex around `pthread_mutex_t`, usable from Swift 6 code without Foundation.
package final class Lock: @unchecked Sendable {
    // unchecked: the pthread mutex is the synchronisation, heap-allocated once, never moved.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Takes the lock if it is free (true), without waiting; pair with `unlock()`.
    package func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    /// Releases a lock taken with `tryLock()`.
    package func unlock() { pthread_mutex_unlock(mutex) }
}

/// One value shared between threads, read and replaced whole under a lock (the latest figure a
/// worker thread publishes for another to read).
package final class LockedValue<Value: Sendable>: @unchecked Sendable {
    // unchecked: `stored` is only touched under `lock`.
    private let lock = Lock()
    private var stored: Value

    package init(_ value: Value) { stored = value }

    package var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    /// Changes the value in place under the lock (read, modify, write as one step).
    package func mutate(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}
