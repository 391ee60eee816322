import ArgumentParser
import K2Core

/// Runs a command body and turns any library error into one line on stderr and exit code 2,
/// the convention for bad input across k2.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
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
