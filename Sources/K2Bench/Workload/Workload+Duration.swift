import K2Core

extension Workload {
    /// The workload with another measured duration (`k2 bench run --duration`, e.g. a soak run
    /// for 60 s to check it works). Throws when a fault or the burst would end after it.
    package func measuring(for nanos: Int64) throws -> Workload {
        guard nanos > 0 else {
            throw BenchError(.invalidArgument, path: path, what: "--duration must be above 0", remedy: "give e.g. 60s")
        }
        for fault in faults where fault.atNanos + fault.forNanos > nanos {
            throw BenchError(
                .invalidArgument, path: path,
                what:
                    "a fault at \(TimeText.humanDuration(nanos: fault.atNanos)) ends after the \(TimeText.humanDuration(nanos: nanos)) of --duration",
                remedy: "give a --duration of at least \(TimeText.humanDuration(nanos: fault.atNanos + fault.forNanos)), or leave it out")
        }
        if let burst, burst.atNanos + burst.lengthNanos > nanos {
            throw BenchError(
                .invalidArgument, path: path,
                what: "the burst ends after the \(TimeText.humanDuration(nanos: nanos)) of --duration",
                remedy: "give a --duration of at least \(TimeText.humanDuration(nanos: burst.atNanos + burst.lengthNanos)), or leave it out")
        }
        var shortened = self
        shortened.durationNanos = nanos
        return shortened
    }
}
