/// What the replay engine reads: records in receive-time order, one at a time, each a view
/// (`CaptureRecord`) valid until the next call. Captures are read through the engine's own
/// capture source (built from `ReplayConfig.files`); other producers — K2Sim's generator, which
/// makes the records as they are needed — conform and are handed in through `ReplayConfig.source`.
///
/// The engine calls a source from its one sending thread only, in this order: `rewind()` before
/// every round (the first too), then `next()` until it returns nil. Per record a source should
/// allocate nothing (the engine's loop does not): hand out views into buffers it reuses.
/// The engine's loop is generic over the source, so a conforming class is called directly,
/// not through an existential, when the concrete type is known.
package protocol ReplaySource: AnyObject {
    /// The next record, nil at the end of the round.
    func next() throws -> CaptureRecord?
    /// Back to the first record (for `--loop`; also called before the first round).
    func rewind() throws
    /// How far round k's capture times are shifted per round (ns, ≥ 1): at least the last − first
    /// receive time, so rounds never overlap.
    var span: Int64 { get }
    /// The venue of the record `next` returned last (`ReplayMessage.exchange`).
    var exchange: String { get }
    /// The venue of every record, when the source has only one (read once per run); nil when
    /// it varies, and `exchange` is then read per record.
    var singleExchange: String? { get }
}

/// Makes the `ReplaySource` of a run, on the engine's sending thread, before any sink opens
/// (so a source that cannot start fails the run before anything is sent, as an unreadable
/// capture does). `name` stands for the input in the summary (where capture paths go).
package struct ReplaySourceFactory: Sendable {
    package var name: String
    package var make: @Sendable () throws -> any ReplaySource

    package init(name: String, make: @escaping @Sendable () throws -> any ReplaySource) {
        self.name = name
        self.make = make
    }
}
