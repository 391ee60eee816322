#if canImport(CJemalloc)
import CJemalloc
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The process's allocator: jemalloc, linked into the `k2` executable (libraries never choose
/// one), so that it serves every `malloc` of the process, librdkafka's included.
///
/// Why: a Kafka replay at full speed has librdkafka allocate six chunks per message (the message,
/// the header list, its array, three headers) and free them in batches of thousands when the
/// delivery reports come back. glibc's per-thread cache keeps 7 chunks per size, so nearly every
/// one of those `malloc`s and `free`s took glibc's slow path: ~2,100 of the replay's ~10,400
/// instructions per message (callgrind, `scripts/bench-kafka-insn.sh`). jemalloc's thread caches
/// absorb the batches (docs/sinks.md, "Allocator").
enum Allocator {
    /// "jemalloc 5.3.0-…" when jemalloc serves `malloc`, else what does ("glibc", or a warning
    /// that jemalloc is loaded but something earlier in the lookup order defines `malloc`).
    static let description: String = {
        #if canImport(CJemalloc)
        var version: UnsafePointer<CChar>?
        var length = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &length, nil, 0) == 0, let version else { return "glibc" }
        return servesMalloc ? "jemalloc \(String(cString: version))" : "glibc (jemalloc loaded, but not serving malloc)"
        #else
        return "the system's malloc"
        #endif
    }()

    #if canImport(CJemalloc)
    /// Whether the process's `malloc` (the first definition in the lookup order) is jemalloc's.
    private static var servesMalloc: Bool {
        guard let library = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD) else { return false }
        defer { dlclose(library) }
        let jemallocs = dlsym(library, "malloc")
        return jemallocs != nil && dlsym(nil, "malloc") == jemallocs  // nil: RTLD_DEFAULT
    }
    #endif
}
