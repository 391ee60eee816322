// libFuzzer target for the capture reader: every input is written to a file and read the way
// the tools read captures (header, index, every record, verify). Any crash, hang or sanitizer
// report is a bug; thrown CaptureErrors are the expected outcome for garbage.
// Built and run by scripts/fuzz.sh (swiftc -sanitize=fuzzer,address), not by `swift build`.

import K2Capture

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var fuzzPath = ""

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCaptureReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if fuzzPath.isEmpty { fuzzPath = "/dev/shm/k2-fuzz-\(getpid()).k2cap" }
    let fd = open(fuzzPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return 0 }
    var off = 0
    while off < size {
        let n = write(fd, data + off, size - off)
        if n <= 0 { break }
        off += n
    }
    close(fd)
    var opened = false
    do {
        let reader = try CaptureReader(path: fuzzPath)
        opened = true
        _ = try? reader.index()
        var n = 0
        var sum = 0
        while let r = try reader.next() {
            n += 1
            sum &+= r.payload.count &+ r.aux.count &+ Int(r.kind.rawValue)
            _ = PayloadFields.extract(r.payload)
            if n > 1_000_000 { break }
        }
        if sum == -1 { print(sum) }
    } catch {
        _ = "\(error)"
    }
    // verify and inspect open more readers (each allocates its block buffers, which is slow
    // under ASan): run them on every fourth input that has a valid header, chosen by its size
    // so that a reproducer behaves the same.
    if opened && size % 4 == 0 {
        _ = try? CaptureVerifier.verify(path: fuzzPath)
        _ = try? CaptureInspector.inspect(path: fuzzPath)
    }
    return 0
}
