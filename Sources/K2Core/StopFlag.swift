import Synchronization

/// A flag set from any thread or a signal handler and read on hot paths at the cost of one
/// relaxed load (keep a reference in a local; no lock, no lazy-global check per read). Holds a
/// non-zero code once set: a signal number, or 1 for "asked to stop".
package final class StopFlag: Sendable {
    private let storage = Atomic<Int32>(0)

    package init() {}

    /// Sets the flag to `code` (non-zero) unless it is already set; async-signal-safe.
    /// Returns whether this call set it.
    @discardableResult
    package func set(_ code: Int32 = 1) -> Bool {
        storage.compareExchange(expected: 0, desired: code, ordering: .sequentiallyConsistent).exchanged
    }

    @inline(__always)
    package var isSet: Bool { storage.load(ordering: .relaxed) != 0 }

    /// The code it was set to, or nil.
    package var code: Int32? {
        let value = storage.load(ordering: .sequentiallyConsistent)
        return value != 0 ? value : nil
    }
}
