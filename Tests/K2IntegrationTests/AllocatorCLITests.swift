import K2TestSupport
import Testing

/// The `k2` executable runs on jemalloc (docs/sinks.md, "Allocator"): the Kafka sink's cost per
/// message depends on it (librdkafka's per-message allocations, freed in batches by the delivery
/// reports, took glibc's slow path). A build that silently lost the link — the library missing,
/// a linker that drops unreferenced libraries, something earlier defining `malloc` — fails here.
@Suite struct AllocatorCLITests {
    @Test func k2RunsOnJemalloc() throws {
        let (status, out, err) = try Shell.execute("'\(try Built.k2())' --version")
        #expect(status == 0, "\(err)")
        #expect(out.contains("(allocator: jemalloc 5."), "\(out)")
    }
}
