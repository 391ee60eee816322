import K2Core
import NIOCore
import NIOPosix

/// A SwiftNIO event loop group with a small API: run code on the loop, schedule timers, shut down.
///
/// Connections made with one `NetLoop` run their callbacks on its threads; with one thread
/// (the default) every callback of every connection runs on that thread, so state shared by
/// several connections (a capture writer) needs no lock.
package final class NetLoop: @unchecked Sendable {
    // unchecked: NIO event loop group (thread-safe); `isShutDown` under `shutdownLock`.
    let group: MultiThreadedEventLoopGroup
    /// The first loop of the group: where `execute` and timers run.
    let loop: any EventLoop
    private let shutdownLock = Lock()
    private var isShutDown = false

    package init(threads: Int = 1) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        loop = group.next()
    }

    deinit { shutdown() }

    /// True on the loop's thread.
    var inLoop: Bool { loop.inEventLoop }

    /// Runs `body` on the loop (soon, never inline).
    package func execute(_ body: @escaping @Sendable () -> Void) {
        loop.execute(body)
    }

    /// Runs `body` on the loop after `nanos` nanoseconds.
    @discardableResult
    package func schedule(afterNanos nanos: Int64, _ body: @escaping @Sendable () -> Void) -> NetTimer {
        NetTimer(scheduled: loop.scheduleTask(in: .nanoseconds(max(0, nanos)), body))
    }

    /// Runs `body` on the loop every `nanos` nanoseconds (first run after `nanos`) until cancelled.
    @discardableResult
    package func scheduleRepeating(everyNanos nanos: Int64, _ body: @escaping @Sendable () -> Void) -> NetTimer {
        NetTimer(repeated: loop.scheduleRepeatedTask(initialDelay: .nanoseconds(nanos), delay: .nanoseconds(nanos)) { _ in body() })
    }

    /// Runs `body` on the loop and waits for its result. Must not be called on the loop.
    package func sync<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        precondition(!loop.inEventLoop, "NetLoop.sync called on its own loop")
        return try loop.submit(body).wait()
    }

    /// Stops the threads. Open connections are dropped; call after closing them.
    package func shutdown() {
        let first = shutdownLock.withLock { () -> Bool in
            if isShutDown { return false }
            isShutDown = true
            return true
        }
        guard first else { return }
        if group.makeIterator().contains(where: { $0.inEventLoop }) {
            // On one of our own threads (e.g. the last reference dropped in a callback): shut down asynchronously.
            group.shutdownGracefully { _ in }
        } else {
            try? group.syncShutdownGracefully()
        }
    }
}

/// A scheduled or repeating task on a `NetLoop`.
package final class NetTimer: Sendable {
    private let scheduled: Scheduled<Void>?
    private let repeated: RepeatedTask?

    init(scheduled: Scheduled<Void>) {
        self.scheduled = scheduled
        self.repeated = nil
    }

    init(repeated: RepeatedTask) {
        self.scheduled = nil
        self.repeated = repeated
    }

    package func cancel() {
        scheduled?.cancel()
        repeated?.cancel()
    }
}

/// K2Core's `Lock` re-exported under the name the module uses.
