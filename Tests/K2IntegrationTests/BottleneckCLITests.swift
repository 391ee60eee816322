import K2Core
import K2TestSupport
import Testing

/// `k2 replay --report`: the summary says whether the run was harness-bound or system-bound,
/// on real processes. A `mock://?capacity=500` offered 4,000 msg/s is system-bound (the sink
/// pushes back whatever the machine's load). A harness starved — pinned to CPU 0 at nice 15 next
/// to a busy loop on CPU 0, so it gets ~3 % of that CPU — offered 20,000 msg/s into a mock with
/// no limit is harness-bound: nothing pushes back, it falls behind its schedule and the evidence
/// says it waited for a CPU (~90 %). (With the capacity-500 mock, a starved debug build could
/// still reach 500 msg/s on a loaded machine, get pushed back, and be called system-bound.)
@Suite(.serialized, .timeLimit(.minutes(2)))
struct BottleneckCLITests {
    let dir = TemporaryDirectory()

    /// Replays the sample capture for a few seconds (SIGINT ends it with a summary; the starved
    /// process needs longer to start) and returns summary.json.
    func replay(starved: Bool) throws -> JSONValue {
        let k2 = try Built.k2()
        let report = dir.file(starved ? "starved" : "free")
        let command =
            "timeout -s INT \(starved ? 6 : 3) '\(k2)' replay '\(Built.root)/captures/binance-sample.k2cap' "
            + (starved ? "--sink mock:// --rate 20000" : "--sink 'mock://?capacity=500' --rate 4000") + " --quiet --report '\(report)'"
        let script =
            starved
            ? "taskset -c 0 sh -c 'while :; do :; done' & busy=$!; trap 'kill $busy' EXIT; taskset -c 0 nice -n 15 \(command)"
            : command
        let (_, _, stderr) = try Shell.execute(script)
        #expect(stderr.contains("bound: "), "\(stderr)")
        return try JSONParser.parse(try Shell.run("cat '\(report)/summary.json'"))
    }

    @Test func aSlowDestinationIsSystemBoundAndAStarvedHarnessIsHarnessBound() throws {
        let free = try replay(starved: false)
        #expect(free["harness"]?["bound"]?.stringValue == "system-bound", "\(free["harness"].map { "\($0)" } ?? "no harness")")
        let starved = try replay(starved: true)
        let harness = try #require(starved["harness"])
        #expect(harness["bound"]?.stringValue == "harness-bound", "\(harness)")
        #expect(harness["reason"]?.stringValue?.contains("fell behind its schedule") == true)
        #expect(harness["reason"]?.stringValue?.contains("waited for a CPU") == true, "\(harness)")
    }
}
