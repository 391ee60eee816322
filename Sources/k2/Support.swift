import ArgumentParser
import K2Bench
import K2Core
import K2Net

/// Runs a command body and turns any library error into one line on stderr and exit code 2,
/// the convention for bad input across k2.
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
        StdErr.print("k2: \(error)")
        throw ExitCode(2)
    }
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
