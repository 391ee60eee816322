import Foundation
import Testing

@testable import K2Bench

@Suite struct TargetsTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func shippedTargetsFileHoldsEveryPlatformNumberWithItsSource() throws {
        let targets = try TargetsLoader.load(file: Self.repoRoot + "/reports/targets/k2-v2.yaml")
        #expect(targets.documents.map(\.id) == ["000", "001", "002", "003", "004"])
        let p99 = try #require(targets.figure("latency-p99"))
        #expect(p99.v1?.value == 5000)
        #expect(p99.v2 == Bound(op: .lt, value: 1000, source: p99.v2!.source))
        #expect(p99.unit == "ms" && p99.better == .lower)
        let p50 = try #require(targets.figure("latency-p50"))
        #expect(p50.v2?.op == .lt && p50.v2?.value == 500)
        #expect(targets.figure("cpu-steady")?.v2?.value == 15.5)
        #expect(targets.figure("cpu-peak")?.v2?.value == 16)
        #expect(targets.figure("ram-steady")?.v2?.value == 19.5)
        #expect(targets.figure("ram-peak")?.v2?.value == 40)
        #expect(targets.figure("services")?.v2?.value == 11)
        #expect(
            targets.figure("ingestion-throughput")?.v1
                == Baseline(value: nil, min: 5000, max: 10000, source: targets.figure("ingestion-throughput")!.v1!.source))
        #expect(targets.figure("consumer-throughput")?.v1?.value == 138)
        #expect(targets.figure("burst-throughput")?.v2?.value == 50000)
        #expect(targets.figure("scale-target")?.v2?.value == 1_000_000)
        #expect(targets.figure("api-p99")?.v1?.value == 681)
        #expect(targets.figure("uptime")?.v1?.value == 99.5)
        // The three latency claims are recorded as claims, not targets.
        #expect(targets.claims.map(\.text) == ["6x faster", "10-1000x", "1000x"])
        #expect(targets.claims[1].factorMin == 10 && targets.claims[1].factorMax == 1000)
        // Every number carries a source document.
        for figure in targets.figures {
            if let v1 = figure.v1 { #expect(!v1.source.documents.isEmpty, "\(figure.id) v1") }
            if let v2 = figure.v2 { #expect(!v2.source.documents.isEmpty, "\(figure.id) v2") }
        }
    }

    @Test func unknownKeyIsAnErrorWithFileLineAndKey() {
        let text = """
            schema: 1
            documents:
              - {id: "000", file: a.txt, title: A}
            figures:
              - id: x
                unit: ms
                bettr: lower
            """
        #expect(throws: BenchError.self) { try TargetsLoader.parse(text, file: "t.yaml") }
        do {
            _ = try TargetsLoader.parse(text, file: "t.yaml")
        } catch {
            #expect(error.description.hasPrefix("t.yaml:7:5: unknown key 'figures[0].bettr'"))
            #expect(error.description.contains("did you mean 'better'?"))
        }
    }

    @Test func wrongTypeAndUnknownSourceAreErrors() {
        let bad1 = """
            documents: [{id: "000"}]
            figures:
              - {id: x, unit: ms, v1: {value: fast, source: "000"}}
            """
        do { _ = try TargetsLoader.parse(bad1, file: "t.yaml"); Issue.record("no error") } catch {
            #expect(error.description.contains("t.yaml:3:"))
            #expect(error.description.contains("'figures[0].v1.value' must be a number, not 'fast'"))
        }
        let bad2 = """
            documents: [{id: "000"}]
            figures:
              - {id: x, unit: ms, v2: {bound: "< 5", source: "009"}}
            """
        do { _ = try TargetsLoader.parse(bad2, file: "t.yaml"); Issue.record("no error") } catch {
            #expect(error.description.contains("document '009' is not listed"))
        }
        let bad3 = "figures:\n  - {id: x, unit: furlongs}\n"
        do { _ = try TargetsLoader.parse(bad3, file: "t.yaml"); Issue.record("no error") } catch {
            #expect(error.description.hasPrefix("t.yaml:2:"))
            #expect(error.description.contains("unknown unit 'furlongs'"))
        }
    }

    @Test func boundsAndUnits() {
        #expect(TargetsLoader.parseBound("< 1000")! == (.lt, 1000))
        #expect(TargetsLoader.parseBound(">=10000")! == (.ge, 10000))
        #expect(TargetsLoader.parseBound("≤ 15.5")! == (.le, 15.5))
        #expect(TargetsLoader.parseBound("1000") == nil)
        #expect(Units.convert(1_500_000, from: "ns", to: "ms") == 1.5)
        #expect(Units.convert(19.5e9, from: "B", to: "GB") == 19.5)
        #expect(Units.convert(1, from: "ms", to: "GB") == nil)
        #expect(Units.format(12345.6) == "12,346")
        #expect(Units.format(5000) == "5,000")
        #expect(Units.format(0.5) == "0.5")
        #expect(Units.format(15.5) == "15.5")
    }
}
