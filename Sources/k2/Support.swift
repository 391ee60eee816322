import ArgumentParser
import K2Bench
import K2Core
import K2Net

/// Runs a command body and turns any library error into one line on stderr, `k2: ` and the
/// error's line, and its exit code: a `K2Error`'s own (2 for bad input, 1 for a failure part-way
/// through the work), 2 for any other error. The one place the CLI maps errors (docs/errors.md).
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as CleanExit {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch {
        throw ExitCode(reportedExitCode(error))
    }
}

/// Prints `error` as its one line (`k2: place: what — remedy`) on stderr and returns the exit
/// code it maps to: a `K2Error`'s own, 2 for any other error.
func reportedExitCode(_ error: any Error) -> Int32 {
    StdErr.print("k2: \(error)")
    return (error as? any K2Error)?.exitCode ?? 2
}

/// `--metrics-port`: serves live Prometheus metrics on 127.0.0.1 and prints
/// `announcement` followed by the URL on stderr; nil without the flag.
func startMetricsServer(port: Port<AnyFreePort>?, announcement: String) throws -> MetricsServer? {
    guard let port else { return nil }
    let server = try MetricsServer(port: port.number)
    StdErr.print(announcement + "http://127.0.0.1:\(server.port)/metrics")
    return server
}

/// The time part of a default report folder name (`reports/runs/NAME-20240301T120000Z`).
func reportFolderStamp() -> String {
    TimeText.iso8601(nanos: SystemClock().wallNanos(), fractionDigits: 0)
        .replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
}
