import Foundation
import K2Capture
import K2Config
import K2TestSupport
import Testing

@testable import K2Bench

@Suite struct WorkloadTests {
    static let root = TargetsTests.repoRoot

    func expectError(_ text: String, _ prefix: String, _ contains: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try WorkloadLoader.parse(text, file: "w.yaml", checkFiles: true)
            Issue.record("no error for \(contains)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description.hasPrefix(prefix), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains(contains), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func shippedWorkloadsParse() throws {
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(Self.root)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        for name in ["ci", "v2-pipeline", "v1-burst"] {
            let workload = try WorkloadLoader.load(file: "reports/workloads/\(name).yaml")
            #expect(workload.name == name)
            #expect(!workload.sinks.isEmpty)
            #expect(workload.targets == "reports/targets/k2-v2.yaml")
        }
        let ci = try WorkloadLoader.load(file: "reports/workloads/ci.yaml")
        #expect(ci.pace == .rate(5_000))
        #expect(ci.repetitions == 3)
        #expect(ci.reference == .zstd)
        #expect(ci.warmupNanos + Int64(ci.repetitions) * ci.durationNanos <= 60_000_000_000)
    }

    @Test func defaults() throws {
        let tmp = TemporaryDirectory()
        let cap = tmp.file("a.k2cap")
        _ = FileManager.default.createFile(atPath: cap, contents: Data())
        let workload = try WorkloadLoader.parse("source: {captures: [\(cap)]}\n", file: tmp.file("x.yaml"))
        #expect(workload.name == "x")
        #expect(workload.pace == .speed(1))
        #expect(workload.durationNanos == 30_000_000_000 && workload.warmupNanos == 0)
        #expect(workload.sinks == [Workload.SinkSpec(uri: "mock://")])
        #expect(workload.repetitions == 1 && workload.watch.harness && workload.watch.intervalNanos == 1_000_000_000)
        #expect(workload.probes.intervalNanos == 0 && workload.consumer == nil && workload.targets == nil)
        #expect(workload.source == .captures([cap], loop: true))
    }

    @Test func unknownKeyNamesFileLineAndKey() {
        expectError("source: {profile: calm}\nduraton: 10s\n", "w.yaml:2:1: unknown key 'duraton'", "did you mean 'duration'?")
        expectError("source:\n  profile: calm\n  sed: 3\n", "w.yaml:3:3: unknown key 'source.sed'", "did you mean 'seed'?")
        expectError("source: {profile: calm}\nwatch:\n  procs: [x]\n", "w.yaml:3:3: unknown key 'watch.procs'", "allowed here")
    }

    @Test func wrongTypeNamesFileLineAndKey() {
        expectError("source: {profile: calm}\nduration: soon\n", "w.yaml:2:", "key 'duration' must be a duration")
        expectError("source: {profile: calm}\nrepetitions: 2.5\n", "w.yaml:2:", "key 'repetitions' must be a whole number, not '2.5'")
        expectError("source: {profile: calm}\nrate: fast\n", "w.yaml:2:", "key 'rate' must be a positive rate")
        expectError("source: {profile: calm}\nsinks: {uri: mock://}\n", "w.yaml:2:", "key 'sinks' must be a list")
        expectError("source: {profile: calm}\nwatch: [a]\n", "w.yaml:2:", "key 'watch' must be a mapping")
        expectError("source: {profile: calm}\nspeed: 2\nrate: 5k\n", "w.yaml:3:", "either speed or rate")
    }

    /// Numbers the harness cannot run with are one error each, never a trap later (issue 17).
    @Test func outOfRangeNumbersNameTheRange() {
        expectError("source: {profile: calm}\nrate: 1e30\n", "w.yaml:2:7:", "key 'rate' must be from 0.001 to 1000000000, not '1e30'")
        expectError("source: {profile: calm}\nrate: nan\n", "w.yaml:2:7:", "key 'rate' must be a positive rate")
        expectError("source: {profile: calm}\nspeed: 1e30\n", "w.yaml:2:", "'1e30' is not a speed")
        expectError("source: {profile: calm}\nduration: 100000d\n", "w.yaml:2:11:", "key 'duration' must be from 0s to 365d")
        expectError("source: {profile: calm}\nrepetitions: 1e20\n", "w.yaml:2:", "key 'repetitions' must be a whole number")
        expectError("source: {profile: calm}\nrepetitions: 0\n", "w.yaml:2:", "key 'repetitions' must be from 1 to 100, not '0'")
        expectError("source: {profile: calm}\nembedded: {partitions: 100000}\n", "w.yaml:2:", "key 'embedded.partitions' must be from 1 to 256")
        expectError("source: {profile: calm, seed: -1}\n", "w.yaml:1:", "key 'source.seed' must be a whole number ≥ 0")
        expectError("source: {profile: calm}\nwatch: {interval: 1ms}\n", "w.yaml:2:", "key 'watch.interval' must be from 10ms to 1d")
    }

    @Test func missingCaptureNamesFileLineAndKey() {
        expectError(
            "name: x\nsource:\n  captures: [/nonexistent/a.k2cap]\n", "w.yaml:3:",
            "key 'source.captures': capture '/nonexistent/a.k2cap' does not exist")
        expectError("name: x\n", "w.yaml:1:", "missing key 'source'")
        expectError("source: {}\n", "w.yaml:1:", "missing key 'source.captures'")
    }

    @Test func ratesAndSpeeds() throws {
        #expect(StrictMap.parseRate("5k") == 5000)
        #expect(StrictMap.parseRate("1.5M") == 1_500_000)
        #expect(StrictMap.parseRate("10_000 msg/s") == 10_000)
        #expect(try WorkloadLoader.parse("source: {profile: calm}\nspeed: 10x\n", checkFiles: false).pace == .speed(10))
        #expect(try WorkloadLoader.parse("source: {profile: calm}\nspeed: max\n", checkFiles: false).pace == .max)
        let workload = try WorkloadLoader.parse(
            """
            source: {profile: calm, seed: 7}
            sinks:
              - mock://
              - {uri: "kafka://embedded?topic=t", acks: all}
            """, checkFiles: false)
        #expect(workload.source == .profile("calm", seed: 7))
        #expect(workload.sinks[1].options == ["acks": "all"])
    }

    /// A workload whose capture has a damaged frame mid-file fails with it named, instead of
    /// reporting a partial replay as a run.
    @Test func aDamagedCaptureFrameFailsTheRun() throws {
        let tmp = TemporaryDirectory()
        let cap = tmp.file("damaged.k2cap")
        try SampleTraffic(seed: 5).write(to: cap, count: 3_000, options: .init(blockSize: 16 * 1024))
        let frame = try CaptureReader(path: cap).index().entries[3]
        let fd = open(cap, O_WRONLY)
        let garbage: [UInt8] = [0xde, 0xad, 0xbe, 0xef]
        #expect(pwrite(fd, garbage, 4, off_t(frame.offset + Int64(frame.compressedSize / 2))) == 4)
        close(fd)
        let workload = try WorkloadLoader.parse(
            """
            name: damaged
            source: {captures: [\(cap)], loop: false}
            speed: max
            duration: 5s
            sinks: [mock://]
            """, file: tmp.file("w.yaml"))
        do {
            _ = try WorkloadRun.run(workload)
            Issue.record("a damaged capture gave a run")
        } catch let error as BenchError {
            #expect(error.description.contains("the replay stopped at a damaged capture frame: \(cap) at byte \(frame.offset): "), "\(error)")
            #expect(error.description.contains("k2 capture verify"), "\(error)")
        }
    }
}
