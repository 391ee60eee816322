/// A value set once and waited for by other threads: a finished result, or a stop request that
/// a timed loop sleeps on (`Latch<Void>`). Built on `Condition` (monotonic waits); it replaces
/// semaphores (sem_t, DispatchSemaphore) where one side hands over once.
package final class Latch<Value: Sendable>: @unchecked Sendable {
    // unchecked: `value` is only read and written with `condition` locked.
    private let condition = Condition()
    private var value: Value?

    package init() {}

    /// Sets the value (the first call wins) and wakes every waiter.
    package func set(_ newValue: Value) {
        condition.withLock {
            if value == nil { value = newValue }
            condition.broadcast()
        }
    }

    /// The value once set, nil before.
    package var current: Value? { condition.withLock { value } }

    /// Waits until the value is set.
    package func wait() -> Value {
        condition.withLock {
            while true {
                if let value { return value }
                condition.wait()
            }
        }
    }

    /// Waits up to `timeoutNanos` (monotonic); the value, or nil when the time ran out first.
    package func wait(timeoutNanos: Int64) -> Value? {
        let deadline = SystemClock().monotonicNanos() + timeoutNanos
        return condition.withLock {
            while true {
                if let value { return value }
                let left = deadline - SystemClock().monotonicNanos()
                if left <= 0 { return nil }
                condition.wait(timeoutNanos: left)
            }
        }
    }
}

extension Latch where Value == Void {
    /// Sets the latch (for `Latch<Void>`, a stop request or a "done").
    package func set() { set(()) }
    /// Whether it has been set.
    package var isSet: Bool { current != nil }
}
