// libFuzzer target for YAML configuration: the input is read as a simulator profile through
// K2Config's StrictMap (Yams underneath) and ProfileLoader, the strict reader every profile,
// workload and target file goes through. A thrown SimError (one line naming the place) is the
// expected outcome for garbage; any crash, trap or sanitizer report is a bug. Built and run by
// scripts/fuzz.sh (K2Sim without its NIO files; K2Bench's workload loader needs Kafka and NIO
// and is not compiled here).
import K2Sim

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProfileYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let profile = try ProfileLoader.parse(yaml: text, file: "fuzz.yaml")
        _ = profile.timeline
    } catch {
        _ = error.description
    }
    return 0
}
