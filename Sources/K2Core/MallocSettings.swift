#if canImport(CMalloc)
import CMalloc
#endif

/// Process-wide allocator settings. Only the `k2` executable applies them (at start-up, before
/// any command runs); libraries never change the process's allocator.
package enum MallocSettings {
    /// Turns glibc's fastbins off (`mallopt(M_MXFAST, 0)`): freed small chunks go to the
    /// per-thread cache and the regular bins instead of the fast lists.
    ///
    /// Why: a Kafka replay at full speed allocates five chunks per message inside librdkafka
    /// (the message with its copied payload, the header list, its array, two headers) and frees
    /// them in batches of thousands when the delivery reports come back. With fastbins, glibc
    /// coalesces those batches (`malloc_consolidate`) and the next `malloc`s split them again:
    /// `_int_malloc` was 11% of the replay's samples. Measured on the bench's 305,160 messages,
    /// 12 alternating runs: wall median 0.500 → 0.400 s, CPU 0.77 → 0.64 s; other paths do not
    /// allocate per message and are unaffected (docs/sinks.md).
    package static func apply() {
        #if canImport(CMalloc)
        _ = mallopt(M_MXFAST, 0)
        #endif
    }
}
